"""``station verify PACKAGE.zip [--key PEM]... [--config PATH]``: check a signed evidence package.

The package is VALID only when it is intact and signed by a trusted key: the ``--key`` files when given,
otherwise this station's own key (``DATA_DIR/keys/station_ed25519.pem`` of the station config: ``--config``,
else ``$STATION_CONFIG``, else ``/etc/station/station.yaml``). A package that is intact but signed by any
other key (anyone can make one with a key of their own) is SIGNER UNKNOWN, never VALID.

The check runs in the worker process the console's verify upload uses (:mod:`console.verify_worker`), under
the same limits: a time limit (15 s plus the file's size at 32 MiB/s, or ``--time-limit``), CPU time and
address space, so a hostile package cannot hang or exhaust the machine it is checked on.

Exit status: 0 valid, 1 invalid (the report says exactly what is wrong), 2 not a package / unreadable (also
for an unreadable ``--key`` file), 3 signer unknown (intact and consistently signed, by a key that is not
trusted), 4 not checked to the end (the time limit stopped it, or the worker ended without a report),
78 a ``--config`` that cannot be loaded. Text from the package is printed with its control characters
escaped.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from config.error import ConfigError
from console.cli.common import add_config_argument, load_cli_settings
from console.verify_worker import VerifyWorker, VerifyWorkerError
from storage.control_char import escape_control_chars
from storage.evidence.error import PackageUnreadableError
from storage.evidence.report import Verdict
from storage.signing import PublicKeyError, fingerprint, key_path, load_public_key_pem, load_station_key

EXIT_VALID = 0
EXIT_INVALID = 1
EXIT_UNREADABLE = 2
EXIT_SIGNER_UNKNOWN = 3
EXIT_NOT_CHECKED = 4
EXIT_CODES = {
    Verdict.VALID: EXIT_VALID,
    Verdict.INVALID: EXIT_INVALID,
    Verdict.SIGNER_UNKNOWN: EXIT_SIGNER_UNKNOWN,
}


class KeyFileUnusableError(ValueError):
    """A ``--key`` file that cannot be read as an Ed25519 public key."""


@dataclass(frozen=True)
class TrustedKey:
    key: Ed25519PublicKey
    origin: str  # where it came from, for the report


def register(subparsers: Any) -> None:
    verify = subparsers.add_parser(
        "verify",
        help="verify a signed evidence package",
        description="Check the signature, the signer and every file of an evidence package. The package is "
        "valid only when signed by a trusted key: the --key files, else this station's own key (from the "
        "station config). Exit 0 valid, 1 invalid, 2 unreadable, 3 signer unknown (intact, but signed by a "
        "key that is not trusted).",
    )
    verify.add_argument("package", type=Path, help="the evidence package (.zip)")
    verify.add_argument(
        "--key",
        type=Path,
        action="append",
        metavar="PEM",
        help="a station's public key (PEM) obtained separately, trusted instead of this station's own key; "
        "repeat it to trust several",
    )
    verify.add_argument(
        "--time-limit",
        type=_positive_seconds,
        metavar="SECONDS",
        help="stop the check after this many seconds (exit 4); default: 15 s plus 1 s per 32 MiB of package",
    )
    add_config_argument(verify)
    verify.set_defaults(func=_verify)


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value <= 86_400:
        raise argparse.ArgumentTypeError(f"not between 0 and 86400 seconds: {text}")
    return value


def _verify(args: argparse.Namespace) -> int:
    try:
        trusted = _key_files(args.key) if args.key else _station_keys(args)
    except KeyFileUnusableError as exc:
        print(escape_control_chars(str(exc)), file=sys.stderr)
        return EXIT_UNREADABLE
    for entry in trusted:
        print(escape_control_chars(f"trusted key: {fingerprint(entry.key)} ({entry.origin})"))
    worker = VerifyWorker(max_concurrent=1, fixed_time_limit_s=args.time_limit)
    try:
        with args.package.open("rb") as source:
            report = worker.verify(args.package, source, trusted_keys=[entry.key for entry in trusted])
    except PackageUnreadableError as exc:
        print(escape_control_chars(str(exc)), file=sys.stderr)
        return EXIT_UNREADABLE
    except VerifyWorkerError as exc:  # before OSError: the time limit's error is a TimeoutError
        print(escape_control_chars(f"{args.package}: not checked to the end: {exc}"), file=sys.stderr)
        return EXIT_NOT_CHECKED
    except OSError as exc:  # opening it: missing, a directory, no permission
        print(escape_control_chars(f"{args.package}: cannot be read: {exc}"), file=sys.stderr)
        return EXIT_UNREADABLE
    print(report.render())
    return EXIT_CODES[report.verdict]


def _key_files(paths: list[Path]) -> list[TrustedKey]:
    keys = []
    for path in paths:
        try:
            keys.append(TrustedKey(load_public_key_pem(path.read_bytes()), str(path)))
        except (OSError, PublicKeyError) as exc:
            raise KeyFileUnusableError(f"{path}: cannot use as the station key: {exc}") from exc
    return keys


def _station_keys(args: argparse.Namespace) -> list[TrustedKey]:
    """This station's public key, when a station config names a data dir holding a usable key.

    A ``--config`` that cannot be loaded is an error (exit 78); the default config may be missing (the
    package is then checked against no key, and says so). The key file is only read, never made.
    """
    try:
        settings = load_cli_settings(args)
    except ConfigError as exc:
        if args.config is not None:
            raise
        _note(f"no station config to take this station's key from: {exc.problems[0]}; pass --key or --config")
        return []
    path = key_path(settings.data_dir)
    try:
        station_key = load_station_key(path)
    except FileNotFoundError:
        _note(f"this station has no signing key yet ({path}); pass --key")
        return []
    except OSError as exc:  # storage.signing.KeyFileError (unsafe or not a key) is a PermissionError
        _note(f"cannot use this station's key: {exc}; run as the station's user or pass --key")
        return []
    return [TrustedKey(station_key.public_key, f"this station's key {path}")]


def _note(message: str) -> None:
    print(f"station verify: {escape_control_chars(message)}", file=sys.stderr)
