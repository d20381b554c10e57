"""Reconnect back-off: exponential with full jitter, capped, reset after a stable connection."""

from __future__ import annotations

import random

import pytest

from streams.backoff import (
    Backoff,
    BackoffPolicy,
    backoff_ceiling_s,
    plan_retry_delay_s,
    should_reset_attempts,
)


@pytest.mark.parametrize(
    ("attempt", "ceiling"), [(0, 1.0), (1, 2.0), (2, 4.0), (4, 16.0), (5, 30.0), (6, 30.0), (10_000, 30.0)]
)
def test_ceiling_doubles_up_to_the_cap(attempt: int, ceiling: float) -> None:
    assert backoff_ceiling_s(BackoffPolicy(), attempt) == ceiling


def test_full_jitter_spans_zero_to_ceiling() -> None:
    policy = BackoffPolicy()
    assert plan_retry_delay_s(policy, 3, 0.0) == 0.0
    assert plan_retry_delay_s(policy, 3, 0.5) == 4.0
    assert plan_retry_delay_s(policy, 3, 1.0) == 8.0


def test_first_retry_is_within_one_second() -> None:
    rng = random.Random(7)
    delays = [plan_retry_delay_s(BackoffPolicy(), 0, rng.random()) for _ in range(1000)]
    assert max(delays) < 1.0
    assert min(delays) >= 0.0


def test_unauthorized_retries_slowly_with_bounded_jitter() -> None:
    policy = BackoffPolicy(unauthorized_s=60.0, unauthorized_jitter=0.2)
    assert plan_retry_delay_s(policy, 0, 0.0, unauthorized=True) == pytest.approx(48.0)
    assert plan_retry_delay_s(policy, 0, 1.0, unauthorized=True) == pytest.approx(72.0)


def test_stable_connection_resets_attempts() -> None:
    policy = BackoffPolicy(stable_s=30)
    assert not should_reset_attempts(policy, 29.9)
    assert should_reset_attempts(policy, 30.0)
    backoff = Backoff(policy, random.Random(1))
    for _ in range(6):
        backoff.next_delay_s()
    assert backoff.attempt == 6
    backoff.connection_ended(5.0)
    assert backoff.attempt == 6
    backoff.connection_ended(31.0)
    assert backoff.attempt == 0
    assert backoff.next_delay_s() < 1.0


@pytest.mark.parametrize(
    "kwargs",
    [{"first_s": 0}, {"cap_s": 0.5}, {"factor": 0.5}, {"unauthorized_s": 0}, {"unauthorized_jitter": 1.0}],
)
def test_invalid_policy_is_rejected(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="back-off"):
        BackoffPolicy(**kwargs)


def test_invalid_draw_and_attempt_are_rejected() -> None:
    with pytest.raises(ValueError, match="draw"):
        plan_retry_delay_s(BackoffPolicy(), 0, 1.5)
    with pytest.raises(ValueError, match="attempt"):
        backoff_ceiling_s(BackoffPolicy(), -1)
