"""Camera ingest against a real RTSP server (GStreamer): reconnects, stalls, credentials, several cameras."""

from __future__ import annotations

import itertools
import logging
import threading
import time
from pathlib import Path

import pytest

from config.schema import CameraConfig
from streams.backoff import BackoffPolicy
from streams.fanout import FanoutPolicy, PacketsDropped, StreamStarted, StreamStopped
from streams.health import HealthState
from streams.ingest import IngestManager, IngestWorker
from streams.packet import MediaPacket
from streams.source import SourceSpec, rtsp_options
from tests.streams.ingest_helpers import drain, wait_for
from tests.support.media import FULL_HD, ClipCache
from tests.support.rtsp_server import RtspServer, RtspServerFactory

pytestmark = [pytest.mark.rtsp, pytest.mark.timeout(90)]

FAST = BackoffPolicy(fast_s=0.5, cap_s=1.5)
TIMEOUT_S = 2.0


def _spec(url: str, camera_id: str = "cam1", transport: str = "tcp") -> SourceSpec:
    return SourceSpec(camera_id, "main", url, transport, open_timeout_s=TIMEOUT_S, read_timeout_s=TIMEOUT_S)


def test_several_cameras_stream_at_once_with_monotonic_timestamps_and_regular_keyframes(
    rtsp_server_factory: RtspServerFactory, small_clip: Path, clip_cache: ClipCache
) -> None:
    server = rtsp_server_factory({"cam1": small_clip, "cam2": small_clip, "cam3": clip_cache.get(FULL_HD)})
    cameras = [
        CameraConfig(id="cam1", name="Gate", url=server.url("cam1"), read_timeout_s=2, open_timeout_s=2),
        CameraConfig(
            id="cam2",
            name="Yard",
            url=server.url("cam2"),
            transport="udp",
            read_timeout_s=2,
            open_timeout_s=2,
        ),
        CameraConfig(id="cam3", name="Parking", url=server.url("cam3"), read_timeout_s=2, open_timeout_s=2),
        CameraConfig(id="cam4", name="Off", url=server.url("cam1"), enabled=False),
    ]
    manager = IngestManager(cameras, backoff=FAST)
    assert set(manager.workers) == {("cam1", "main"), ("cam2", "main"), ("cam3", "main")}
    subs = {cam: manager.subscribe(cam, "recorder") for cam in ("cam1", "cam2", "cam3")}
    slow = manager.subscribe("cam1", "stuck-viewer", policy=FanoutPolicy.DROP_OLDEST, maxsize=10)
    manager.start()
    try:
        names = {t.name for t in threading.enumerate()}
        assert {"ingest-cam1-main", "ingest-cam2-main", "ingest-cam3-main"} <= names
        time.sleep(4.5)
        items = {cam: drain(sub) for cam, sub in subs.items()}
        health = {h.camera_id: h for h in manager.health()}
    finally:
        assert manager.stop(timeout_s=5)

    for cam, got in items.items():
        assert isinstance(got[0], StreamStarted), cam
        packets = [p for p in got if isinstance(p, MediaPacket)]
        assert packets[0].is_keyframe
        assert len(packets) >= 60, f"{cam}: only {len(packets)} packets"
        dts = [p.dts for p in packets]
        bad = [
            (i, a, b) for i, (a, b) in enumerate(itertools.pairwise(dts)) if a is None or b is None or b <= a
        ]
        assert not bad, (cam, bad[:5], len(dts))
        stamps = [p.ts_utc for p in packets]
        assert stamps == sorted(stamps), cam
        assert all(p.ts_utc <= p.arrival_utc for p in packets), cam
        time_base = packets[0].format.time_base
        keys = [p for p in packets if p.is_keyframe]
        assert len(keys) >= 3, cam
        intervals = [float((b.pts - a.pts) * time_base) for a, b in itertools.pairwise(keys)]  # type: ignore[operator]
        # the test server stamps frames when it pushes them, so a loaded machine moves a keyframe by 20 ms or
        # more; the frame count between keyframes below is the exact check
        assert all(abs(i - 1.0) < 0.1 for i in intervals), (cam, intervals)
        frames = [packets.index(b) - packets.index(a) for a, b in itertools.pairwise(keys)]
        assert set(frames) == {25}, (cam, frames)
        h = health[cam]
        assert h.state is HealthState.ONLINE, (cam, h)
        assert h.keyframe_interval_frames == 25
        assert h.fps is not None and 22 < h.fps < 28
        assert h.bitrate_bps is not None and h.bitrate_bps > 0
    assert packets[0].format.width == 1920  # cam3 is the 1080p mount
    assert health["cam2"].transport == "udp"
    assert slow.stats().dropped > 0
    assert all(not isinstance(i, PacketsDropped) for got in items.values() for i in got)


def test_server_restart_goes_offline_then_resumes_within_3_s(rtsp_server: RtspServer) -> None:
    worker = IngestWorker(_spec(rtsp_server.url("cam1")), backoff=FAST)
    sub = worker.subscribe("recorder", maxsize=2000)
    worker.start()
    try:
        wait_for(lambda: worker.health().state is HealthState.ONLINE, 10)
        rtsp_server.stop()
        wait_for(lambda: worker.health().state in (HealthState.CONNECTING, HealthState.OFFLINE), 3)
        time.sleep(3.0)
        assert worker.health().state is HealthState.OFFLINE  # connect attempts are refused meanwhile
        assert worker.health().connect_attempts >= 3
        drain(sub)  # what was received before
        rtsp_server.start()
        back = time.monotonic()
        resumed_after_s = None
        while time.monotonic() - back < 6:
            item = sub.get(timeout_s=0.1)
            if isinstance(item, MediaPacket) and item.format.connection_id > 1:
                resumed_after_s = time.monotonic() - back
                break
        health = worker.health()
    finally:
        worker.stop()
    assert resumed_after_s is not None and resumed_after_s < 3.0, resumed_after_s
    assert health.state is HealthState.ONLINE
    assert health.reconnects == 1
    assert health.last_error is not None


def test_stalled_server_is_detected_within_the_read_timeout(rtsp_server: RtspServer) -> None:
    worker = IngestWorker(_spec(rtsp_server.url("cam1")), backoff=FAST)
    sub = worker.subscribe("recorder")
    worker.start()
    try:
        wait_for(lambda: worker.health().state is HealthState.ONLINE, 10)
        rtsp_server.stall()
        detected_s = wait_for(lambda: worker.health().state is not HealthState.ONLINE, TIMEOUT_S + 3)
        health = worker.health()
        stopped = [i for i in drain(sub) if isinstance(i, StreamStopped)]
        rtsp_server.resume()
        wait_for(lambda: worker.health().state is HealthState.ONLINE, 8)
    finally:
        worker.stop()
    assert detected_s < TIMEOUT_S + 0.75, detected_s
    assert health.last_error is not None and health.last_error.startswith("stalled")
    assert stopped and stopped[0].reason == "stalled" and stopped[0].last_ts_utc is not None


def test_stop_is_prompt_while_blocked_on_a_stalled_server(rtsp_server: RtspServer) -> None:
    worker = IngestWorker(_spec(rtsp_server.url("cam1")), backoff=FAST)
    worker.start()
    wait_for(lambda: worker.health().state is HealthState.ONLINE, 10)
    rtsp_server.stall()
    time.sleep(0.2)
    started = time.monotonic()
    assert worker.stop(timeout_s=TIMEOUT_S + 1)
    assert time.monotonic() - started < TIMEOUT_S / 2 + 0.75
    assert worker.health().state is HealthState.OFFLINE and not worker.health().running


def test_wrong_password_is_unauthorized_offline_without_retry_storm_and_never_leaks(
    rtsp_server_factory: RtspServerFactory, small_clip: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server = rtsp_server_factory({"cam1": small_clip}, auth=("admin", "right-pass"))
    camera = CameraConfig(
        id="gate", name="Gate", url=server.url("cam1", "admin"), password_env="GATE_PW", read_timeout_s=2
    )
    bad = IngestWorker.from_camera(camera, environ={"GATE_PW": "Wr0ng!pass"})
    good = IngestWorker.from_camera(camera, environ={"GATE_PW": "right-pass"})
    bad.start()
    good.start()
    try:
        wait_for(lambda: bad.health().last_error is not None, 10)
        time.sleep(6)
        bad_health, good_health = bad.health(), good.health()
    finally:
        bad.stop()
        good.stop()
    assert bad_health.state is HealthState.OFFLINE
    assert bad_health.last_error is not None and bad_health.last_error.startswith("unauthorized")
    assert bad_health.connect_attempts <= 2, bad_health.connect_attempts
    assert bad_health.next_retry_utc is not None
    assert good_health.state is HealthState.ONLINE
    text = repr(bad_health) + repr(good_health) + caplog.text + repr(bad.spec) + repr(good.spec)
    assert "Wr0ng" not in text and "right-pass" not in text
    assert "unauthorized" in caplog.text


def test_rtsp_options_use_ffmpeg_socket_timeout_in_microseconds() -> None:
    options = rtsp_options(_spec("rtsp://127.0.0.1:1/x", transport="udp"))
    assert options == {
        "rtsp_transport": "udp",
        "allowed_media_types": "video",
        "timeout": "1000000",
        "fpsprobesize": "0",
    }
