"""``station run`` and ``station demo`` as real processes on a free loopback port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.support.paths import REPO_ROOT

STATION = REPO_ROOT / ".venv" / "bin" / "station"

pytestmark = pytest.mark.timeout(90)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def running(*args: str, env: dict[str, str] | None = None) -> Iterator[tuple[subprocess.Popen[str], str]]:
    if not STATION.exists():
        pytest.skip(f"{STATION} is not installed (pip install -e . into .venv)")
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("STATION_")}
    process = subprocess.Popen(
        [str(STATION), *args, "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**clean, **(env or {})},
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
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_run_serves_login_and_health_then_stops_cleanly(tmp_path: Path) -> None:
    config = tmp_path / "station.yaml"
    config.write_text(
        "station: {name: ЖК Тест}\n"
        f"storage: {{data_dir: {tmp_path / 'data'}}}\n"
        "cameras:\n  - {id: entrance-1, name: Подъезд 1, url: 'rtsp://u:secretpw@127.0.0.1:9/x'}\n",
        encoding="utf-8",
    )
    with running("run", "--config", str(config)) as (process, base):
        health = httpx.get(f"{base}/api/health").json()
        assert health["database"]["ok"] and health["cameras"][0]["id"] == "entrance-1"
        login = httpx.get(f"{base}/login")
        assert login.status_code == 200 and "ЖК Тест" in login.text
        assert httpx.get(f"{base}/api/users").status_code == 401
    assert process.returncode in (0, -signal.SIGTERM)  # uvicorn re-raises SIGTERM after a clean shutdown
    output = process.stdout.read() if process.stdout else ""
    assert "Application shutdown complete" in output
    assert f"web console on {base}" in output
    assert "station user add NAME --role admin" in output
    assert "secretpw" not in output


def test_bad_config_exits_78(tmp_path: Path) -> None:
    config = tmp_path / "station.yaml"
    config.write_text("station: {name: X}\nstorage: {data_dir: 5}\ncameras: nope\n")
    result = subprocess.run(
        [str(STATION), "run", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 78
    assert "cameras" in result.stderr


def wait_for_demo_cameras(base: str, timeout_s: float = 30) -> dict[str, dict[str, object]]:
    """Until every demo camera is online and being recorded; returns the cameras of /api/health."""
    deadline = time.monotonic() + timeout_s
    cameras: dict[str, dict[str, object]] = {}
    while time.monotonic() < deadline:
        health = httpx.get(f"{base}/api/health").json()
        cameras = {c["id"]: c for c in health["cameras"]}
        if cameras and all(c["status"] == "online" and c["recording"] for c in cameras.values()):
            return cameras
        time.sleep(0.5)
    pytest.fail(f"demo cameras not online and recording within {timeout_s} s: {cameras}")


def test_demo_creates_a_demo_admin_once(tmp_path: Path) -> None:
    env = {"STATION_DATA_DIR": str(tmp_path / "demo")}
    with running("demo", env=env) as (process, base):
        cameras = wait_for_demo_cameras(base)
        assert sorted(cameras) == ["demo-entrance", "demo-parking", "demo-yard"]
    first_output = process.stdout.read() if process.stdout else ""
    password = next(
        line.split()[1] for line in first_output.splitlines() if line.strip().startswith("password:")
    )
    with running("demo", env=env) as (process, base):
        login = httpx.post(f"{base}/api/auth/login", json={"username": "demo", "password": password})
        assert login.status_code == 200 and login.json()["user"]["role"] == "admin"
        wait_for_demo_cameras(base)
        metrics = httpx.get(f"{base}/metrics", cookies=login.cookies)
        assert metrics.status_code == 200
        assert 'station_camera_up{camera="demo-yard"} 1' in metrics.text
        assert "station_disk_free_bytes" in metrics.text
    second_output = process.stdout.read() if process.stdout else ""
    assert "existing users kept" in second_output and password not in second_output
