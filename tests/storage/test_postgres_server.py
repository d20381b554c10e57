"""The throwaway PostgreSQL server is stopped for sure, and a server that outlives the session fails it.

Liveness is read from ``/proc`` here, independently of the support code under test: a zombie (exited, not yet
reaped by its parent, which is PID 1 once ``pg_ctl`` has exited) counts as gone.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.support.paths import REPO_ROOT
from tests.support.postgres import PG_BIN, PostmasterRegistry, start_postgres, stop_postgres

pytestmark = pytest.mark.postgres


def _needs_binaries() -> None:
    if not (PG_BIN / "initdb").exists():
        pytest.skip(f"PostgreSQL server binaries not found in {PG_BIN} (install postgresql-15)")


def _postmaster_pid(root: Path) -> int:
    return int((root / "data" / "postmaster.pid").read_text().split()[0])


def _running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def _kill_if_running(pid: int) -> None:
    if _running(pid):
        os.kill(pid, signal.SIGKILL)


@pytest.fixture
def pg_root() -> Iterator[Path]:
    """A data root the postgres OS user can reach (pytest's tmp_path is private to root)."""
    _needs_binaries()
    root = Path(tempfile.mkdtemp(prefix="station-pg-test-"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


def test_stop_returns_only_when_the_postmaster_is_gone(pg_root: Path) -> None:
    server = start_postgres(pg_root)
    pid = _postmaster_pid(pg_root)
    try:
        server.execute("SELECT 1")
        stop_postgres(server)
        assert not _running(pid)
    finally:
        _kill_if_running(pid)


def test_postmaster_is_killed_when_pg_ctl_stop_fails(pg_root: Path) -> None:
    server = start_postgres(pg_root)
    pid = _postmaster_pid(pg_root)
    try:
        (pg_root / "data" / "postmaster.pid").unlink()  # pg_ctl stop now fails: "PID file does not exist"
        with pytest.raises(
            RuntimeError, match=rf"pg_ctl stop failed \(exit 1\).*postmaster {pid} was killed"
        ):
            stop_postgres(server)
        assert not _running(pid)
    finally:
        _kill_if_running(pid)


def test_a_postmaster_that_ignores_sigterm_is_killed_with_its_backends(
    pg_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tests.support.postgres.EXIT_WAIT_S", 1.0)
    server = start_postgres(pg_root)
    pid = _postmaster_pid(pg_root)
    try:
        with psycopg.connect(server.dsn(), autocommit=True) as conn:  # SIGTERM waits for this client
            row = conn.execute("SELECT pg_backend_pid()").fetchone()
            assert row is not None
            backend_pid = int(row[0])
            (pg_root / "data" / "postmaster.pid").unlink()
            with pytest.raises(RuntimeError, match=rf"postmaster {pid} was killed with SIGKILL"):
                stop_postgres(server)
        assert not _running(pid)
        assert not _running(backend_pid)
    finally:
        _kill_if_running(pid)


def test_a_server_left_running_is_caught_killed_and_deleted(pg_root: Path) -> None:
    registry = PostmasterRegistry()  # not the session's own, which holds the session's server
    server = start_postgres(pg_root, registry=registry)
    pid = _postmaster_pid(pg_root)
    try:
        assert server.postmaster.pid == pid
        assert registry.survivors() == [server]
        assert registry.stop_survivors() == [server]
        assert not _running(pid)
        assert not pg_root.exists()
        assert registry.stop_survivors() == []
    finally:
        _kill_if_running(pid)


LEAKY_TEST = """\
import tempfile
from pathlib import Path

from tests.support.postgres import start_postgres


def test_leaves_a_server_running() -> None:
    root = Path(tempfile.mkdtemp(prefix="station-pg-leak-"))
    start_postgres(root)
    Path({pid_file!r}).write_text((root / "data" / "postmaster.pid").read_text().split()[0])
"""


@pytest.mark.timeout(120)
def test_a_session_that_leaks_a_server_fails(tmp_path: Path) -> None:
    _needs_binaries()
    pid_file = tmp_path / "postmaster.pid"
    (tmp_path / "test_leak.py").write_text(LEAKY_TEST.format(pid_file=str(pid_file)))
    result = subprocess.run(
        # the leaky test runs under this suite's tests/conftest.py, where the session-end check lives
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "tests.conftest",
            "-p",
            "no:cacheprovider",
            "-o",
            "asyncio_default_fixture_loop_scope=function",
            "--rootdir",
            ".",
        ],
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    output = result.stdout + result.stderr
    pid = int(pid_file.read_text())
    try:
        assert "1 passed" in output, output
        assert result.returncode == pytest.ExitCode.TESTS_FAILED, output
        assert f"PostgreSQL server(s) outlived the test session and were killed: postmaster {pid}" in output
        assert not _running(pid)
    finally:
        _kill_if_running(pid)
