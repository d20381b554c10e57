"""``station run`` and ``station demo`` as real processes on a free loopback port."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from streams.affinity import available_cpus
from tests.support.paths import shared_file
from tests.support.station_process import STATION, health_token, run_station, running

pytestmark = pytest.mark.timeout(90)


def test_run_serves_login_and_health_then_stops_cleanly(tmp_path: Path) -> None:
    config = tmp_path / "station.yaml"
    config.write_text(
        "station: {name: ЖК Тест}\n"
        f"storage: {{data_dir: {tmp_path / 'data'}}}\n"
        "cameras:\n  - {id: entrance-1, name: Подъезд 1, url: 'rtsp://u:secretpw@127.0.0.1:9/x'}\n",
        encoding="utf-8",
    )
    with running("run", "--config", str(config)) as (process, base):
        assert httpx.get(f"{base}/api/health").json().keys() == {"status"}  # anonymous: no layout
        health = httpx.get(f"{base}/api/health", headers=health_token(config)).json()
        assert health["database"]["ok"] and health["cameras"][0]["id"] == "entrance-1"
        cpus = available_cpus()  # the child inherits this process's CPUs; media_cpus is "auto"
        assert health["media_cpus"] == (None if len(cpus) < 2 else [max(cpus)])
        login = httpx.get(f"{base}/login")
        assert login.status_code == 200 and "ЖК Тест" in login.text
        assert httpx.get(f"{base}/api/users").status_code == 401
    assert process.returncode in (0, -signal.SIGTERM)  # uvicorn re-raises SIGTERM after a clean shutdown
    output = process.stdout.read() if process.stdout else ""
    assert "Application shutdown complete" in output
    assert f"web console on {base}" in output
    assert "station user add NAME --role admin" in output
    assert "secretpw" not in output


def _run_once(config: Path) -> subprocess.CompletedProcess[str]:
    """``station run`` with ``config``, for configs it must refuse (it exits without serving)."""
    return subprocess.run(
        [str(STATION), "run", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_bad_config_exits_78(tmp_path: Path) -> None:
    config = tmp_path / "station.yaml"
    config.write_text("station: {name: X}\nstorage: {data_dir: 5}\ncameras: nope\n")
    result = _run_once(config)
    assert result.returncode == 78
    assert "cameras" in result.stderr


def test_media_cpu_the_machine_lacks_exits_78_before_serving(tmp_path: Path) -> None:
    config = tmp_path / "station.yaml"
    config.write_text(
        f"station: {{name: X}}\nstorage: {{data_dir: {tmp_path / 'data'}}}\n"
        "recording: {media_cpus: [4000]}\n"
    )
    result = _run_once(config)
    assert result.returncode == 78
    assert "station.yaml: recording.media_cpus: CPU 4000 not available to the station" in result.stderr
    assert "web console on" not in result.stderr + result.stdout


def wait_for_demo_cameras(
    base: str, headers: dict[str, str], timeout_s: float = 30
) -> dict[str, dict[str, object]]:
    """Until every demo camera is online and being recorded; returns the cameras of /api/health."""
    deadline = time.monotonic() + timeout_s
    cameras: dict[str, dict[str, object]] = {}
    while time.monotonic() < deadline:
        health = httpx.get(f"{base}/api/health", headers=headers).json()
        cameras = {c["id"]: c for c in health["cameras"]}
        if cameras and all(c["status"] == "online" and c["recording"] for c in cameras.values()):
            return cameras
        time.sleep(0.5)
    pytest.fail(f"demo cameras not online and recording within {timeout_s} s: {cameras}")


def test_demo_creates_a_demo_admin_once(tmp_path: Path) -> None:
    env = {"STATION_DATA_DIR": str(tmp_path / "demo")}
    with running("demo", env=env) as (process, base):
        headers = health_token(tmp_path / "demo" / "station.yaml", env=env)
        cameras = wait_for_demo_cameras(base, headers)
        assert sorted(cameras) == ["demo-entrance", "demo-parking", "demo-yard"]
    first_output = process.stdout.read() if process.stdout else ""
    password = next(
        line.split()[1] for line in first_output.splitlines() if line.strip().startswith("password:")
    )
    with running("demo", env=env) as (process, base):
        login = httpx.post(f"{base}/api/auth/login", json={"username": "demo", "password": password})
        assert login.status_code == 200 and login.json()["user"]["role"] == "supervisor"
        wait_for_demo_cameras(base, headers)
        metrics = httpx.get(f"{base}/metrics", cookies=login.cookies)
        assert metrics.status_code == 200
        assert 'station_camera_up{camera="demo-yard"} 1' in metrics.text
        assert "station_disk_free_bytes" in metrics.text
    second_output = process.stdout.read() if process.stdout else ""
    assert "existing users kept" in second_output and password not in second_output


def test_demo_runs_detection_on_the_users_video_and_writes_its_config(tmp_path: Path) -> None:
    video = shared_file("media", "pets09_s2l1_campus.mp4")
    shared_file("models", "yolo11n_int8.onnx")
    env = {"STATION_DATA_DIR": str(tmp_path / "demo"), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    with running("demo", "--video", str(video), env=env) as (process, base):
        assert process.stdout is not None
        lines: list[str] = []
        while not any(line.strip().startswith("password:") for line in lines):
            lines.append(process.stdout.readline())
        password = next(line.split()[1] for line in lines if line.strip().startswith("password:"))
        login = httpx.post(f"{base}/api/auth/login", json={"username": "demo", "password": password})
        deadline = time.monotonic() + 60
        events: list[dict[str, object]] = []
        while time.monotonic() < deadline and not any(e["kind"] == "person" for e in events):
            time.sleep(1)
            events = httpx.get(f"{base}/api/events", cookies=login.cookies).json()["items"]
        assert any(e["kind"] == "person" and e["camera_id"] == "video-1" for e in events), events
    output = "".join(lines)
    assert "detection: motion and people" in output
    config = tmp_path / "demo" / "station.yaml"
    assert f"config: {config}" in output
    listed = run_station("user", "list", "--config", str(config))
    assert listed.returncode == 0 and "demo-admin" in listed.stdout


def test_demo_refuses_a_missing_video(tmp_path: Path) -> None:
    result = run_station(
        "demo", "--video", str(tmp_path / "none.mp4"), env={"STATION_DATA_DIR": str(tmp_path)}
    )
    assert result.returncode == 66 and "no such video file" in result.stderr
