"""``kill -9`` of the whole station mid-segment: after a restart the interrupted file is playable and
indexed, at most ~2 s of received video is missing, and the outage is a ``station_stopped`` gap."""

from __future__ import annotations

import os
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from storage.database import Database
from storage.layout import resolve_relative
from storage.model import Gap, Segment
from tests.support.mp4 import probe_file
from tests.support.rtsp_server import RtspServerFactory
from tests.support.station_process import health_token, running

pytestmark = [pytest.mark.rtsp, pytest.mark.timeout(150)]

MAX_LOSS_S = 2.0  # fragment_seconds 1 s + one frame of slack for the fragment being written
RECORD_S = 7.5


def _camera(base: str, headers: dict[str, str]) -> dict[str, object]:
    health = httpx.get(f"{base}/api/health", headers=headers, timeout=5).json()
    camera: dict[str, object] = health["cameras"][0]
    return camera


def _wait_recording(base: str, headers: dict[str, str], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if _camera(base, headers)["recording"]:
            return
        time.sleep(0.2)
    pytest.fail(f"camera not recording within {timeout_s} s: {_camera(base, headers)}")


def test_kill_9_mid_segment_loses_at_most_two_seconds(
    tmp_path: Path, rtsp_server_factory: RtspServerFactory, small_clip: Path
) -> None:
    server = rtsp_server_factory({"cam1": small_clip})
    data = tmp_path / "data"
    config = tmp_path / "station.yaml"
    config.write_text(
        "station: {name: Crash test}\n"
        f"storage: {{data_dir: {data}, min_free_bytes: 0, min_free_percent: 0}}\n"
        "recording: {segment_seconds: 60, fragment_seconds: 1.0}\n"
        f"cameras:\n  - {{id: gate, name: Gate, url: '{server.url('cam1')}'}}\n",
        encoding="utf-8",
    )
    with running("run", "--config", str(config)) as (process, base):
        headers = health_token(config)
        _wait_recording(base, headers)
        time.sleep(RECORD_S)  # well inside the 60 s segment
        killed_at = datetime.now(UTC)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    partials = list((data / "recordings").rglob("*.mp4.partial"))
    assert len(partials) == 1, "the interrupted segment should be on disk as .partial"

    with running("run", "--config", str(config)) as (_process, base):
        _wait_recording(base, headers)  # recording resumed after the restart
    database = Database(f"sqlite:///{data / 'station.db'}")
    try:
        with database.session() as session:
            segments = session.scalars(select(Segment).order_by(Segment.start_utc)).all()
            gaps = session.scalars(select(Gap).order_by(Gap.start_utc)).all()
        recovered = segments[0]
        assert recovered.status == "recovered"
        path = resolve_relative(data / "recordings", recovered.path)
        assert path.suffix == ".mp4" and path.exists()
        assert not list((data / "recordings").rglob("*.partial"))
        probed = probe_file(path)
        assert probed.first_is_keyframe and probed.monotonic and probed.decoded_frames == probed.packets
        assert probed.sha256 == recovered.sha256 and path.stat().st_size == recovered.bytes
        missing_s = (killed_at - recovered.end_utc).total_seconds()
        assert missing_s <= MAX_LOSS_S, f"{missing_s:.2f} s of received video lost"
        assert recovered.duration_s >= RECORD_S - MAX_LOSS_S  # (it was 6.9997 s once on a busy machine)
        stopped = [g for g in gaps if g.reason == "station_stopped"]
        assert stopped and abs(stopped[0].start_utc - recovered.end_utc) < timedelta(seconds=0.5)
        assert stopped[0].end_utc is not None and stopped[0].end_utc > killed_at
    finally:
        database.dispose()
