"""Snapshots: newest keyframe of a real RTSP camera decoded to JPEG on demand, cached briefly."""

from __future__ import annotations

import time

import av
import pytest

from config.schema import CameraConfig
from streams.fanout import Fanout, FanoutPolicy
from streams.ingest import IngestManager
from streams.snapshot import (
    KeyframeKeeper,
    SnapshotCache,
    SnapshotUnavailableError,
    plan_thumbnail_size,
)
from tests.support.rtsp_server import RtspServer


@pytest.mark.parametrize(
    ("size", "max_width", "expected"),
    [
        ((1920, 1080), 480, (480, 270)),
        ((640, 360), 1280, (640, 360)),
        ((640, 360), None, (640, 360)),
        ((768, 576), 321, (320, 240)),
    ],
)
def test_thumbnail_size(size: tuple[int, int], max_width: int | None, expected: tuple[int, int]) -> None:
    assert plan_thumbnail_size(*size, max_width) == expected


def test_no_keyframe_yet_is_a_clear_error() -> None:
    keeper = KeyframeKeeper(
        Fanout("x").subscribe("s", policy=FanoutPolicy.LATEST, maxsize=4), camera_id="c", stream="main"
    )
    with pytest.raises(SnapshotUnavailableError, match="no picture"):
        SnapshotCache().get(keeper)


@pytest.mark.rtsp
@pytest.mark.timeout(60)
def test_snapshot_of_a_real_camera_is_a_cached_jpeg(rtsp_server: RtspServer) -> None:
    ingest = IngestManager([CameraConfig(id="cam1", name="Cam", url=rtsp_server.url("cam1"))])
    ingest.start()
    keeper = KeyframeKeeper(
        ingest.subscribe("cam1", "snapshot", policy=FanoutPolicy.KEYFRAMES, maxsize=4),  # as console.live
        camera_id="cam1",
        stream="main",
    )
    keeper.start()
    clock = [100.0]
    cache = SnapshotCache(max_age_s=1.5, monotonic=lambda: clock[0])
    try:
        deadline = time.monotonic() + 15
        while keeper.latest()[0] is None and time.monotonic() < deadline:
            time.sleep(0.1)
        first = cache.get(keeper, max_width=320)
        again = cache.get(keeper, max_width=320)
        assert again is first and cache.encoded == 1  # served from the cache
        time.sleep(1.2)  # the camera sends a new keyframe every second
        clock[0] += 2.0
        newer = cache.get(keeper, max_width=320)
        full = cache.get(keeper)
    finally:
        keeper.stop()
        ingest.stop()
    assert first.jpeg[:2] == b"\xff\xd8" and first.online
    assert (first.width, first.height) == (320, 180)
    assert newer.ts_utc > first.ts_utc and cache.encoded == 3
    assert (full.width, full.height) == (640, 360)
    decoded = av.CodecContext.create("mjpeg", "r").decode(av.Packet(full.jpeg))[0]
    assert (decoded.width, decoded.height) == (640, 360)
