"""Login rate limit: at most N failed attempts per key in a sliding window, then a growing back-off.

Keys are chosen by the caller (:func:`console.account.limiter_keys`): one for the user name *and* address
together, so wrong passwords typed elsewhere never lock the real user out of their own desk, and a wider one
for the address alone, so one address cannot try many user names.

A key that reaches its limit is locked until the oldest failure in the window leaves it (the first time), then
for ``window_s * 2**(strikes - 1)`` after each further lock-out (capped at ``max_lock_s``). Strikes are
forgotten ``forget_after_s`` after the last failure. A success resets the key.

Thread-safe (login runs in the thread pool) and bounded in memory. Time is passed in, so the decisions are
testable without sleeping.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

WINDOW_S = 60.0
MAX_LOCK_S = 3600.0
FORGET_AFTER_S = 6 * 3600.0
MAX_KEYS = 10_000


def lockout_s(strikes: int, *, window_s: float, max_lock_s: float) -> float:
    """How long the ``strikes``-th lock-out in a row lasts (pure): doubles each time, up to ``max_lock_s``."""
    if strikes < 1:
        return 0.0
    return float(min(window_s * 2.0 ** min(strikes - 1, 32), max_lock_s))


@dataclass(slots=True)
class _KeyState:
    failures: deque[float]
    strikes: int = 0
    locked_until: float = 0.0
    last_failure: float = 0.0
    refusals: int = 0  # refused attempts during the current lock-out


class LoginRateLimiter:
    def __init__(
        self,
        attempts_per_minute: int,
        *,
        window_s: float = WINDOW_S,
        max_lock_s: float = MAX_LOCK_S,
        forget_after_s: float = FORGET_AFTER_S,
        max_keys: int = MAX_KEYS,
        limits_by_prefix: Mapping[str, int] | None = None,
    ) -> None:
        if attempts_per_minute < 1 or any(v < 1 for v in (limits_by_prefix or {}).values()):
            raise ValueError("attempts_per_minute must be at least 1")
        self.limit = attempts_per_minute
        self.limits_by_prefix = dict(limits_by_prefix or {})
        self.window_s = window_s
        self.max_lock_s = max(max_lock_s, window_s)
        self.forget_after_s = max(forget_after_s, self.max_lock_s)
        self.max_keys = max_keys
        self._keys: dict[str, _KeyState] = {}
        self._lock = threading.Lock()

    def limit_for(self, key: str) -> int:
        """The failures ``key`` may have in a window: its prefix's own limit, else the default."""
        for prefix, limit in self.limits_by_prefix.items():
            if key.startswith(prefix):
                return limit
        return self.limit

    def retry_after_s(self, keys: Iterable[str], now: float) -> int | None:
        """Whole seconds until another attempt is allowed for all keys, or None when allowed now."""
        wait = 0.0
        with self._lock:
            for key in keys:
                state = self._pruned(key, now)
                if state is not None:
                    wait = max(wait, state.locked_until - now)
        return max(1, math.ceil(wait)) if wait > 0 else None

    def note_refusal(self, keys: Iterable[str], now: float) -> bool:
        """Count an attempt refused while locked; True for the first refusal of a key's lock-out (the one
        worth an audit row: the rest of the flood would drown the log)."""
        first = False
        with self._lock:
            for key in keys:
                state = self._pruned(key, now)
                if state is not None and state.locked_until > now:
                    state.refusals += 1
                    first = first or state.refusals == 1
        return first

    def record_failure(self, keys: Iterable[str], now: float) -> None:
        with self._lock:
            for key in keys:
                state = self._pruned(key, now)
                if state is None:
                    if len(self._keys) >= self.max_keys:
                        self._evict(now)
                    state = self._keys[key] = _KeyState(failures=deque(maxlen=self.limit_for(key)))
                state.failures.append(now)
                state.last_failure = now
                if len(state.failures) >= self.limit_for(key):
                    self._lock_out(state, now)

    def _lock_out(self, state: _KeyState, now: float) -> None:
        state.strikes += 1
        state.refusals = 0
        if state.strikes == 1:  # the sliding window: free again when the oldest failure leaves it
            until = state.failures[0] + self.window_s
        else:
            until = now + lockout_s(state.strikes, window_s=self.window_s, max_lock_s=self.max_lock_s)
            state.failures.clear()
        state.locked_until = max(state.locked_until, until)

    def reset(self, key: str) -> None:
        with self._lock:
            self._keys.pop(key, None)

    def _pruned(self, key: str, now: float) -> _KeyState | None:
        state = self._keys.get(key)
        if state is None:
            return None
        while state.failures and state.failures[0] <= now - self.window_s:
            state.failures.popleft()
        if now >= state.locked_until and now - state.last_failure >= self.forget_after_s:
            del self._keys[key]
            return None
        return state

    def _evict(self, now: float) -> None:
        for key in list(self._keys):
            self._pruned(key, now)
        while len(self._keys) >= self.max_keys:
            oldest = min(self._keys, key=lambda k: self._keys[k].last_failure)
            del self._keys[oldest]
