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

Stopping is checked, not assumed: ``pg_ctl stop`` must succeed and the postmaster (its pid and start time
read from ``postmaster.pid`` when it started) must have exited; one still running is sent SIGTERM, then
SIGKILL (with its process group: ``pg_ctl`` makes it a session leader), and only then is its directory
deleted. A failed ``pg_ctl stop`` is an error even when the kill worked. Every server started here is
registered in :data:`SESSION_SERVERS`; ``tests/conftest.py`` kills any that outlive the session and fails
the run.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest

PG_BIN = Path(os.environ.get("STATION_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
SUPERUSER = "postgres"
START_TIMEOUT_S = 60
EXIT_WAIT_S = 10.0  # after pg_ctl stop succeeded, or after each signal


@dataclass(frozen=True)
class Postmaster:
    """A postmaster process; its start time tells it apart from a later process that reuses the pid."""

    pid: int
    start_ticks: int

    @classmethod
    def from_data_dir(cls, data_dir: Path) -> Postmaster | None:
        """The postmaster named in ``data_dir/postmaster.pid``, if that file and that process exist."""
        try:
            pid = int((data_dir / "postmaster.pid").read_text().split()[0])
        except (FileNotFoundError, IndexError, ValueError):
            return None
        stat = _proc_stat(pid)
        return None if stat is None else cls(pid, int(stat[19]))


def _proc_stat(pid: int) -> list[str] | None:
    """Fields of ``/proc/PID/stat`` after the command name: [0] is the state, [19] the start time."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return text.rpartition(")")[2].split()


def is_alive(postmaster: Postmaster) -> bool:
    """Running: a zombie (exited, waiting for PID 1 to reap it) or a new process with its pid is not."""
    stat = _proc_stat(postmaster.pid)
    return stat is not None and int(stat[19]) == postmaster.start_ticks and stat[0] not in ("Z", "X")


def _wait_gone(postmaster: Postmaster, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while is_alive(postmaster):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def _send(postmaster: Postmaster, sig: signal.Signals) -> None:
    try:
        if not is_alive(postmaster):
            return
        if sig == signal.SIGKILL and os.getpgid(postmaster.pid) == postmaster.pid:
            os.killpg(postmaster.pid, sig)  # its backends too: nothing is left to shut them down
        else:
            os.kill(postmaster.pid, sig)  # SIGTERM: the postmaster shuts its children down itself
    except ProcessLookupError:
        pass


def end_postmaster(postmaster: Postmaster, *, wait_s: float = EXIT_WAIT_S) -> str:
    """Make sure the postmaster is gone: wait ``wait_s`` for it to exit, then SIGTERM, then SIGKILL.

    Returns what it took, for messages; raises RuntimeError if it survives SIGKILL.
    """
    if _wait_gone(postmaster, wait_s):
        return "had exited"
    for sig in (signal.SIGTERM, signal.SIGKILL):
        _send(postmaster, sig)
        if _wait_gone(postmaster, EXIT_WAIT_S):
            return f"was killed with {sig.name}"
    raise RuntimeError(f"postmaster {postmaster.pid} is still running after SIGKILL")


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
    postmaster: Postmaster
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


class PostmasterRegistry:
    """Servers started and not yet stopped: what the session-end check in ``tests/conftest.py`` looks at."""

    def __init__(self) -> None:
        self._servers: list[PostgresServer] = []

    def add(self, server: PostgresServer) -> None:
        self._servers.append(server)

    def discard(self, server: PostgresServer) -> None:
        self._servers = [s for s in self._servers if s is not server]

    def survivors(self) -> list[PostgresServer]:
        """Registered servers whose postmaster still runs."""
        return [s for s in self._servers if is_alive(s.postmaster)]

    def stop_survivors(self) -> list[PostgresServer]:
        """Kill every registered server still running and delete its directory; returns those it found."""
        leaked = self.survivors()
        for server in leaked:
            end_postmaster(server.postmaster, wait_s=0)
        for server in self._servers:
            shutil.rmtree(server.root, ignore_errors=True)  # never stopped by their owner: nobody else will
        self._servers = []
        return leaked


SESSION_SERVERS = PostmasterRegistry()


def _pg_ctl(root: Path, *args: str, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(root / "data"), *args]),
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def _pg_ctl_failure(root: Path, *args: str, timeout_s: float = 60) -> str | None:
    """Run pg_ctl: None when it succeeded, else what went wrong, with its output."""
    try:
        done = _pg_ctl(root, *args, timeout_s=timeout_s)
    except subprocess.TimeoutExpired:
        return f"pg_ctl {args[-1]} did not return within {timeout_s:g} s"
    if done.returncode == 0:
        return None
    output = " ".join((done.stderr or done.stdout).split())
    return f"pg_ctl {args[-1]} failed (exit {done.returncode}): {output}"


def _initdb(root: Path) -> None:
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


def _server_options(root: Path, port: int) -> str:
    return " ".join(
        [
            "-c listen_addresses=127.0.0.1",
            f"-p {port}",
            f"-k {root}",
            "-c fsync=off",
            "-c synchronous_commit=off",
            "-c full_page_writes=off",
            "-c max_connections=200",
            "-c wal_level=minimal",
            "-c max_wal_senders=0",
        ]
    )


def start_postgres(root: Path, *, registry: PostmasterRegistry = SESSION_SERVERS) -> PostgresServer:
    """initdb + pg_ctl start into ``root`` (which must exist), registered in ``registry``.

    Raises RuntimeError with the log on failure, having stopped whatever postmaster got started.
    """
    if os.geteuid() == 0:
        account = pwd.getpwnam("postgres")
        os.chown(root, account.pw_uid, account.pw_gid)
    root.chmod(0o700)
    _initdb(root)
    port = _free_port()
    log_path = root / "server.log"
    options = ["-w", "-t", str(START_TIMEOUT_S), "-l", str(log_path), "-o", _server_options(root, port)]
    failure = _pg_ctl_failure(root, *options, "start", timeout_s=START_TIMEOUT_S + 30)
    postmaster = Postmaster.from_data_dir(root / "data")
    if failure is None and postmaster is not None:
        server = PostgresServer(root=root, port=port, postmaster=postmaster)
        registry.add(server)
        return server
    if postmaster is not None:
        end_postmaster(postmaster, wait_s=0)
    log = log_path.read_text(errors="replace") if log_path.exists() else "(no log)"
    raise RuntimeError(f"{failure or 'pg_ctl start succeeded, but no postmaster runs'}\n{log}")


def stop_postgres(server: PostgresServer, *, registry: PostmasterRegistry = SESSION_SERVERS) -> None:
    """Stop the server and make sure its postmaster is gone (see the module docstring).

    Raises RuntimeError when ``pg_ctl stop`` failed, after the postmaster has been killed; the server stays
    in ``registry`` only if even SIGKILL did not end it.
    """
    failure = _pg_ctl_failure(server.root, "-m", "immediate", "stop")
    outcome = end_postmaster(server.postmaster, wait_s=EXIT_WAIT_S if failure is None else 0)
    registry.discard(server)
    if failure is not None:
        raise RuntimeError(f"{failure}; postmaster {server.postmaster.pid} {outcome}")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL 15 server for the whole session; skipped only where the binaries are absent."""
    if not (PG_BIN / "initdb").exists() or not (PG_BIN / "pg_ctl").exists():
        pytest.skip(f"PostgreSQL server binaries not found in {PG_BIN} (install postgresql-15)")
    root = Path(tempfile.mkdtemp(prefix="station-pg-"))
    try:
        server = start_postgres(root)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)  # start_postgres has stopped what it started
        raise
    try:
        yield server
    finally:
        try:
            stop_postgres(server)
        finally:
            if not is_alive(server.postmaster):  # never delete the directory of a running server
                shutil.rmtree(root, ignore_errors=True)
