"""The systemd unit keeps the properties the installer and operators rely on."""

from __future__ import annotations

import configparser

from tests.support.paths import REPO_ROOT

UNIT = REPO_ROOT / "systemd" / "station.service"


def unit_service() -> dict[str, str]:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(UNIT, encoding="utf-8")
    return dict(parser["Service"])


def test_unit_runs_hardened_as_the_station_user() -> None:
    service = unit_service()
    assert service["User"] == "station" and service["StateDirectory"] == "station"
    assert service["ExecStart"].endswith("station run")
    assert service["Restart"] == "on-failure"
    assert "78" in service["RestartPreventExitStatus"].split()
    for key, value in {
        "ProtectSystem": "strict",
        "NoNewPrivileges": "yes",
        "PrivateTmp": "yes",
        "ProtectHome": "yes",
    }.items():
        assert service[key] == value, key


def test_unit_exit_codes_match_the_cli() -> None:
    from config.error import EXIT_CONFIG
    from console.cli.run_cmd import EXIT_DATABASE_TOO_NEW

    codes = unit_service()["RestartPreventExitStatus"].split()
    assert str(EXIT_CONFIG) in codes and str(EXIT_DATABASE_TOO_NEW) in codes


def test_unit_caps_malloc_arenas() -> None:
    environment = [
        line.partition("=")[2].strip()
        for line in UNIT.read_text(encoding="utf-8").splitlines()
        if line.startswith("Environment=")
    ]
    assert "MALLOC_ARENA_MAX=2" in environment
    assert "STATION_CONFIG=/etc/station/station.yaml" in environment
