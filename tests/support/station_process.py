"""Run the installed ``station`` command as a real process on a free loopback port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.paths import REPO_ROOT

STATION = REPO_ROOT / ".venv" / "bin" / "station"


def station_command() -> Path:
    """The installed ``station`` command, or skip the test with the reason."""
    if not STATION.exists():
        pytest.skip(f"{STATION} is not installed (pip install -e . into .venv)")
    return STATION


def station_environ(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without any STATION_* leaking in, plus ``extra``."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("STATION_")}
    return {**clean, **(extra or {})}


def run_station(
    *args: str, env: dict[str, str] | None = None, stdin: str | None = None, timeout_s: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``station ARGS`` to completion from the repository root with a clean environment."""
    return subprocess.run(
        [str(station_command()), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
        env=station_environ(env),
        cwd=REPO_ROOT,
    )


def health_token(config: Path, *, env: dict[str, str] | None = None) -> dict[str, str]:
    """Headers with an API token of a new officer ``health-probe`` on the station of ``config``: camera
    details in ``/api/health`` need a signed-in user or a token (anonymous callers see only the status)."""
    added = run_station(
        "user",
        "add",
        "health-probe",
        "--role",
        "officer",
        "--config",
        str(config),
        env=env,
        stdin="correct-horse-battery\n",
    )
    if added.returncode != 0:
        pytest.fail(f"station user add failed: {added.stderr}")
    token = run_station("user", "token", "health-probe", "--name", "probe", "--config", str(config), env=env)
    if token.returncode != 0:
        pytest.fail(f"station user token failed: {token.stderr}")
    return {"Authorization": f"Bearer {token.stdout.split()[0]}"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def stop_station(
    process: subprocess.Popen[Any], timeout_s: float, *, kill_wait_s: float | None = None
) -> None:
    """SIGTERM (the station finishes its files and index rows), then SIGKILL after ``timeout_s``."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(kill_wait_s)


@contextmanager
def running(*args: str, env: dict[str, str] | None = None) -> Iterator[tuple[subprocess.Popen[str], str]]:
    station = station_command()
    port = free_port()
    process = subprocess.Popen(
        [str(station), *args, "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=station_environ(env),
        cwd=REPO_ROOT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                output = process.stdout.read() if process.stdout else ""
                pytest.fail(f"station exited early with {process.returncode}:\n{output}")
            try:
                if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("station did not answer within 60 s")
            time.sleep(0.2)
        yield process, base
    finally:
        if process.poll() is None:
            stop_station(process, 15)
