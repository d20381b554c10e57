"""Snapshots: newest keyframe of a real RTSP camera decoded to JPEG on demand, cached briefly."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

import av
import pytest

from config.schema import CameraConfig
from streams.fanout import Fanout, StreamStarted, StreamStopped
from streams.ingest import IngestManager
from streams.packet import StreamFormat
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
    keeper = KeyframeKeeper(camera_id="c", stream="main")
    keeper.attach(Fanout("x"))
    with pytest.raises(SnapshotUnavailableError, match="no picture"):
        SnapshotCache().get(keeper)


@pytest.mark.rtsp
@pytest.mark.timeout(60)
def test_snapshot_of_a_real_camera_is_a_cached_jpeg(rtsp_server: RtspServer) -> None:
    ingest = IngestManager([CameraConfig(id="cam1", name="Cam", url=rtsp_server.url("cam1"))])
    ingest.start()
    keeper = KeyframeKeeper(camera_id="cam1", stream="main")
    keeper.attach(ingest.worker("cam1").fanout)  # as console.live
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


T0 = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
FMT = StreamFormat("c", "main", 1, "h264", 640, 360, Fraction(1, 25), None, 25.0)


def _demuxed(pts: int, *, keyframe: bool) -> av.Packet[Any]:
    packet: av.Packet[Any] = av.Packet(bytes([pts % 256]) * 16)
    packet.pts = packet.dts = pts
    packet.is_keyframe = keyframe
    return packet


def test_keeper_is_a_sink_that_keeps_only_the_newest_keyframe_on_the_camera_thread() -> None:
    fanout = Fanout("c-main")
    threads_before = threading.active_count()
    keeper = KeyframeKeeper(camera_id="c", stream="main")
    keeper.attach(fanout)
    assert threading.active_count() == threads_before  # no thread of its own
    fanout.publish(StreamStarted(FMT, T0))
    for pts in range(0, 12):
        fanout.publish_packet(_demuxed(pts, keyframe=pts % 5 == 0), FMT, T0.timestamp() + pts, T0.timestamp())
    kept, online = keeper.latest()
    assert online and kept is not None
    assert (kept.pts, kept.is_keyframe, kept.data) == (10, True, bytes([10]) * 16)
    assert kept.ts_utc == T0 + timedelta(seconds=10) and kept.format is FMT
    fanout.publish(StreamStopped(FMT, T0, "stalled", None))
    assert keeper.latest() == (kept, False)  # the last picture stays, marked offline
    keeper.stop()
    fanout.publish(StreamStarted(FMT, T0))
    fanout.publish_packet(_demuxed(20, keyframe=True), FMT, T0.timestamp(), T0.timestamp())
    assert keeper.latest() == (kept, False)  # detached: nothing more arrives
    with pytest.raises(RuntimeError, match="already attached"):
        keeper.attach(fanout)
        keeper.attach(fanout)


def test_keeper_sees_the_packet_before_the_recorder_rewrites_it() -> None:
    fanout = Fanout("c-main")
    seen: list[int | None] = []

    class Rewriter:  # what the recorder does to the packet it muxes
        def on_control(self, item: object) -> None:
            pass

        def on_packet(self, packet: av.Packet[Any], fmt: StreamFormat, ts_s: float, arrival_s: float) -> None:
            seen.append(packet.pts)
            packet.pts = packet.dts = 0

    fanout.add_sink(Rewriter())
    keeper = KeyframeKeeper(camera_id="c", stream="main")
    keeper.attach(fanout)  # attached later, called first
    fanout.publish_packet(_demuxed(50, keyframe=True), FMT, T0.timestamp(), T0.timestamp())
    kept, _ = keeper.latest()
    assert kept is not None and kept.pts == 50 and seen == [50]
