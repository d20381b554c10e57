"""``station verify PACKAGE.zip [--key station.pem]``: check a signed evidence package.

Exit status: 0 valid, 1 invalid (the report says exactly what is wrong), 2 not a package / unreadable
(also for an unreadable ``--key`` file).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from storage.evidence import PackageUnreadableError, verify_package
from storage.signing import PublicKeyError, fingerprint, load_public_key_pem

EXIT_VALID = 0
EXIT_INVALID = 1
EXIT_UNREADABLE = 2


def register(subparsers: Any) -> None:
    verify = subparsers.add_parser(
        "verify",
        help="verify a signed evidence package",
        description="Check the signature, the station key and every file of an evidence package. "
        "Exit 0 valid, 1 invalid, 2 unreadable.",
    )
    verify.add_argument("package", type=Path, help="the evidence package (.zip)")
    verify.add_argument(
        "--key",
        type=Path,
        help="the station's public key (PEM), obtained separately: the package must be signed by it",
    )
    verify.set_defaults(func=_verify)


def _verify(args: argparse.Namespace) -> int:
    expected = None
    if args.key is not None:
        try:
            expected = load_public_key_pem(args.key.read_bytes())
        except (OSError, PublicKeyError) as exc:
            print(f"{args.key}: cannot use as the station key: {exc}", file=sys.stderr)
            return EXIT_UNREADABLE
        print(f"expected station key: {fingerprint(expected)}")
    try:
        report = verify_package(args.package, expected_key=expected)
    except PackageUnreadableError as exc:
        print(f"{exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    print(report.render())
    return EXIT_VALID if report.valid else EXIT_INVALID
