"""The first keyframe of an RTSP session arrives without a timestamp; ingest must keep it, not wait a GOP."""

from __future__ import annotations

import time
from fractions import Fraction
from pathlib import Path

import pytest

from streams.fanout import StreamStarted
from streams.ingest import IngestWorker
from streams.packet import MediaPacket, StreamFormat
from streams.source import SourceSpec, backdated_stamp, frame_ticks
from tests.support.rtsp_server import RtspServerFactory

OPEN_BUDGET_S = 1.0  # ~0.4 s to open without frame-rate probing (1.2 s with it); a lost first GOP adds 1 s
FMT = StreamFormat("cam1", "main", 1, "h264", 640, 360, Fraction(1, 90000), None, 25.0)


def test_frame_ticks_and_backdate_are_one_frame_before_the_successor() -> None:
    assert frame_ticks(FMT) == 3600
    assert backdated_stamp(3604, 3604, frame_ticks(FMT)) == 4
    assert backdated_stamp(3700, None, 3600) == 100  # the pts when there is no dts
    assert backdated_stamp(100, 100, 3600) == 0  # never below zero
    assert backdated_stamp(None, None, 3600) is None


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
