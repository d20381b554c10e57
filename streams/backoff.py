"""Reconnect delays: exponential back-off with full jitter, and a slow fixed pace for wrong credentials.

Pure: the random draw is passed in (``random.Random`` or a number in [0, 1)), so tests are deterministic.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BackoffPolicy:
    first_s: float = 1.0  # ceiling of the first retry delay: the first retry happens within 1 s
    factor: float = 2.0
    cap_s: float = 30.0
    stable_s: float = 30.0  # a connection that lived this long resets the attempt counter
    unauthorized_s: float = 60.0  # wrong credentials: retry about this often, never in a storm
    unauthorized_jitter: float = 0.2  # +-20 % around unauthorized_s

    def __post_init__(self) -> None:
        if self.first_s <= 0 or self.cap_s < self.first_s or self.factor < 1:
            raise ValueError("back-off needs 0 < first_s <= cap_s and factor >= 1")
        if self.unauthorized_s <= 0 or not 0 <= self.unauthorized_jitter < 1:
            raise ValueError("back-off needs unauthorized_s > 0 and 0 <= unauthorized_jitter < 1")


def backoff_ceiling_s(policy: BackoffPolicy, attempt: int) -> float:
    """Upper bound of the delay before retry number ``attempt`` (0 = first retry)."""
    if attempt < 0:
        raise ValueError("attempt must be >= 0")
    # Compare exponents rather than computing factor**attempt, which overflows for long outages.
    ceiling = policy.first_s
    for _ in range(attempt):
        ceiling *= policy.factor
        if ceiling >= policy.cap_s:
            return policy.cap_s
    return min(ceiling, policy.cap_s)


def plan_retry_delay_s(
    policy: BackoffPolicy, attempt: int, draw: float, *, unauthorized: bool = False
) -> float:
    """Delay before the next attempt. ``draw`` is uniform in [0, 1) (full jitter: uniform in [0, ceiling))."""
    if not 0.0 <= draw <= 1.0:
        raise ValueError("draw must be in [0, 1]")
    if unauthorized:
        spread = policy.unauthorized_s * policy.unauthorized_jitter
        return policy.unauthorized_s - spread + 2 * spread * draw
    return backoff_ceiling_s(policy, attempt) * draw


def should_reset_attempts(policy: BackoffPolicy, connected_for_s: float) -> bool:
    """A connection that stayed up for ``stable_s`` ends the outage: the next failure retries fast again."""
    return connected_for_s >= policy.stable_s


class Backoff:
    """Attempt counter around the pure policy (one per camera stream; not shared between threads)."""

    def __init__(self, policy: BackoffPolicy | None = None, rng: random.Random | None = None) -> None:
        self.policy = policy or BackoffPolicy()
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self.attempt = 0

    def next_delay_s(self, *, unauthorized: bool = False) -> float:
        delay = plan_retry_delay_s(self.policy, self.attempt, self._rng.random(), unauthorized=unauthorized)
        self.attempt += 1
        return delay

    def connection_ended(self, connected_for_s: float) -> None:
        if should_reset_attempts(self.policy, connected_for_s):
            self.attempt = 0
