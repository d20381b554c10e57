from __future__ import annotations

import pytest

from console.rate_limit import LoginRateLimiter

KEYS = ("user:ivanov", "ip:10.0.0.5")


def test_allows_until_the_limit_then_says_how_long_to_wait() -> None:
    limiter = LoginRateLimiter(3)
    for t in (0.0, 10.0, 20.0):
        assert limiter.retry_after_s(KEYS, t) is None
        limiter.record_failure(KEYS, t)
    assert limiter.retry_after_s(KEYS, 21.0) == 39  # the first failure leaves the window at t=60
    assert limiter.retry_after_s(KEYS, 59.5) == 1
    assert limiter.retry_after_s(KEYS, 60.0) is None  # sliding window: one slot free again


def test_each_key_counts_on_its_own() -> None:
    limiter = LoginRateLimiter(2)
    limiter.record_failure(("user:a", "ip:1"), 0.0)
    limiter.record_failure(("user:b", "ip:1"), 1.0)
    assert limiter.retry_after_s(("user:c", "ip:1"), 2.0) is not None  # the address is used up
    assert limiter.retry_after_s(("user:a", "ip:2"), 2.0) is None  # user a has one failure only


def test_reset_clears_a_key() -> None:
    limiter = LoginRateLimiter(1)
    limiter.record_failure(KEYS, 0.0)
    limiter.reset("user:ivanov")
    assert limiter.retry_after_s(("user:ivanov",), 1.0) is None
    assert limiter.retry_after_s(("ip:10.0.0.5",), 1.0) is not None


def test_memory_is_bounded() -> None:
    limiter = LoginRateLimiter(1, max_keys=100)
    for i in range(1000):
        limiter.record_failure((f"ip:{i}",), float(i) / 1000)
    assert len(limiter._failures) <= 100


def test_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        LoginRateLimiter(0)
