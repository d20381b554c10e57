"""Read batching against a real RTSP server: an unwatched stream is read in bursts and loses nothing; a live
viewer ends batching at once; a stall is still caught by the read timeout; UDP is never batched."""

from __future__ import annotations

import itertools
import time

import pytest

from streams.backoff import BackoffPolicy
from streams.fanout import FanoutPolicy, Subscription
from streams.health import HealthState
from streams.ingest import IngestWorker
from streams.pacing import PacingPolicy
from streams.packet import MediaPacket
from streams.source import SourceSpec
from tests.streams.ingest_helpers import collect, drain, wait_for
from tests.support.rtsp_server import RtspServer

pytestmark = [pytest.mark.rtsp, pytest.mark.timeout(90)]

FAST = BackoffPolicy(fast_s=0.5, cap_s=1.5)
TIMEOUT_S = 2.0
PAUSE_S = 0.25
BATCHING = PacingPolicy(pause_s=PAUSE_S)


def _worker(url: str, transport: str = "tcp") -> IngestWorker:
    spec = SourceSpec("cam1", "main", url, transport, open_timeout_s=TIMEOUT_S, read_timeout_s=TIMEOUT_S)
    return IngestWorker(spec, backoff=FAST, pacing=BATCHING)


def _packets(subscription: Subscription, seconds: float) -> list[MediaPacket]:
    return [i for i in collect(subscription, seconds) if isinstance(i, MediaPacket)]


def _long_gaps(packets: list[MediaPacket], longer_than_s: float) -> int:
    """How often the ingest thread took no packet for ``longer_than_s`` (the camera sends one per 40 ms)."""
    arrivals = [p.arrival_utc.timestamp() for p in packets]
    return sum(1 for a, b in itertools.pairwise(arrivals) if b - a > longer_than_s)


def _assert_complete(packets: list[MediaPacket], seconds: float) -> None:
    """Every frame of the 25 fps stream, in order, none missing.

    The test server stamps each frame with the clock when it pushes it (``do-timestamp``), so on a loaded
    machine a frame can be stamped 20 ms or more late (CI saw steps of 1803 and 5384 ticks: together two
    frames, none lost). A lost frame instead shifts every later frame by a whole frame period, so the check is
    on the spread of each frame's offset from its nominal slot, not on single steps.
    """
    dts = [p.dts for p in packets]
    assert all(d is not None for d in dts)
    stamps = [d for d in dts if d is not None]
    steps = sorted(b - a for a, b in itertools.pairwise(stamps))
    assert steps[0] > 0, steps[:3]  # strictly increasing
    frame = steps[len(steps) // 2]  # 3600 at 90 kHz, give or take the RTP clock's rounding
    offsets = [d - stamps[0] - i * frame for i, d in enumerate(stamps)]
    spread = max(offsets) - min(offsets)
    assert spread < 0.75 * frame, (frame, spread, steps[:3], steps[-3:])  # none lost
    assert len(packets) >= 25 * seconds - 10, len(packets)


def test_an_unwatched_stream_is_read_in_bursts_and_a_viewer_ends_batching(rtsp_server: RtspServer) -> None:
    worker = _worker(rtsp_server.url("cam1"))
    recorder = worker.subscribe("recorder", policy=FanoutPolicy.DROP_OLDEST, maxsize=2000)
    worker.start()
    try:
        wait_for(lambda: worker.health().state is HealthState.ONLINE, 10)
        time.sleep(1.0)
        drain(recorder)
        unwatched = _packets(recorder, 4.0)
        viewer = worker.subscribe("live", policy=FanoutPolicy.LATEST, maxsize=64)
        time.sleep(PAUSE_S + 0.1)  # the pause under way when the viewer came
        drain(recorder)
        watched = _packets(recorder, 3.0)
        viewer.close()
        time.sleep(PAUSE_S + 0.1)
        drain(recorder)
        again = _packets(recorder, 3.0)
        health = worker.health()
    finally:
        worker.stop()

    # unwatched: about one pause of PAUSE_S per cycle, i.e. a few bursts a second instead of 25 reads
    assert _long_gaps(unwatched, PAUSE_S * 0.8) >= 8, _long_gaps(unwatched, PAUSE_S * 0.8)
    assert _long_gaps(again, PAUSE_S * 0.8) >= 6
    # watched: every frame as it comes, never a pause (0.16 s: four frames, leaving room for a loaded machine)
    assert _long_gaps(watched, 0.16) == 0, [p.arrival_utc for p in watched]
    for packets, seconds in ((unwatched, 4.0), (watched, 3.0), (again, 3.0)):
        _assert_complete(packets, seconds)
    # a batch delays a packet by at most about one pause; the stream clock is not disturbed by it
    delays = [(p.arrival_utc - p.ts_utc).total_seconds() for p in unwatched]
    assert max(delays) < PAUSE_S + 0.2, max(delays)
    assert health.state is HealthState.ONLINE and health.fps is not None and 22 < health.fps < 28
    assert health.reconnects == 0 and health.clock_events == 0


def test_a_live_viewer_ends_a_pause_under_way(rtsp_server: RtspServer) -> None:
    """The recorder's next packet comes within a frame or two of a viewer subscribing, not a pause later."""
    worker = _worker(rtsp_server.url("cam1"))
    recorder = worker.subscribe("recorder", policy=FanoutPolicy.DROP_OLDEST, maxsize=2000)
    worker.start()
    delays = []
    try:
        wait_for(lambda: worker.health().state is HealthState.ONLINE, 10)
        time.sleep(1.0)
        for trial in range(12):
            time.sleep(0.6 + 0.037 * trial)  # batching again, at a different point of its cycle each time
            drain(recorder)
            subscribed = time.time()
            viewer = worker.subscribe("live", policy=FanoutPolicy.LATEST, maxsize=64)
            while not isinstance(item := recorder.get(timeout_s=1.0), MediaPacket):
                assert item is not None, "no packet within 1 s"
            delays.append(time.time() - subscribed)  # when the recorder got it (published after any pause)
            viewer.close()
    finally:
        worker.stop()
    # the camera sends a frame every 40 ms; a pause is 250 ms. Without the wake-up the delays spread evenly
    # up to the pause (0.234 s at most in 12 trials): all 12 under 0.16 s has a chance of 0.64**12, under 1 %
    assert max(delays) < 0.16, sorted(round(d, 3) for d in delays)


def test_a_stall_is_caught_within_the_read_timeout_plus_one_pause(rtsp_server: RtspServer) -> None:
    worker = _worker(rtsp_server.url("cam1"))
    worker.subscribe("recorder")
    worker.start()
    try:
        wait_for(lambda: worker.health().state is HealthState.ONLINE, 10)
        time.sleep(1.0)
        rtsp_server.stall()
        detected_s = wait_for(lambda: worker.health().state is not HealthState.ONLINE, TIMEOUT_S + 3)
        health = worker.health()
        rtsp_server.resume()
        wait_for(lambda: worker.health().state is HealthState.ONLINE, 8)
    finally:
        worker.stop()
    assert detected_s < TIMEOUT_S + PAUSE_S + 0.75, detected_s
    assert health.last_error is not None and health.last_error.startswith("stalled")


def test_udp_is_never_batched(rtsp_server: RtspServer) -> None:
    worker = _worker(rtsp_server.url("cam1"), transport="udp")
    recorder = worker.subscribe("recorder", policy=FanoutPolicy.DROP_OLDEST, maxsize=2000)
    worker.start()
    try:
        wait_for(lambda: worker.health().state is HealthState.ONLINE, 10)
        time.sleep(1.0)
        drain(recorder)
        packets = _packets(recorder, 3.0)
    finally:
        worker.stop()
    assert len(packets) >= 60
    assert _long_gaps(packets, 0.12) == 0
