"""The first keyframe of an RTSP session arrives without a timestamp; ingest must keep it, not wait a GOP."""

from __future__ import annotations

import time
from fractions import Fraction
from pathlib import Path

import pytest

from streams.fanout import StreamStarted
from streams.ingest import IngestWorker
from streams.packet import MediaPacket, StreamFormat
from streams.source import SourceSpec, frame_ticks, plan_backdated_stamps
from tests.support.rtsp_server import RtspServerFactory

OPEN_BUDGET_S = 1.0  # ~0.4 s to open without frame-rate probing (1.2 s with it); a lost first GOP adds 1 s
FMT = StreamFormat("cam1", "main", 1, "h264", 640, 360, Fraction(1, 90000), None, 25.0)


def test_frame_ticks_and_backdate_are_one_frame_before_the_successor() -> None:
    ticks = frame_ticks(FMT)
    assert ticks == 3600
    untimed = (None, None)
    assert plan_backdated_stamps([untimed], (3604, 3604), ticks) == [(4, 4)]
    # the pts when there is no dts
    assert plan_backdated_stamps([untimed], (3700, None), ticks) == [(100, 100)]
    assert plan_backdated_stamps([untimed], (100, 100), ticks) == [(-3500, -3500)]  # may go below zero
    assert plan_backdated_stamps([untimed], (None, None), ticks) == [untimed]  # nothing to go by


# What FFmpeg's RTSP demuxer delivers at the start of a 10 fps session with B-frames (I P B B B P ...):
# the keyframe without a time, the P-frame without a dts (shown 4 frames later), then B-frames in order.
B_FRAME_START = [(None, None), (35929, None), (8928, 8928), (17929, 17929), (26924, 26924), (71922, 35929)]


def test_backdated_stamps_stay_before_the_b_frames_that_follow() -> None:
    ticks = 9000
    held, successor = B_FRAME_START[:2], B_FRAME_START[2]
    stamps = plan_backdated_stamps(held, successor, ticks)
    assert stamps == [(-72, -9072), (35929, -72)]
    dts = [d for _, d in stamps + B_FRAME_START[2:] if d is not None]
    assert len(dts) == len(B_FRAME_START)
    assert dts == sorted(set(dts))  # decoding order: strictly increasing
    assert all(d is not None and p is not None and d <= p for p, d in stamps)
    shown = sorted(p for p, _ in stamps + B_FRAME_START[2:] if p is not None)
    assert shown[0] == stamps[0][0]  # the keyframe is shown first


def test_every_packet_without_a_dts_gets_one_before_its_successor() -> None:
    # two B-frames between references: the first B-frame has no dts either
    held = [(None, None), (27000, None), (9000, None)]
    stamps = plan_backdated_stamps(held, (18000, 9000), 9000)
    assert stamps == [(0, -18000), (27000, -9000), (9000, 0)]
    assert plan_backdated_stamps([], (3600, 3600), 3600) == []


@pytest.mark.rtsp
@pytest.mark.timeout(60)
def test_first_packet_of_a_session_is_its_first_keyframe(
    rtsp_server_factory: RtspServerFactory, small_clip: Path
) -> None:
    server = rtsp_server_factory({"cam1": small_clip})  # keyframe every 1 s
    spec = SourceSpec("cam1", "main", server.url("cam1"), "tcp", open_timeout_s=3, read_timeout_s=3)
    worker = IngestWorker(spec)
    subscription = worker.subscribe("probe")
    started = time.monotonic()
    worker.start()
    try:
        first: MediaPacket | None = None
        while first is None and time.monotonic() - started < 10:
            item = subscription.get(timeout_s=0.5)
            if isinstance(item, MediaPacket):
                first = item
            elif item is not None:
                assert isinstance(item, StreamStarted)
        elapsed = time.monotonic() - started
        assert first is not None and first.is_keyframe
        second = subscription.get(timeout_s=2)
        assert isinstance(second, MediaPacket) and second.pts is not None and first.pts is not None
        assert 0 < second.pts - first.pts <= 2 * frame_ticks(first.format)
        health = worker.health()
        assert health.skipped_packets == 0, "the session's first keyframe was thrown away"
        assert elapsed < OPEN_BUDGET_S, f"first frame after {elapsed:.2f} s"
    finally:
        worker.stop()
