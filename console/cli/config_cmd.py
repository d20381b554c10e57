"""``station check-config PATH...`` and ``station config schema``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from config.error import EXIT_CONFIG, ConfigError
from config.loader import load_document
from config.schema import CameraConfig, StationConfig
from config.secret import load_secrets, redact_url
from config.settings import apply_overrides, overridden_fields, resolve_config_path, resolve_secrets_path
from config.verify import MachineCheck, verify_machine


def register(subparsers: Any) -> None:
    check = subparsers.add_parser(
        "check-config",
        help="validate config files and print a summary",
        description="Validate station config files (schema, cross-field rules and, unless --no-io, the data "
        "dirs and secrets on this machine). Exit 0 when all are valid, 78 when any is not.",
    )
    check.add_argument("paths", nargs="*", type=Path, help="config files (default: $STATION_CONFIG)")
    check.add_argument(
        "--no-io", action="store_true", help="skip machine checks (data dir writable); schema only"
    )
    check.set_defaults(func=_check)

    cfg = subparsers.add_parser("config", help="configuration tools")
    cfg_sub = cfg.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    schema = cfg_sub.add_parser("schema", help="print the JSON schema of the station config")
    schema.set_defaults(func=_schema)


def password_source(camera: CameraConfig, secrets: Collection[str]) -> str:
    """Where the camera's password comes from, in words (never the password)."""
    if camera.password_env:
        return f"env {camera.password_env}"
    if camera.id in secrets:
        return "secrets file"
    if urlsplit(camera.url).password is not None:
        return "url"
    return "none"


def summary(
    config: StationConfig,
    *,
    secrets: Collection[str] = (),
    overridden: Mapping[str, str] | None = None,
) -> str:
    """A short, password-free description of a valid config."""
    via = overridden or {}

    def _from_env(key: str) -> str:
        return f" (from {via[key]})" if key in via else ""

    db_url = config.storage.db_url or f"sqlite:///{config.storage.data_dir / 'station.db'} (default)"
    lines = [
        f"station: {config.station.name} ({config.station.timezone})",
        f"data dir: {config.storage.data_dir}{_from_env('data_dir')}",
        f"recordings: {config.storage.effective_recordings_dir}",
        f"database: {redact_url(db_url)}{_from_env('db_url')}",
        f"cameras: {len(config.cameras)} ({sum(c.enabled for c in config.cameras)} enabled)",
    ]
    for camera in config.cameras:
        where = camera.location.label()
        sub = f" sub={redact_url(camera.sub_url)}" if camera.sub_url else ""
        detect = (
            f" detect={'+'.join(k.value for k in camera.detection.kinds)}" if camera.detection.enabled else ""
        )
        lines.append(
            f"  {camera.id}: {camera.name}{' [' + where + ']' if where else ''} {redact_url(camera.url)}{sub}"
            f" password={password_source(camera, secrets)}{detect}"
            f"{'' if camera.enabled else ' (disabled)'}"
        )
    lines.append(f"console: http://{config.console.host}:{config.console.port}")
    return "\n".join(lines)


def _check_one(path: Path, *, no_io: bool) -> tuple[StationConfig, MachineCheck, Collection[str]]:
    document = load_document(path)
    config = apply_overrides(document.config, os.environ)
    if no_io:
        return config, MachineCheck(), ()
    check = verify_machine(document, config_path=path, environ=os.environ)
    if check.errors:
        raise ConfigError(check.errors)
    secrets_path = resolve_secrets_path(config, path)
    secrets = load_secrets(secrets_path) if secrets_path is not None else {}
    return config, check, set(secrets)


def _check(args: argparse.Namespace) -> int:
    paths: list[Path] = args.paths or [resolve_config_path(None, os.environ)]
    worst = 0
    for path in paths:
        try:
            config, check, secret_ids = _check_one(path, no_io=args.no_io)
        except ConfigError as exc:
            print(f"{path}: INVALID", file=sys.stderr)
            print(exc.report(), file=sys.stderr)
            worst = EXIT_CONFIG
            continue
        print(f"{path}: OK")
        print(summary(config, secrets=secret_ids, overridden=overridden_fields(os.environ)))
        for warning in check.warnings:
            print(f"warning: {warning}")
    return worst


def _schema(_args: argparse.Namespace) -> int:
    print(json.dumps(StationConfig.model_json_schema(), indent=2, ensure_ascii=False))
    return 0
