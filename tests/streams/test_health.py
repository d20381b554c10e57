"""Health state machine, quality assessment and the thread-safe tracker."""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest

from streams.clock import ClockEvent
from streams.health import (
    HealthEvent,
    HealthState,
    HealthTracker,
    QualityPolicy,
    RateMeter,
    assess_quality,
    next_state,
)
from streams.packet import StreamFormat

T0 = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
S = HealthState
E = HealthEvent


@pytest.mark.parametrize(
    ("state", "event", "expected"),
    [
        (S.OFFLINE, E.STARTED, S.CONNECTING),
        (S.CONNECTING, E.CONNECTED, S.ONLINE),
        (S.OFFLINE, E.CONNECTED, S.ONLINE),
        (S.ONLINE, E.QUALITY_BAD, S.DEGRADED),
        (S.DEGRADED, E.QUALITY_BAD, S.DEGRADED),
        (S.DEGRADED, E.QUALITY_OK, S.ONLINE),
        (S.CONNECTING, E.QUALITY_BAD, S.CONNECTING),
        (S.ONLINE, E.LOST, S.CONNECTING),
        (S.DEGRADED, E.LOST, S.CONNECTING),
        (S.CONNECTING, E.FAILED, S.OFFLINE),
        (S.OFFLINE, E.FAILED, S.OFFLINE),
        (S.OFFLINE, E.LOST, S.OFFLINE),
        (S.ONLINE, E.STOPPED, S.OFFLINE),
    ],
)
def test_transitions(state: HealthState, event: HealthEvent, expected: HealthState) -> None:
    assert next_state(state, event) is expected


def _assess(**kwargs: object) -> str | None:
    base: dict[str, object] = {
        "measured_fps": 25.0,
        "expected_fps": 25.0,
        "window_full": True,
        "last_corrupt_utc": None,
        "last_clock_event": None,
        "now_utc": T0,
        "policy": QualityPolicy(),
    }
    base.update(kwargs)
    return assess_quality(**base)  # type: ignore[arg-type]


def test_quality_reasons() -> None:
    assert _assess() is None
    assert _assess(measured_fps=10.0) == "low_fps"
    assert _assess(measured_fps=10.0, window_full=False) is None
    assert _assess(measured_fps=10.0, expected_fps=None) is None
    assert _assess(last_corrupt_utc=T0 - timedelta(seconds=2)) == "corrupt_packets"
    assert _assess(last_corrupt_utc=T0 - timedelta(seconds=20)) is None
    event = (T0 - timedelta(seconds=1), ClockEvent.TIMESTAMPS_BACKWARDS)
    assert _assess(last_clock_event=event) == "timestamps_backwards"


def test_rate_meter_measures_fps_bitrate_and_keyframe_interval() -> None:
    meter = RateMeter(window_s=5.0)
    for i in range(300):  # 12 s at 25 fps, 1000 bytes a frame, keyframe every 50
        meter.add(i / 25, 1000, keyframe=i % 50 == 0)
    assert meter.fps == pytest.approx(25.0)
    assert meter.bitrate_bps == pytest.approx(200_000.0)
    assert meter.keyframe_interval_s == pytest.approx(2.0)
    assert meter.keyframe_interval_frames == 50
    assert meter.window_full


def test_rate_meter_follows_a_rate_change_within_its_window() -> None:
    meter = RateMeter(window_s=5.0)
    t = 0.0
    for _ in range(250):  # 10 s at 25 fps, 1000 bytes a frame
        meter.add(t, 1000, keyframe=False)
        t += 1 / 25
    for _ in range(70):  # then 7 s at 10 fps, 500 bytes a frame
        meter.add(t, 500, keyframe=False)
        t += 1 / 10
    assert meter.fps == pytest.approx(10.0)
    assert meter.bitrate_bps == pytest.approx(40_000.0)
    assert 4.0 <= meter.span_s <= 5.0
    meter.reset()  # a new connection: nothing measured until its packets span a window
    assert meter.fps is None and meter.bitrate_bps is None and not meter.window_full
    meter.add(t, 500, keyframe=False)
    assert meter.fps is None


def _fmt() -> StreamFormat:
    return StreamFormat("cam1", "main", 1, "h264", 640, 360, Fraction(1, 90_000), None, 25.0)


def _packet(i: int, fps: float = 25.0) -> tuple[int, int, bool, float]:
    """(pts, size, keyframe, arrival) of the i-th 100-byte packet (in 1/90000 s), a keyframe every 25."""
    ts = T0 + timedelta(seconds=i / fps)
    return round(i * 90_000 / fps), 100, i % 25 == 0, ts.timestamp()


def test_tracker_follows_a_connection_and_never_shows_the_password() -> None:
    tracker = HealthTracker(
        camera_id="cam1", stream="main", url="rtsp://admin:hunter2@10.0.0.5/s", transport="tcp", now_utc=T0
    )
    assert tracker.snapshot().state is S.OFFLINE
    assert "hunter2" not in tracker.snapshot().url
    tracker.started(T0)
    tracker.attempt()
    tracker.connected(_fmt(), T0, reconnect=False)
    for i in range(200):
        tracker.packet(*_packet(i), 0.01)
    health = tracker.snapshot()
    assert health.state is S.ONLINE
    assert health.fps == pytest.approx(25.0)
    assert health.keyframe_interval_frames == 25
    assert (health.packets, health.bytes) == (200, 20_000)
    with pytest.raises(FrozenInstanceError):
        health.state = S.OFFLINE  # type: ignore[misc]

    tracker.anomaly(_packet(200)[3], corrupt=True, clock_event=None)
    tracker.packet(*_packet(200), 0.01)
    assert tracker.snapshot().state is S.DEGRADED
    assert tracker.snapshot().degraded_reason == "corrupt_packets"
    tracker.anomaly(_packet(201)[3], corrupt=False, clock_event=ClockEvent.CLOCK_SLOW)
    tracker.packet(*_packet(201), 0.01)
    health = tracker.snapshot()
    assert (health.degraded_reason, health.last_clock_event) == ("clock_slow", "clock_slow")
    assert health.bitrate_bps == pytest.approx(20_000.0)

    later = T0 + timedelta(seconds=30)
    tracker.failed(
        "stalled: no data for rtsp://admin:hunter2@10.0.0.5/s", later, lost=True, next_retry_utc=later
    )
    health = tracker.snapshot()
    assert health.state is S.CONNECTING
    assert health.since_utc == later
    assert health.fps is None and health.bitrate_bps is None  # nothing measured without a stream
    assert health.last_error is not None and "hunter2" not in health.last_error
    tracker.failed("connect_failed: refused", later + timedelta(seconds=1), lost=False, next_retry_utc=None)
    assert tracker.snapshot().state is S.OFFLINE
    tracker.connected(_fmt(), later + timedelta(seconds=2), reconnect=True)
    assert tracker.snapshot().reconnects == 1
    tracker.stopped(later + timedelta(seconds=3))
    assert tracker.snapshot().state is S.OFFLINE
    assert not tracker.snapshot().running


def test_low_frame_rate_degrades() -> None:
    tracker = HealthTracker(camera_id="cam1", stream="main", url="rtsp://h/s", transport="tcp", now_utc=T0)
    tracker.started(T0)
    tracker.connected(_fmt(), T0, reconnect=False)
    for i in range(60):
        tracker.packet(*_packet(i, fps=5.0), 0.0)
    health = tracker.snapshot()
    assert health.state is S.DEGRADED
    assert health.degraded_reason == "low_fps"
