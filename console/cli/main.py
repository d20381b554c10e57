"""The ``station`` command. Each group of subcommands lives in its own module with a ``register`` function."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from importlib import import_module

from config.error import EXIT_CONFIG, ConfigError

# Modules under console.cli that define ``register(subparsers)``; each parser sets ``func``.
COMMAND_MODULES = (
    "config_cmd",
    "verify_cmd",
    "db_cmd",
    "audit_cmd",
    "user_cmd",
    "run_cmd",
    "analyze_cmd",
    "model_cmd",
)

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="station", description="Station Console: video surveillance for a police point."
    )
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        import_module(f"console.cli.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    handler: Handler = args.func
    try:
        return handler(args)
    except ConfigError as exc:
        print(exc.report(), file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
