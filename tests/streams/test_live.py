"""Live view tracks: RTP clock, passthrough of a real RTSP camera, slow viewers, transcode fallback."""

from __future__ import annotations

import asyncio
import itertools
import time
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import pytest

from config.schema import CameraConfig
from streams.fanout import FanoutPolicy, StreamStarted
from streams.health import HealthState
from streams.ingest import IngestManager
from streams.live import (
    VIDEO_TIME_BASE,
    LiveTrack,
    RtpClock,
    TranscodePolicy,
    TranscodeWorker,
    is_webrtc_playable,
    plan_rtp_pts,
    plan_transcode_size,
    should_emit_frame,
)
from streams.packet import MediaPacket, StreamFormat
from tests.support.media import ClipCache, ClipSpec
from tests.support.rtsp_server import RtspServer

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def _fmt(
    connection_id: int = 1, time_base: Fraction = Fraction(1, 90000), codec: str = "h264"
) -> StreamFormat:
    return StreamFormat("cam", "main", connection_id, codec, 640, 360, time_base, None, 25.0)


def _packet(fmt: StreamFormat, pts: int, at: datetime, key: bool = False) -> MediaPacket:
    return MediaPacket(fmt, b"\x00\x00\x00\x01\x65", pts, pts, None, key, at, at)


# pure decisions -------------------------------------------------------------------------------------------


def test_rtp_pts_follow_camera_pts_on_the_90khz_clock() -> None:
    fmt = _fmt(time_base=Fraction(1, 1000))
    clock, first = plan_rtp_pts(RtpClock(), _packet(fmt, 5000, T0, key=True))
    clock, second = plan_rtp_pts(clock, _packet(fmt, 5040, T0 + timedelta(milliseconds=40)))
    assert (first, second) == (0, 3600)


def test_rtp_pts_continue_after_reconnect_with_the_wall_clock_gap() -> None:
    clock, _ = plan_rtp_pts(RtpClock(), _packet(_fmt(1), 900_000, T0, key=True))
    clock, last = plan_rtp_pts(clock, _packet(_fmt(1), 903_600, T0 + timedelta(milliseconds=40)))
    # the camera comes back 2 s later with pts starting from 0 again
    clock, after = plan_rtp_pts(clock, _packet(_fmt(2), 0, T0 + timedelta(seconds=2.04), key=True))
    assert after == last + 2 * 90_000
    clock, next_one = plan_rtp_pts(clock, _packet(_fmt(2), 3600, T0 + timedelta(seconds=2.08)))
    assert next_one == after + 3600


def test_rtp_pts_never_go_backwards() -> None:
    clock, first = plan_rtp_pts(RtpClock(), _packet(_fmt(), 1000, T0, key=True))
    clock, repeated = plan_rtp_pts(clock, _packet(_fmt(), 1000, T0))
    clock, earlier = plan_rtp_pts(clock, _packet(_fmt(), 500, T0))
    assert first < repeated < earlier


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((1920, 1080), (640, 360)),
        ((640, 480), (640, 480)),
        ((2592, 1944), (640, 480)),
        ((321, 241), (320, 240)),
    ],
)
def test_transcode_size_is_bounded_and_even(size: tuple[int, int], expected: tuple[int, int]) -> None:
    assert plan_transcode_size(*size, max_width=640) == expected


def test_frame_rate_limit_on_stream_time() -> None:
    assert should_emit_frame(None, 0.0, 10)
    assert not should_emit_frame(0.0, 0.04, 10)
    assert should_emit_frame(0.0, 0.1, 10)
    assert should_emit_frame(5.0, 1.0, 10)  # time went back (new connection): start again


def test_only_h264_passes_through() -> None:
    assert is_webrtc_playable("h264")
    assert is_webrtc_playable(None)
    assert not is_webrtc_playable("hevc")
    assert not is_webrtc_playable("mjpeg")


# real camera ------------------------------------------------------------------------------------------------


async def _pull(track: LiveTrack, count: int, timeout_s: float = 15.0) -> list[av.Packet[Any]]:
    packets: list[av.Packet[Any]] = []
    async with asyncio.timeout(timeout_s):
        while len(packets) < count:
            packets.append(await track.recv())
    return packets


@pytest.mark.rtsp
@pytest.mark.timeout(60)
def test_track_passes_rtsp_packets_through_with_90khz_pts(rtsp_server: RtspServer) -> None:
    cameras = [CameraConfig(id="cam1", name="Cam 1", url=rtsp_server.url("cam1"))]
    ingest = IngestManager(cameras)
    ingest.start()
    try:

        async def scenario() -> tuple[list[av.Packet[Any]], LiveTrack]:
            subscription = ingest.subscribe("cam1", "viewer", policy=FanoutPolicy.LATEST, maxsize=64)
            track = LiveTrack(subscription, camera_id="cam1")
            packets = await _pull(track, 60)
            track.stop()
            return packets, track

        packets, track = asyncio.run(scenario())
    finally:
        ingest.stop()
    assert packets[0].is_keyframe
    assert all(p.time_base == VIDEO_TIME_BASE for p in packets)
    pts = [p.pts or 0 for p in packets]
    assert all(b > a for a, b in itertools.pairwise(pts))
    mean_step = (pts[-1] - pts[0]) / (len(pts) - 1)
    assert 3000 < mean_step < 4300  # 25 fps on the 90 kHz clock
    assert bytes(packets[0])[:4] == b"\x00\x00\x00\x01"  # Annex B, as the camera sent it
    stats = track.stats()
    assert stats.packets == 60 and stats.frames_encoded == 0 and stats.keyframes >= 2


@pytest.mark.rtsp
@pytest.mark.timeout(60)
def test_slow_viewer_skips_ahead_without_affecting_others(rtsp_server: RtspServer) -> None:
    cameras = [CameraConfig(id="cam1", name="Cam 1", url=rtsp_server.url("cam1"))]
    ingest = IngestManager(cameras)
    ingest.start()
    try:
        # Subscribe after the connect burst (~1 s of packets delivered at once): a burst larger than a
        # viewer's queue is dropped by design and would blur what this test is about.
        deadline = time.monotonic() + 15
        while ingest.health()[0].state is not HealthState.ONLINE and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.5)

        async def scenario() -> tuple[LiveTrack, LiveTrack, list[av.Packet[Any]], list[av.Packet[Any]]]:
            fast = LiveTrack(
                ingest.subscribe("cam1", "fast", policy=FanoutPolicy.LATEST, maxsize=16), camera_id="cam1"
            )
            slow = LiveTrack(
                ingest.subscribe("cam1", "slow", policy=FanoutPolicy.LATEST, maxsize=16), camera_id="cam1"
            )
            fast_packets = await _pull(fast, 75)  # 3 s of video while "slow" reads nothing
            assert slow.queued() <= 16  # bounded: never more than maxsize waiting for a stuck viewer
            slow_packets = await _pull(slow, 5)
            fast.stop()
            slow.stop()
            return fast, slow, fast_packets, slow_packets

        fast, slow, fast_packets, slow_packets = asyncio.run(scenario())
    finally:
        ingest.stop()
    assert fast.stats().dropped == 0
    fast_pts = [p.pts or 0 for p in fast_packets]
    assert max(b - a for a, b in itertools.pairwise(fast_pts)) < 3 * 3600  # no hole
    assert slow.stats().dropped > 0
    assert slow_packets[0].is_keyframe  # resumed on the newest keyframe


# transcode fallback -----------------------------------------------------------------------------------------


@pytest.mark.timeout(90)
def test_hevc_camera_is_transcoded_to_bounded_h264(clip_cache: ClipCache) -> None:
    hevc = clip_cache.get(ClipSpec(width=1280, height=720, fps=25, gop=25, seconds=2.0, codec="libx265"))
    cameras = [CameraConfig(id="hevc", name="HEVC", url=Path(hevc).as_uri())]
    ingest = IngestManager(cameras)
    ingest.start()
    policy = TranscodePolicy(max_width=640, max_fps=10)
    worker = TranscodeWorker(
        ingest.subscribe("hevc", "transcode", policy=FanoutPolicy.LATEST, maxsize=64),
        camera_id="hevc",
        stream="main",
        policy=policy,
    )
    viewer = worker.subscribe("viewer", maxsize=64)
    worker.start()
    packets: list[MediaPacket] = []
    started: StreamStarted | None = None
    try:
        deadline = time.monotonic() + 20
        while len(packets) < 25 and time.monotonic() < deadline:
            item = viewer.get(timeout_s=1.0)
            if isinstance(item, StreamStarted):
                started = item
            elif isinstance(item, MediaPacket):
                packets.append(item)
    finally:
        worker.stop()
        ingest.stop()
    assert started is not None
    assert started.format.codec == "h264" and (started.format.width, started.format.height) == (640, 360)
    assert len(packets) >= 25 and packets[0].is_keyframe
    span_s = float((packets[-1].pts - packets[0].pts) * VIDEO_TIME_BASE)  # type: ignore[operator]
    assert (len(packets) - 1) / span_s <= 10.5  # at most 10 fps
    assert worker.frames_encoded >= 25
    decoder = av.CodecContext.create("h264", "r")
    frames = [f for p in packets for f in decoder.decode(av.Packet(p.data))]
    assert frames and (frames[0].width, frames[0].height) == (640, 360)
