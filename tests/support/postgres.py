"""A throwaway PostgreSQL 15 server for the test session.

Fixture
-------
``postgres_server`` (session scope) -> :class:`PostgresServer`

    def test_something(postgres_server: PostgresServer) -> None:
        url = postgres_server.create_database()  # fresh, empty database; SQLAlchemy URL
        ...

The server is started by the fixture itself: ``initdb`` and ``pg_ctl`` from ``/usr/lib/postgresql/15/bin``
(override with ``STATION_TEST_PG_BIN``), run as the ``postgres`` OS user when the tests run as root
(``initdb`` refuses root). Data directory and unix socket live in one temp dir; the server listens on
127.0.0.1 on a free port with durability switched off (tests do not survive crashes anyway), and is stopped
and deleted at the end of the session. The fixture skips only when no PostgreSQL binaries exist; a server
that exists but fails to start is an error, with its log in the message.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest

PG_BIN = Path(os.environ.get("STATION_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
SUPERUSER = "postgres"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_postgres(command: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: drop to the postgres OS user when we are root."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


@dataclass
class PostgresServer:
    """A running server; ``create_database`` hands out fresh databases."""

    root: Path
    port: int
    host: str = "127.0.0.1"
    _counter: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def url(self, dbname: str = "postgres") -> str:
        """SQLAlchemy URL (psycopg 3 driver) of one database on this server."""
        return f"postgresql+psycopg://{SUPERUSER}@{self.host}:{self.port}/{dbname}"

    def dsn(self, dbname: str = "postgres") -> str:
        """libpq connection string, for psycopg directly."""
        return f"host={self.host} port={self.port} user={SUPERUSER} dbname={dbname}"

    def execute(self, sql: str) -> None:
        """Run one statement outside a transaction (CREATE/DROP DATABASE) on the maintenance database."""
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(sql.encode())

    def create_database(self, *, template: str | None = None, prefix: str = "t") -> str:
        """Create an empty (or template-copied) database with a unique name; returns its URL."""
        name = f"{prefix}_{os.getpid()}_{next(self._counter)}"
        clause = f" TEMPLATE {template}" if template else ""
        self.execute(f"CREATE DATABASE {name}{clause}")
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    @property
    def log_path(self) -> Path:
        return self.root / "server.log"


def _pg_ctl(server: PostgresServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(server.root / "data"), *args]),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def start_postgres(root: Path) -> PostgresServer:
    """initdb + pg_ctl start into ``root`` (which must exist); raises RuntimeError with the log on failure."""
    if os.geteuid() == 0:
        account = pwd.getpwnam("postgres")
        os.chown(root, account.pw_uid, account.pw_gid)
    root.chmod(0o700)
    initdb = subprocess.run(
        _as_postgres(
            [
                str(PG_BIN / "initdb"),
                "-D",
                str(root / "data"),
                "-A",
                "trust",
                "-U",
                SUPERUSER,
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ]
        ),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if initdb.returncode != 0:
        raise RuntimeError(f"initdb failed ({initdb.returncode}):\n{initdb.stdout}\n{initdb.stderr}")
    server = PostgresServer(root=root, port=_free_port())
    options = " ".join(
        [
            "-c listen_addresses=127.0.0.1",
            f"-p {server.port}",
            f"-k {root}",
            "-c fsync=off",
            "-c synchronous_commit=off",
            "-c full_page_writes=off",
            "-c max_connections=200",
            "-c wal_level=minimal",
            "-c max_wal_senders=0",
        ]
    )
    started = _pg_ctl(server, "-w", "-t", "60", "-l", str(server.log_path), "-o", options, "start")
    if started.returncode != 0:
        log = server.log_path.read_text(errors="replace") if server.log_path.exists() else "(no log)"
        raise RuntimeError(f"pg_ctl start failed ({started.returncode}): {started.stderr}\n{log}")
    return server


def stop_postgres(server: PostgresServer) -> None:
    _pg_ctl(server, "-m", "immediate", "stop")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL 15 server for the whole session; skipped only where the binaries are absent."""
    if not (PG_BIN / "initdb").exists() or not (PG_BIN / "pg_ctl").exists():
        pytest.skip(f"PostgreSQL server binaries not found in {PG_BIN} (install postgresql-15)")
    root = Path(tempfile.mkdtemp(prefix="station-pg-"))
    try:
        server = start_postgres(root)
        try:
            yield server
        finally:
            stop_postgres(server)
    finally:
        shutil.rmtree(root, ignore_errors=True)
