"""Read batching decisions (pure): pause only an unwatched, caught-up TCP connection whose read waited."""

from __future__ import annotations

import math

import pytest

from streams.fanout import Fanout, FanoutPolicy
from streams.pacing import (
    NO_FLOOR,
    NO_PACING,
    PacingPolicy,
    lag_floor,
    pacing_applies,
    pause_after_read_s,
)

POLICY = PacingPolicy(pause_s=0.2, idle_read_s=0.01, max_behind_s=0.1, floor_drift=0.001)


def test_a_caught_up_unwatched_connection_pauses_after_a_read_that_waited() -> None:
    assert pause_after_read_s(POLICY, watched=False, waited_s=0.03, behind_s=0.0) == 0.2
    assert pause_after_read_s(POLICY, watched=False, waited_s=0.01, behind_s=0.1) == 0.2  # both bounds met


def test_a_live_viewer_turns_batching_off() -> None:
    assert pause_after_read_s(POLICY, watched=True, waited_s=0.03, behind_s=0.0) == 0.0


def test_a_read_that_returned_at_once_means_data_is_waiting_so_the_thread_reads_on() -> None:
    assert pause_after_read_s(POLICY, watched=False, waited_s=0.009, behind_s=0.0) == 0.0
    assert pause_after_read_s(POLICY, watched=False, waited_s=0.0, behind_s=0.0) == 0.0


def test_a_thread_behind_the_camera_reads_on_even_when_its_read_looked_slow() -> None:
    # waited for the interpreter lock, not for the camera: the packet is late against the lag floor
    assert pause_after_read_s(POLICY, watched=False, waited_s=0.05, behind_s=0.101) == 0.0
    assert pause_after_read_s(POLICY, watched=False, waited_s=0.05, behind_s=2.0) == 0.0


def test_no_pacing_never_pauses() -> None:
    assert not NO_PACING.enabled
    assert pause_after_read_s(NO_PACING, watched=False, waited_s=1.0, behind_s=0.0) == 0.0


def test_lag_floor_takes_the_lowest_lag_and_rises_slowly_to_follow_a_slow_camera_clock() -> None:
    floor = lag_floor(POLICY, NO_FLOOR, 0.05, 0.0)
    assert floor == 0.05  # the first read of a connection sets it
    assert lag_floor(POLICY, floor, 0.02, 1.0) == 0.02  # a lower lag is the new floor
    # a higher lag: the floor rises by at most 1 ms per second (the camera clock may run slow)
    assert lag_floor(POLICY, floor, 0.5, 10.0) == pytest.approx(0.06)
    assert lag_floor(POLICY, floor, 0.5, -1.0) == 0.05  # a clock step back never lowers the drift
    # a camera clock 100 ppm slow: the lag grows 0.1 ms a second, the floor keeps up and it stays caught up
    floor, lag = 0.0, 0.0
    for _ in range(36_000):  # ten hours of one decision a second
        lag += 0.0001
        floor = lag_floor(POLICY, floor, lag, 1.0)
        assert pause_after_read_s(POLICY, watched=False, waited_s=0.03, behind_s=lag - floor) == 0.2
    assert math.isclose(floor, lag)


def test_a_thread_that_falls_behind_stops_pausing_until_it_has_caught_up() -> None:
    floor = lag_floor(POLICY, NO_FLOOR, 0.0, 0.0)
    for lag in (0.2, 0.8, 0.4):  # behind: reads that looked slow do not raise the floor with them
        floor = lag_floor(POLICY, floor, lag, 0.25)
        assert pause_after_read_s(POLICY, watched=False, waited_s=0.05, behind_s=lag - floor) == 0.0
    floor = lag_floor(POLICY, floor, 0.01, 0.25)  # caught up again
    assert pause_after_read_s(POLICY, watched=False, waited_s=0.05, behind_s=0.01 - floor) == 0.2


def test_only_rtsp_over_tcp_is_batched() -> None:
    assert pacing_applies(is_file=False, transport="tcp")
    assert not pacing_applies(is_file=False, transport="udp")  # a datagram socket drops, no push-back
    assert not pacing_applies(is_file=True, transport="tcp")  # a file source paces itself to real time


@pytest.mark.parametrize(
    "kwargs",
    [
        {"pause_s": -0.1},
        {"pause_s": 1.5},
        {"idle_read_s": 0},
        {"max_behind_s": 0},
        {"floor_drift": -0.1},
        {"floor_drift": 1.0},
    ],
)
def test_policy_rejects_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        PacingPolicy(**kwargs)


def test_the_fanout_is_watched_while_a_live_subscription_exists() -> None:
    fanout = Fanout("cam1")
    assert not fanout.watched
    recorder = fanout.subscribe("queue", policy=FanoutPolicy.DROP_OLDEST)
    assert not fanout.watched  # a throughput consumer does not need packets the moment they arrive
    viewer = fanout.subscribe("live", policy=FanoutPolicy.LATEST)
    second = fanout.subscribe("live-2", policy=FanoutPolicy.LATEST)
    assert fanout.watched
    viewer.close()
    assert fanout.watched
    second.close()
    assert not fanout.watched
    recorder.close()
    fanout.subscribe("live-3", policy=FanoutPolicy.LATEST)
    fanout.close()
    assert not fanout.watched


def test_the_first_live_subscription_calls_on_watched_once() -> None:
    calls: list[int] = []
    fanout = Fanout("cam1", on_watched=lambda: calls.append(1))
    fanout.subscribe("queue", policy=FanoutPolicy.DROP_OLDEST)
    assert calls == []
    first = fanout.subscribe("live", policy=FanoutPolicy.LATEST)
    fanout.subscribe("live-2", policy=FanoutPolicy.LATEST)
    assert calls == [1]  # only the change from unwatched to watched
    first.close()
    assert calls == [1]
    fanout.close()
    fanout2 = Fanout("cam2", on_watched=lambda: calls.append(2))
    viewer = fanout2.subscribe("live", policy=FanoutPolicy.LATEST)
    viewer.close()
    fanout2.subscribe("live-again", policy=FanoutPolicy.LATEST)
    assert calls == [1, 2, 2]  # watched again after a time unwatched
