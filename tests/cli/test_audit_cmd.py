"""``station audit verify`` / ``station audit tail`` on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import delete, update

from console.cli.main import main
from storage.audit import append_audit
from storage.database import Database
from storage.model import Base
from tests.cli.test_db_cmd import write_config
from tests.support.station_process import run_station, station_command

LOG = Base.metadata.tables["audit_log"]


@pytest.fixture
def config(database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A config file whose database (via STATION_DB_URL) is the test's migrated database."""
    monkeypatch.setenv("STATION_DB_URL", database.url)
    return str(write_config(tmp_path))


def _fill(database: Database, count: int) -> None:
    for index in range(count):
        with database.session() as session:
            append_audit(
                session,
                action="export.create" if index % 2 else "recording.view",
                allowed=index != 2,
                username=f"user{index}",
                source="10.0.0.5",
                resource_type="camera",
                resource_id="gate-1",
                reason="complaint 42" if index == 1 else None,
                detail={"n": index},
                at=datetime(2024, 5, 1, 12, 0, index, tzinfo=UTC),
            )


def test_verify_intact_log_exits_0(
    database: Database, config: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _fill(database, 4)
    assert main(["audit", "verify", "--config", config]) == 0
    assert capsys.readouterr().out.strip() == "audit log intact: 4 rows, anchor at row 4"


def test_verify_empty_log(database: Database, config: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "verify", "--config", config]) == 0
    assert "audit log intact: 0 rows" in capsys.readouterr().out


def test_verify_names_changed_and_truncated_rows_and_exits_1(
    database: Database, config: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _fill(database, 6)
    with database.engine.begin() as connection:
        connection.execute(update(LOG).where(LOG.c.id == 2).values(username="someone-else"))
        connection.execute(delete(LOG).where(LOG.c.id == 6))
    assert main(["audit", "verify", "--config", config]) == 1
    out = capsys.readouterr().out
    assert "audit log BROKEN: 5 rows, anchor at row 6; 2 problems at rows 2, 6" in out
    assert "  audit row 2: content does not match its hash (row was changed)" in out
    assert "  audit row 6: row 6 is missing: the log was truncated" in out


def test_verify_never_migrated_database(
    blank_database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("STATION_DB_URL", blank_database_url)
    assert main(["audit", "verify", "--config", str(write_config(tmp_path))]) == 1
    assert "has no schema yet: run 'station db upgrade' first" in capsys.readouterr().err


def test_tail_prints_newest_rows_oldest_first(
    database: Database, config: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _fill(database, 5)
    assert main(["audit", "tail", "-n", "3", "--config", config]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ["3", "4", "5"]
    assert lines[0].split()[1:] == [
        "2024-05-01T12:00:02Z",
        "user2",
        "10.0.0.5",
        "recording.view",
        "camera:gate-1",
        "DENIED",
    ]
    assert main(["audit", "tail", "--json", "--config", config]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["id"] for r in records] == [1, 2, 3, 4, 5]
    assert records[1]["reason"] == "complaint 42" and records[1]["detail"] == {"n": 1}


def test_tail_of_empty_log_and_bad_count(config: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "tail", "--config", config]) == 0
    assert capsys.readouterr().out.strip() == "audit log is empty"
    with pytest.raises(SystemExit) as info:
        main(["audit", "tail", "-n", "0", "--config", config])
    assert info.value.code == 2


@pytest.mark.timeout(120)
@pytest.mark.parametrize("database", ["sqlite"], indirect=True)  # the command's start-up is the slow part
def test_installed_command_upgrades_appends_and_verifies(database: Database, tmp_path: Path) -> None:
    station_command()  # skips when the command is not installed
    _fill(database, 3)
    env = {"STATION_CONFIG": str(write_config(tmp_path)), "STATION_DB_URL": database.url}

    def _run(*args: str) -> subprocess.CompletedProcess[str]:
        return run_station(*args, env=env)

    upgrade = _run("db", "upgrade")
    assert upgrade.returncode == 0 and "already up to date" in upgrade.stdout, upgrade.stderr
    verify = _run("audit", "verify")
    assert (verify.returncode, verify.stdout.strip()) == (0, "audit log intact: 3 rows, anchor at row 3")
    with database.engine.begin() as connection:
        connection.execute(delete(LOG).where(LOG.c.id == 2))
    broken = _run("audit", "verify")
    assert broken.returncode == 1
    assert "audit row 3: row 2 is missing (deleted?)" in broken.stdout
