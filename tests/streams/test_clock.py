"""Anchoring stream timestamps to UTC, and reporting clock trouble instead of absorbing it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest

from streams.clock import ClockEvent, ClockPolicy, ClockReading, StreamClock, plan_stamp, start_clock

TB = Fraction(1, 90_000)
T0 = datetime(2025, 5, 1, 12, 0, 0, tzinfo=UTC)
FRAME = 3600  # 25 fps at 90 kHz
POLICY = ClockPolicy(max_drift_s=2.0, max_jump_s=10.0, settle_s=3.0)


def _feed(
    clock: StreamClock, frames: list[tuple[int, float]], policy: ClockPolicy = POLICY
) -> tuple[StreamClock, list[ClockReading]]:
    """frames: (pts, arrival seconds after T0)."""
    readings = []
    for pts, arrival_s in frames:
        clock, reading = plan_stamp(
            clock, pts=pts, dts=pts, arrival_utc=T0 + timedelta(seconds=arrival_s), policy=policy
        )
        readings.append(reading)
    return clock, readings


def test_steady_stream_is_stamped_from_pts() -> None:
    clock = start_clock(pts=1000, dts=1000, time_base=TB, arrival_utc=T0)
    frames = [(1000 + i * FRAME, i * 0.04 + 0.01) for i in range(1, 100)]
    _, readings = _feed(clock, frames)
    assert all(r.event is None for r in readings)
    assert readings[-1].ts_utc == T0 + timedelta(seconds=99 * 0.04)
    assert all(0 <= r.lag_s < 0.02 for r in readings)


def test_connect_burst_collapses_onto_arrival_and_never_stamps_the_future() -> None:
    # 25 buffered frames arrive at once 1 s after their capture, then the stream runs live.
    clock = start_clock(pts=0, dts=0, time_base=TB, arrival_utc=T0)
    burst = [(i * FRAME, 0.001 * i) for i in range(1, 25)]
    live = [(i * FRAME, (i - 25) * 0.04 + 0.05) for i in range(25, 100)]
    clock, readings = _feed(clock, burst + live)
    arrivals = [T0 + timedelta(seconds=a) for _, a in burst + live]
    assert all(r.ts_utc <= arrival for r, arrival in zip(readings, arrivals, strict=True))
    stamps = [r.ts_utc for r in readings]
    assert stamps == sorted(stamps)
    assert all(r.event is None for r in readings)
    # The anchor moved back to about the capture time of the first frame.
    assert abs((clock.anchor_utc - (T0 - timedelta(seconds=0.95))).total_seconds()) < 0.06


def test_backwards_timestamps_are_reported_and_reanchored() -> None:
    clock = start_clock(pts=0, dts=0, time_base=TB, arrival_utc=T0)
    clock, readings = _feed(clock, [(FRAME, 0.04), (2 * FRAME, 0.08), (0, 0.12)])
    assert readings[-1].event is ClockEvent.TIMESTAMPS_BACKWARDS
    assert readings[-1].event.is_discontinuity
    assert readings[-1].ts_utc >= readings[-2].ts_utc
    _, more = _feed(clock, [(FRAME, 0.16)])
    assert more[0].event is None
    assert more[0].ts_utc == readings[-1].ts_utc + timedelta(seconds=0.04)


def test_forward_jump_is_reported() -> None:
    clock = start_clock(pts=0, dts=0, time_base=TB, arrival_utc=T0)
    _, readings = _feed(clock, [(FRAME, 0.04), (FRAME + 90_000 * 3600, 0.08)])
    assert readings[-1].event is ClockEvent.TIMESTAMPS_JUMP
    assert readings[-1].ts_utc == T0 + timedelta(seconds=0.08)


def test_slow_camera_clock_is_reported_then_reanchored() -> None:
    # The camera's 1 s of pts takes 1.05 s of wall time: 2 s of lag after 40 s.
    clock = start_clock(pts=0, dts=0, time_base=TB, arrival_utc=T0)
    frames = [(i * FRAME, i * 0.04 * 1.05) for i in range(1, 1200)]
    _, readings = _feed(clock, frames)
    events = [(i, r.event) for i, r in enumerate(readings) if r.event]
    assert events, "drift was absorbed silently"
    assert events[0][1] is ClockEvent.CLOCK_SLOW
    # 2 s behind at 42 s of wall time, still behind 3 s later (slow_hold_s): re-anchored
    assert 44 < frames[events[0][0]][1] < 46
    assert all(r.lag_s <= POLICY.max_drift_s + POLICY.slow_hold_s * 0.05 + 0.05 for r in readings)


def test_the_frame_released_by_a_read_timeout_keeps_its_capture_time() -> None:
    # FFmpeg's parser holds the last frame until the next begins; when the link dies, a read timeout
    # (2.5 s) lets it go: it arrives 2.5 s late and nothing follows. Re-anchored at its arrival, it was
    # stamped 2.5 s after it was captured, and the lost span began 2.5 s late (issue 26).
    clock = start_clock(pts=0, dts=0, time_base=TB, arrival_utc=T0)
    live = [(i * FRAME, i * 0.04 + 0.01) for i in range(1, 50)]
    clock, readings = _feed(clock, [*live, (50 * FRAME, 50 * 0.04 + 2.5)])
    held = readings[-1]
    assert held.event is None
    assert held.ts_utc == T0 + timedelta(seconds=50 * 0.04)
    assert held.lag_s == pytest.approx(2.5)
    assert clock.anchor_utc == T0


def test_the_backlog_after_a_short_outage_keeps_its_capture_times() -> None:
    # The link is down 4 s and the connection survives: the camera's backlog (the frames it kept, then a
    # jump over those it dropped) arrives at once when the link returns, then the stream runs live again.
    clock = start_clock(pts=0, dts=0, time_base=TB, arrival_utc=T0)
    before = [(i * FRAME, i * 0.04 + 0.01) for i in range(1, 50)]  # up to 1.96 s
    backlog = [(i * FRAME, 6.0 + 0.001 * (i - 50)) for i in range(50, 60)]  # captured 2.0-2.36 s
    live = [(i * FRAME, i * 0.04 + 0.01) for i in range(151, 250)]  # 6.04 s on, on time
    clock, readings = _feed(clock, before + backlog + live)
    assert [r.event for r in readings if r.event] == []
    stamps = [r.ts_utc for r in readings]
    assert stamps == sorted(stamps)
    assert stamps[49] == T0 + timedelta(seconds=2.0)  # the first late frame: when it was captured
    assert stamps[-1] == T0 + timedelta(seconds=249 * 0.04)
    assert clock.late_since_utc is None


def test_without_a_hold_any_lag_beyond_the_drift_is_a_slow_clock() -> None:
    policy = ClockPolicy(max_drift_s=2.0, slow_hold_s=0.0)
    clock = start_clock(pts=0, dts=0, time_base=TB, arrival_utc=T0)
    _, readings = _feed(clock, [(FRAME, 0.04), (2 * FRAME, 2.6)], policy)
    assert readings[-1].event is ClockEvent.CLOCK_SLOW
    assert readings[-1].ts_utc == T0 + timedelta(seconds=2.6)


def test_fast_camera_clock_is_reported() -> None:
    clock = start_clock(pts=0, dts=0, time_base=TB, arrival_utc=T0)
    frames = [(i * FRAME, i * 0.04 * 0.95) for i in range(1, 1500)]
    _, readings = _feed(clock, frames)
    events = {r.event for r in readings if r.event}
    assert events == {ClockEvent.CLOCK_FAST}
    assert all(r.ts_utc <= T0 + timedelta(seconds=a) for r, (_, a) in zip(readings, frames, strict=True))


def test_naive_arrival_is_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        start_clock(pts=0, dts=0, time_base=TB, arrival_utc=datetime(2025, 1, 1))


def test_invalid_policy_is_rejected() -> None:
    with pytest.raises(ValueError, match="clock policy"):
        ClockPolicy(max_drift_s=0)
    with pytest.raises(ValueError, match="slow_hold_s"):
        ClockPolicy(slow_hold_s=-1)


def test_a_slow_first_read_that_catches_up_is_not_a_fast_camera_clock() -> None:
    # A station busy starting many cameras reads a session's first frame 3.5 s late, then catches up at
    # 1.33x real time for 10.5 s, then reads on time: the anchor moves back 3.5 s, silently.
    policy = ClockPolicy()
    late = 3.5
    clock = start_clock(pts=0, dts=0, time_base=TB, arrival_utc=T0 + timedelta(seconds=late))
    catching_up = [(i * FRAME, late + i * 0.03) for i in range(1, 350)]
    live = [(i * FRAME, i * 0.04 + 0.01) for i in range(350, 900)]
    clock, readings = _feed(clock, catching_up + live, policy)
    assert [r.event for r in readings if r.event] == []
    assert abs((readings[-1].ts_utc - (T0 + timedelta(seconds=899 * 0.04))).total_seconds()) <= 0.02
    # with the old 3 s settling the same session was reported as a fast camera clock
    _, old = _feed(
        start_clock(pts=0, dts=0, time_base=TB, arrival_utc=T0 + timedelta(seconds=late)),
        catching_up + live,
        POLICY,
    )
    assert ClockEvent.CLOCK_FAST in {r.event for r in old}
    # A clock that really runs 5 % fast is still reported with the default policy.
    fast = start_clock(pts=0, dts=0, time_base=TB, arrival_utc=T0)
    _, readings = _feed(fast, [(i * FRAME, i * 0.04 * 0.95) for i in range(1, 1500)], policy)
    assert {r.event for r in readings if r.event} == {ClockEvent.CLOCK_FAST}
