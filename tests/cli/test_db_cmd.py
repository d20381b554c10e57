"""``station db upgrade`` / ``station db current`` on SQLite and PostgreSQL, and the shared CLI helpers."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from config.error import ConfigError
from console.cli.common import (
    DatabaseNotReadyError,
    add_config_argument,
    open_database,
)
from console.cli.main import main
from storage.database import Database
from storage.migration import current_revision, head_revision


def write_config(tmp_path: Path, data_dir: Path | None = None) -> Path:
    path = tmp_path / "station.yaml"
    path.write_text(
        f"station: {{name: Test}}\nstorage: {{data_dir: {data_dir or tmp_path / 'data'}}}\n"
        "cameras:\n  - {id: gate-1, name: Gate, url: 'rtsp://10.0.0.1/a'}\n"
    )
    return path


def test_upgrade_creates_the_default_sqlite_database_in_a_new_data_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "new" / "data"
    config = write_config(tmp_path, data_dir)
    assert main(["db", "upgrade", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert f"database: sqlite:///{data_dir / 'station.db'}" in out
    assert "before: none (empty database)" in out
    assert f"after: {head_revision()}" in out
    assert (data_dir / "station.db").is_file()
    assert main(["db", "current", "-c", str(config)]) == 0
    assert "up to date" in capsys.readouterr().out


def test_upgrade_then_current_on_both_backends(
    blank_database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("STATION_DB_URL", blank_database_url)
    monkeypatch.setenv("STATION_CONFIG", str(write_config(tmp_path)))
    assert main(["db", "current"]) == 0
    out = capsys.readouterr().out
    assert "current: none (empty database)" in out
    assert "upgrade needed: run 'station db upgrade'" in out
    assert main(["db", "upgrade"]) == 0
    assert f"upgraded none (empty database) -> {head_revision()}" in capsys.readouterr().out
    assert main(["db", "upgrade"]) == 0
    out = capsys.readouterr().out
    assert f"before: {head_revision()}" in out and "already up to date" in out
    db = Database(blank_database_url)
    try:
        assert current_revision(db.engine) == head_revision()
        assert "audit_log" in inspect(db.engine).get_table_names()
    finally:
        db.dispose()


def test_newer_database_is_refused_with_exit_1(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with database.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0999'"))
    monkeypatch.setenv("STATION_DB_URL", database.url)
    config = str(write_config(tmp_path))
    for command in ("upgrade", "current"):
        assert main(["db", command, "--config", config]) == 1
        err = capsys.readouterr().err
        assert "error: database schema revision 0999 is newer than this Station Console" in err
    assert current_revision(database.engine) == "0999"


@pytest.mark.timeout(60)
def test_unreachable_postgres_exits_69_without_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STATION_DB_URL", "postgresql+psycopg://station:hunter2@127.0.0.1:1/station")
    assert main(["db", "current", "--config", str(write_config(tmp_path))]) == 69
    err = capsys.readouterr().err
    assert err.startswith("error: cannot use the database:")
    assert "hunter2" not in err


def test_bad_config_exits_78(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "upgrade", "--config", str(tmp_path / "missing.yaml")]) == 78
    assert "file not found" in capsys.readouterr().err


def _args(config: Path) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_config_argument(parser)
    return parser.parse_args(["--config", str(config)])


def test_open_database_migrates_and_returns_settings(
    blank_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STATION_DB_URL", blank_database_url)
    config = write_config(tmp_path)
    with pytest.raises(DatabaseNotReadyError, match="run 'station db upgrade' first"):
        open_database(_args(config), migrate=False)
    settings, database = open_database(_args(config))
    try:
        assert settings.config_path == config
        assert settings.db_url == blank_database_url
        assert current_revision(database.engine) == head_revision()
        assert (tmp_path / "data").is_dir()
    finally:
        database.dispose()


def test_open_database_refuses_unwritable_data_dir(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("x")
    with pytest.raises(ConfigError, match="cannot create directory"):
        open_database(_args(write_config(tmp_path, tmp_path / "blocker" / "data")))
