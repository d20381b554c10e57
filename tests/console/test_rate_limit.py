from __future__ import annotations

import pytest

from console.account import limiter_keys, new_login_limiter
from console.rate_limit import LoginRateLimiter, lockout_s

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
    assert len(limiter._keys) <= 100


def test_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        LoginRateLimiter(0)


def test_each_further_lockout_doubles_up_to_the_cap() -> None:
    assert [lockout_s(n, window_s=60, max_lock_s=600) for n in (0, 1, 2, 3, 4, 5)] == [
        0,
        60,
        120,
        240,
        480,
        600,
    ]
    limiter = LoginRateLimiter(2, window_s=60, max_lock_s=600)
    limiter.record_failure(KEYS, 0.0)
    limiter.record_failure(KEYS, 1.0)
    assert limiter.retry_after_s(KEYS, 2.0) == 58  # first lock-out: the sliding window
    limiter.record_failure(KEYS, 60.0)  # back at once and wrong again: a second lock-out of 120 s
    assert limiter.retry_after_s(KEYS, 61.0) == 119
    limiter.record_failure(KEYS, 180.0)
    limiter.record_failure(KEYS, 181.0)  # third: 240 s
    assert limiter.retry_after_s(KEYS, 182.0) == 239


def test_a_success_resets_the_back_off_and_strikes_are_forgotten() -> None:
    limiter = LoginRateLimiter(1, window_s=60, max_lock_s=600, forget_after_s=1000)
    limiter.record_failure(KEYS, 0.0)
    limiter.record_failure(KEYS, 60.0)  # strike 2
    assert limiter.retry_after_s(KEYS, 61.0) == 119
    limiter.record_failure(KEYS, 5000.0)  # long after: strike 1 again
    assert limiter.retry_after_s(KEYS, 5001.0) == 59
    for key in KEYS:
        limiter.reset(key)
    assert limiter.retry_after_s(KEYS, 5001.0) is None


def test_only_the_first_refusal_of_a_lockout_is_reported() -> None:
    limiter = LoginRateLimiter(1)
    assert not limiter.note_refusal(KEYS, 0.0)  # not locked: nothing to report
    limiter.record_failure(KEYS, 0.0)
    assert limiter.note_refusal(KEYS, 1.0)
    assert not limiter.note_refusal(KEYS, 2.0)
    limiter.record_failure(KEYS, 60.0)  # a new lock-out is reported again
    assert limiter.note_refusal(KEYS, 61.0)


def test_a_prefix_can_have_its_own_limit() -> None:
    limiter = LoginRateLimiter(1, limits_by_prefix={"ip:": 3})
    limiter.record_failure(("login:a@ip1", "ip:1"), 0.0)
    assert limiter.retry_after_s(("login:a@ip1",), 1.0) is not None
    assert limiter.retry_after_s(("ip:1",), 1.0) is None  # the address has two more
    limiter.record_failure(("login:b@ip1", "ip:1"), 1.0)
    limiter.record_failure(("login:c@ip1", "ip:1"), 2.0)
    assert limiter.retry_after_s(("login:d@ip1", "ip:1"), 3.0) is not None


def test_a_lockout_elsewhere_leaves_the_user_free_at_their_own_address() -> None:
    limiter = new_login_limiter(2)
    for t in (0.0, 1.0):
        limiter.record_failure(limiter_keys("ivanov", "10.9.9.9"), t)
    assert limiter.retry_after_s(limiter_keys("Ivanov", "10.9.9.9"), 2.0) is not None
    assert limiter.retry_after_s(limiter_keys("ivanov", "10.0.0.5"), 2.0) is None
