"""Engine and session factory: SQLite (WAL, foreign keys, busy timeout) by default, PostgreSQL by URL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 10_000


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


class DatabaseUrlError(ValueError):
    """A database URL this station cannot use."""


def parse_database_url(url: str) -> URL:
    """Parse and check a URL: SQLite, or PostgreSQL through psycopg 3 (``postgresql://`` means psycopg)."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DatabaseUrlError(
            "not a database URL: expected sqlite:///PATH or postgresql+psycopg://USER@HOST/DB"
        ) from exc
    if parsed.drivername == "postgres":  # the libpq spelling
        parsed = parsed.set(drivername="postgresql")
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        elif parsed.drivername != "postgresql+psycopg":
            raise DatabaseUrlError(
                f"unsupported PostgreSQL driver {parsed.drivername!r}: use postgresql+psycopg://"
            )
    elif backend != "sqlite":
        raise DatabaseUrlError(f"unsupported database {backend!r}: use sqlite:/// or postgresql+psycopg://")
    return parsed


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite files get their pragmas on every connection."""
    parsed = parse_database_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(
            parsed,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            pool_pre_ping=True,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(parsed, pool_pre_ping=True, pool_size=10, max_overflow=20)


class Database:
    """One engine and its session factory; the console builds exactly one per process."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._write_lock = threading.Lock()

    @property
    def write_lock(self) -> threading.Lock | None:
        """Taken by background writers (recorders' index writes) around their transaction; None when the
        backend writes concurrently (PostgreSQL).

        SQLite has one writer at a time, and a waiting connection polls with growing sleeps: 64 recorders
        cutting segments at the same moment waited out the 10 s busy timeout ("database is locked").
        Recorders take this lock without waiting and keep their index writes queued when it is busy, so
        the video path never waits for the database.
        """
        return self._write_lock if self.backend == "sqlite" else None

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @property
    def safe_url(self) -> str:
        """The URL with any password replaced by ``***``: safe to log and print."""
        return self.engine.url.render_as_string(hide_password=True)

    def __repr__(self) -> str:
        return f"Database({self.safe_url!r})"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error."""
        with self.sessions() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def dispose(self) -> None:
        self.engine.dispose()
