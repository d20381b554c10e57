"""Reconnect back-off: fast retries through a camera reboot, then a gradual back-off to the cap."""

from __future__ import annotations

import random
from itertools import pairwise

import pytest

from streams.backoff import Backoff, BackoffPolicy, plan_retry_delay_s, retry_ceiling_s

OPEN_S = 0.4  # an RTSP open to the test server (fpsprobesize=0); the resume budget below includes it
RESUME_BUDGET_S = 3.0


@pytest.mark.parametrize(
    ("outage_s", "ceiling_s"),
    [
        (0.0, 1.5),
        (10.0, 1.5),
        (90.0, 1.5),  # the longest usual camera reboot
        (179.9, 1.5),
        (180.0, 1.5),  # fast_for_s: from here on the ceiling grows by 0.1 s per second of outage
        (190.0, 2.5),
        (300.0, 13.5),
        (465.0, 30.0),  # the cap, about 8 minutes into the outage
        (3600.0, 30.0),
        (1e12, 30.0),
    ],
)
def test_ceiling_is_fast_through_a_reboot_then_grows_to_the_cap(outage_s: float, ceiling_s: float) -> None:
    assert retry_ceiling_s(BackoffPolicy(), outage_s) == pytest.approx(ceiling_s)


@pytest.mark.parametrize(
    ("outage_s", "draw", "delay_s"),
    [
        (0.0, 0.0, 1.5),  # the draw shortens the delay by up to a third, never lengthens it
        (0.0, 0.5, 1.25),
        (0.0, 1.0, 1.0),
        (465.0, 0.0, 30.0),
        (465.0, 1.0, 20.0),
    ],
)
def test_jitter_shortens_the_delay_by_up_to_a_third(outage_s: float, draw: float, delay_s: float) -> None:
    assert plan_retry_delay_s(BackoffPolicy(), outage_s, draw) == pytest.approx(delay_s)


def _attempts(policy: BackoffPolicy, until_s: float, seed: int, attempt_s: float = 0.0) -> list[float]:
    """When the attempts of one outage start (seconds after it began), each failing after ``attempt_s``."""
    rng = random.Random(seed)
    times, t = [], 0.0
    while t <= until_s:
        times.append(t)
        t += attempt_s + plan_retry_delay_s(policy, t + attempt_s, rng.random())
    return times


def _wait_after_return_s(outage_s: float, seed: int) -> float:
    """From the camera's return until the next attempt starts, for an outage of ``outage_s``."""
    return min(t for t in _attempts(BackoffPolicy(), outage_s + 60, seed) if t >= outage_s) - outage_s


@pytest.mark.parametrize("outage_s", [5.0, 10.0, 30.0, 90.0, 179.0])
def test_a_camera_back_from_a_reboot_is_retried_within_the_resume_budget(outage_s: float) -> None:
    # issue 26: with an exponential back-off from the first failure, half the runs waited 5-29 s here
    waits = [_wait_after_return_s(outage_s, seed) for seed in range(300)]
    assert max(waits) <= 1.5
    assert max(waits) + OPEN_S <= RESUME_BUDGET_S


@pytest.mark.parametrize(("outage_s", "max_wait_s"), [(300.0, 14.0), (600.0, 30.0), (3600.0, 30.0)])
def test_a_long_outage_costs_a_bounded_wait(outage_s: float, max_wait_s: float) -> None:
    waits = [_wait_after_return_s(outage_s, seed) for seed in range(300)]
    assert max(waits) <= max_wait_s


def test_a_dead_camera_is_not_stormed() -> None:
    hour = _attempts(BackoffPolicy(), 3600.0, seed=1)
    first_3_min = [t for t in hour if t < 180]
    assert 120 <= len(first_3_min) <= 180  # every 1-1.5 s
    assert len(hour) < 400  # then at most one every 20-30 s
    delays = [b - a for a, b in pairwise(hour)]
    assert min(delays) >= 1.0
    assert max(delays) <= 30.0
    assert all(0.66 * a <= b <= 1.7 * a for a, b in pairwise(delays))  # gradual: no jumps


def test_a_slow_failing_attempt_does_not_stretch_the_fast_phase() -> None:
    # a camera that is powered off: every attempt runs into the connect timeout (2.5 s) before it fails
    times = _attempts(BackoffPolicy(), 180.0, seed=2, attempt_s=2.5)
    gaps = [b - a for a, b in pairwise(times)]
    assert max(gaps) <= 2.5 + 1.5


def test_unauthorized_retries_slowly_with_bounded_jitter() -> None:
    policy = BackoffPolicy(unauthorized_s=60.0, unauthorized_jitter=0.2)
    assert plan_retry_delay_s(policy, 0, 0.0, unauthorized=True) == pytest.approx(48.0)
    assert plan_retry_delay_s(policy, 0, 1.0, unauthorized=True) == pytest.approx(72.0)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_outage_clock_starts_at_the_first_failure_and_ends_when_packets_arrive() -> None:
    clock = FakeClock()
    backoff = Backoff(BackoffPolicy(), random.Random(3), monotonic=clock)
    assert backoff.outage_s == 0.0
    assert backoff.next_delay_s() <= 1.5
    clock.now += 300.0
    assert backoff.outage_s == 300.0
    assert 9.0 <= backoff.next_delay_s() <= 13.5
    clock.now += 1000.0
    assert 20.0 <= backoff.next_delay_s() <= 30.0
    backoff.delivered()  # a connection delivered packets
    assert backoff.outage_s == 0.0
    clock.now += 5.0
    assert backoff.next_delay_s() <= 1.5  # a new outage: fast again
    clock.now += 100.0
    assert backoff.next_delay_s() <= 1.5


def test_unauthorized_delay_keeps_its_pace_whatever_the_outage() -> None:
    clock = FakeClock()
    backoff = Backoff(BackoffPolicy(), random.Random(4), monotonic=clock)
    assert 48.0 <= backoff.next_delay_s(unauthorized=True) <= 72.0
    clock.now += 10.0
    assert 48.0 <= backoff.next_delay_s(unauthorized=True) <= 72.0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"fast_s": 0},
        {"cap_s": 1.0},
        {"fast_for_s": -1},
        {"growth": -0.1},
        {"jitter": 1.0},
        {"unauthorized_s": 0},
        {"unauthorized_jitter": 1.0},
    ],
)
def test_invalid_policy_is_rejected(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="back-off"):
        BackoffPolicy(**kwargs)


def test_invalid_draw_and_outage_are_rejected() -> None:
    with pytest.raises(ValueError, match="draw"):
        plan_retry_delay_s(BackoffPolicy(), 0, 1.5)
    with pytest.raises(ValueError, match="outage_s"):
        retry_ceiling_s(BackoffPolicy(), -1)
