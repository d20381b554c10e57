"""Engine set-up: SQLite pragmas in force on every connection, URL checks, sessions commit or roll back."""

from __future__ import annotations

import re
import threading
from contextlib import nullcontext
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import SQLAlchemyError

from storage.database import SQLITE_BUSY_TIMEOUT_MS, Database, DatabaseUrlError, parse_database_url
from storage.model import Camera


def test_sqlite_pragmas_are_in_force_on_every_connection(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'station.db'}")
    try:
        with db.engine.connect() as first, db.engine.connect() as second:
            for connection in (first, second):
                assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
                assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
                assert connection.execute(text("PRAGMA busy_timeout")).scalar() == SQLITE_BUSY_TIMEOUT_MS
                assert connection.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
        assert (tmp_path / "station.db").exists()
    finally:
        db.dispose()


def test_session_commits_on_success_and_rolls_back_on_error(database: Database) -> None:
    with database.session() as session:
        session.add(Camera(id="gate-1", name="Gate"))
    with pytest.raises(RuntimeError), database.session() as session:
        session.add(Camera(id="gate-2", name="Gate 2"))
        session.flush()
        raise RuntimeError("boom")
    with database.session() as session:
        assert session.scalars(select(Camera.id)).all() == ["gate-1"]


def test_write_lock_queues_background_writers_on_sqlite_only(database: Database) -> None:
    first, second = database.write_lock, database.write_lock
    if database.backend == "sqlite":
        assert first is not None and first is second  # one lock for the whole database
        with first:
            assert not second.acquire(blocking=False)
    else:  # PostgreSQL takes concurrent writers itself
        assert first is None


def test_many_threads_writing_at_once_through_the_write_lock_never_see_a_locked_database(
    database: Database,
) -> None:
    errors: list[SQLAlchemyError] = []

    def write(n: int) -> None:
        try:
            for round_ in range(5):
                with database.write_lock or nullcontext(), database.session() as session:
                    session.add(Camera(id=f"cam-{n}-{round_}", name="x"))
                    session.flush()
                    session.scalars(select(Camera.id)).all()
        except SQLAlchemyError as exc:  # "database is locked" would land here
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    with database.session() as session:
        assert len(session.scalars(select(Camera.id)).all()) == 80


def test_backend_names_the_dialect(database: Database, request: pytest.FixtureRequest) -> None:
    assert database.backend == request.node.callspec.params["database"]


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("sqlite:////var/lib/station/station.db", "sqlite"),
        ("postgresql://station:pw@db/station", "postgresql+psycopg"),
        ("postgres://station@db/station", "postgresql+psycopg"),
        ("postgresql+psycopg://station@db/station", "postgresql+psycopg"),
    ],
)
def test_parse_database_url_accepts_supported_urls(url: str, driver: str) -> None:
    assert parse_database_url(url).drivername == driver


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("mysql://root:hunter2@db/station", "unsupported database 'mysql'"),
        ("postgresql+psycopg2://u:hunter2@db/x", "use postgresql+psycopg://"),
        ("not a url hunter2", "not a database URL"),
    ],
)
def test_parse_database_url_refuses_others_without_leaking_password(url: str, fragment: str) -> None:
    with pytest.raises(DatabaseUrlError, match=re.escape(fragment)) as info:
        parse_database_url(url)
    assert "hunter2" not in str(info.value)


def test_password_is_hidden_in_safe_url() -> None:
    db = Database("postgresql+psycopg://station:s3cret@127.0.0.1:1/station")
    try:
        assert "s3cret" not in db.safe_url
        assert "s3cret" not in repr(db)
    finally:
        db.dispose()
