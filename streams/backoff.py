"""Reconnect delays: fast retries while a camera is probably rebooting, then a gradual back-off to a cap.

The delay depends on how long the outage has lasted, not on how many attempts failed. A camera reboots in
30-90 s: for the first ``fast_for_s`` of an outage the station retries every ``fast_s`` or a little sooner, so
a camera that comes back is seen again within about ``fast_s``. An exponential back-off from the first
failure reached tens of seconds after a handful of instant refusals and left a camera back after 10 s
unrecorded for 25 s more (issue 26). Beyond ``fast_for_s`` the delay grows by ``growth`` seconds per second of
outage, up to ``cap_s``: a camera back after an outage of T > ``fast_for_s`` waits at most about
``fast_s + growth * (T - fast_for_s)``. A connection that delivered packets ends the outage. Wrong credentials
are retried at a slow fixed pace instead (``unauthorized_s``), never in a storm.

Pure: the random draw is passed in (``random.Random`` or a number in [0, 1]), so tests are deterministic; only
:class:`Backoff` reads a clock (the monotonic one, injectable).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BackoffPolicy:
    fast_s: float = 1.5  # delay ceiling while the outage is young: a returning camera is seen within this
    fast_for_s: float = 180.0  # how long an outage counts as young: a 30-90 s reboot, with room to spare
    growth: float = 0.1  # then the ceiling grows by this many seconds per second of outage ...
    cap_s: float = 30.0  # ... up to this
    jitter: float = 1 / 3  # each delay is uniform in [ceiling * (1 - jitter), ceiling]: cameras spread out
    unauthorized_s: float = 60.0  # wrong credentials: retry about this often
    unauthorized_jitter: float = 0.2  # +-20 % around unauthorized_s

    def __post_init__(self) -> None:
        if self.fast_s <= 0 or self.cap_s < self.fast_s or self.fast_for_s < 0 or self.growth < 0:
            raise ValueError("back-off needs 0 < fast_s <= cap_s, fast_for_s >= 0 and growth >= 0")
        if not 0 <= self.jitter < 1:
            raise ValueError("back-off needs 0 <= jitter < 1")
        if self.unauthorized_s <= 0 or not 0 <= self.unauthorized_jitter < 1:
            raise ValueError("back-off needs unauthorized_s > 0 and 0 <= unauthorized_jitter < 1")


def retry_ceiling_s(policy: BackoffPolicy, outage_s: float) -> float:
    """The longest delay before the next attempt, ``outage_s`` seconds into an outage; pure."""
    if outage_s < 0:
        raise ValueError("outage_s must be >= 0")
    beyond_s = outage_s - policy.fast_for_s
    if beyond_s <= 0:
        return policy.fast_s
    return min(policy.cap_s, policy.fast_s + policy.growth * beyond_s)


def plan_retry_delay_s(
    policy: BackoffPolicy, outage_s: float, draw: float, *, unauthorized: bool = False
) -> float:
    """Delay before the next attempt, ``outage_s`` seconds after the outage began. ``draw`` is uniform in
    [0, 1]: the delay is ``ceiling * (1 - jitter * draw)``, never longer than the ceiling; pure."""
    if not 0.0 <= draw <= 1.0:
        raise ValueError("draw must be in [0, 1]")
    if unauthorized:
        spread = policy.unauthorized_s * policy.unauthorized_jitter
        return policy.unauthorized_s - spread + 2 * spread * draw
    return retry_ceiling_s(policy, outage_s) * (1 - policy.jitter * draw)


class Backoff:
    """The outage clock around the pure policy (one per camera stream; not shared between threads)."""

    def __init__(
        self,
        policy: BackoffPolicy | None = None,
        rng: random.Random | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.policy = policy or BackoffPolicy()
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._monotonic = monotonic
        self._outage_began: float | None = None

    @property
    def outage_s(self) -> float:
        """How long the current outage has lasted (0 while connected)."""
        if self._outage_began is None:
            return 0.0
        return max(0.0, self._monotonic() - self._outage_began)

    def next_delay_s(self, *, unauthorized: bool = False) -> float:
        """The delay after a failed or lost connection; the first failure starts the outage clock."""
        if self._outage_began is None:
            self._outage_began = self._monotonic()
        return plan_retry_delay_s(self.policy, self.outage_s, self._rng.random(), unauthorized=unauthorized)

    def delivered(self) -> None:
        """A connection delivered packets: the outage is over, the next failure retries fast again."""
        self._outage_began = None
