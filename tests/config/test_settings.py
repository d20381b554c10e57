"""Settings: the config file plus STATION_CONFIG / STATION_DATA_DIR / STATION_DB_URL, and the secrets file."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from config.error import ConfigError
from config.secret import camera_url
from config.settings import DEFAULT_CONFIG_PATH, load_settings, resolve_config_path

CONFIG = """\
station: {{name: Test}}
storage: {{data_dir: {data_dir}}}
{extra}
cameras:
  - id: gate-1
    name: Gate
    url: rtsp://admin@10.0.0.1/main
  - id: yard-1
    name: Yard
    url: rtsp://10.0.0.2/main
    username: viewer
    password_env: YARD_PW
"""


def _write(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "station.yaml"
    path.write_text(CONFIG.format(data_dir=tmp_path / "data", extra=extra))
    return path


def test_defaults_without_overrides(tmp_path: Path) -> None:
    settings = load_settings(_write(tmp_path), environ={})
    assert settings.data_dir == tmp_path / "data"
    assert settings.db_url == f"sqlite:///{tmp_path / 'data' / 'station.db'}"
    assert settings.recordings_dir == tmp_path / "data" / "recordings"


def test_station_config_names_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path)
    assert load_settings(environ={"STATION_CONFIG": str(path)}).config_path == path
    assert resolve_config_path(None, {}) == DEFAULT_CONFIG_PATH
    assert resolve_config_path(tmp_path / "x.yaml", {"STATION_CONFIG": str(path)}) == tmp_path / "x.yaml"


def test_station_data_dir_overrides(tmp_path: Path) -> None:
    settings = load_settings(_write(tmp_path), environ={"STATION_DATA_DIR": str(tmp_path / "elsewhere")})
    assert settings.data_dir == tmp_path / "elsewhere"
    assert settings.db_url == f"sqlite:///{tmp_path / 'elsewhere' / 'station.db'}"


def test_station_db_url_overrides(tmp_path: Path) -> None:
    url = "postgresql+psycopg://station@127.0.0.1:5432/station"
    settings = load_settings(_write(tmp_path, "  "), environ={"STATION_DB_URL": url})
    assert settings.db_url == url


def test_bad_override_is_a_config_error_naming_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(_write(tmp_path), environ={"STATION_DB_URL": "mysql://root:hunter2@db/x"})
    assert str(info.value.problems[0]).startswith("environment: STATION_DB_URL: unsupported database URL")
    assert "hunter2" not in info.value.report()


def test_secrets_file_is_relative_to_the_config_and_feeds_camera_url(tmp_path: Path) -> None:
    (tmp_path / "secrets.yaml").write_text("gate-1: 's3cr:t@'\n")
    settings = load_settings(_write(tmp_path, "secrets_file: secrets.yaml"), environ={})
    assert settings.secrets == {"gate-1": "s3cr:t@"}
    gate = settings.config.camera("gate-1")
    url = camera_url(gate, gate.url, secrets=settings.secrets, environ={})
    assert url == "rtsp://admin:s3cr%3At%40@10.0.0.1/main"
    yard = settings.config.camera("yard-1")
    assert camera_url(yard, yard.url, environ={"YARD_PW": "pw"}) == "rtsp://viewer:pw@10.0.0.2/main"
    with pytest.raises(ConfigError, match="YARD_PW is not set"):
        camera_url(yard, yard.url, environ={})


def test_missing_secrets_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="secrets file not found"):
        load_settings(_write(tmp_path, "secrets_file: nope.yaml"), environ={})


def _laughs(width: int, levels: int) -> str:
    lines = ["l0: &l0 [" + ", ".join(["lol"] * width) + "]"]
    lines += [f"l{n}: &l{n} [" + ", ".join([f"*l{n - 1}"] * width) + "]" for n in range(1, levels)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("content", "line", "message"),
    [
        pytest.param("gate-1: " + "[" * 10_000 + "]" * 10_000 + "\n", 1, "nested deeper than 64", id="deep"),
        pytest.param(_laughs(10, 8), 4, "aliases expand to more than 10000 nodes", id="laughs"),
        pytest.param("gate-1: S3cret-pw\nyard-1: 'S3cret-pw\x00'\n", 2, "control character NUL", id="nul"),
        pytest.param(
            "gate-1: S3cret-pw\nyard-1: 'S3cret-\xe9'\n".encode("latin-1"), 2, "not UTF-8", id="latin-1"
        ),
    ],
)
def test_hostile_secrets_file_is_a_config_error(
    tmp_path: Path, content: str | bytes, line: int, message: str
) -> None:
    secrets = tmp_path / "secrets.yaml"
    if isinstance(content, bytes):
        secrets.write_bytes(content)
    else:
        secrets.write_text(content)
    started = time.monotonic()
    with pytest.raises(ConfigError) as info:
        load_settings(_write(tmp_path, "secrets_file: secrets.yaml"), environ={})
    assert time.monotonic() - started < 1.0
    [problem] = info.value.problems
    assert (problem.file, problem.line) == (str(secrets), line)
    assert message in problem.message
    assert "S3cret" not in info.value.report()
