"""``station check-config PATH...`` and ``station config schema``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from config.error import EXIT_CONFIG, ConfigError
from config.loader import load_config
from config.schema import StationConfig
from config.secret import redact_url
from config.settings import apply_overrides, resolve_config_path
from config.verify import verify_writable_dir


def register(subparsers: Any) -> None:
    check = subparsers.add_parser("check-config", help="validate config files and print a summary")
    check.add_argument("paths", nargs="*", type=Path, help="config files (default: $STATION_CONFIG)")
    check.add_argument(
        "--no-io", action="store_true", help="skip machine checks (data dir writable); schema only"
    )
    check.set_defaults(func=_check)

    cfg = subparsers.add_parser("config", help="configuration tools")
    cfg_sub = cfg.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    schema = cfg_sub.add_parser("schema", help="print the JSON schema of the station config")
    schema.set_defaults(func=_schema)


def summary(config: StationConfig) -> str:
    lines = [
        f"station: {config.station.name} ({config.station.timezone})",
        f"data dir: {config.storage.data_dir}",
        f"cameras: {len(config.cameras)} ({sum(c.enabled for c in config.cameras)} enabled)",
    ]
    for camera in config.cameras:
        where = camera.location.label()
        sub = " +sub" if camera.sub_url else ""
        lines.append(
            f"  {camera.id}: {camera.name}{' [' + where + ']' if where else ''} {redact_url(camera.url)}{sub}"
            f"{'' if camera.enabled else ' (disabled)'}"
        )
    lines.append(f"console: http://{config.console.host}:{config.console.port}")
    return "\n".join(lines)


def _check(args: argparse.Namespace) -> int:
    paths: list[Path] = args.paths or [resolve_config_path(None, os.environ)]
    worst = 0
    for path in paths:
        try:
            config = apply_overrides(load_config(path), os.environ)
            if not args.no_io:
                problems = verify_writable_dir(
                    config.storage.data_dir, label="storage.data_dir", source=path.name
                )
                if problems:
                    raise ConfigError(problems)
        except ConfigError as exc:
            print(f"{path}: INVALID", file=sys.stderr)
            print(exc.report(), file=sys.stderr)
            worst = EXIT_CONFIG
            continue
        print(f"{path}: OK")
        print(summary(config))
    return worst


def _schema(_args: argparse.Namespace) -> int:
    print(json.dumps(StationConfig.model_json_schema(), indent=2, ensure_ascii=False))
    return 0
