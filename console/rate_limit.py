"""Login rate limit: at most N failed attempts per key (user name, source address) in a sliding minute.

Thread-safe (login runs in the thread pool) and bounded in memory. Time is passed in, so the decisions are
testable without sleeping.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Iterable

WINDOW_S = 60.0
MAX_KEYS = 10_000


class LoginRateLimiter:
    def __init__(
        self, attempts_per_minute: int, *, window_s: float = WINDOW_S, max_keys: int = MAX_KEYS
    ) -> None:
        if attempts_per_minute < 1:
            raise ValueError("attempts_per_minute must be at least 1")
        self.limit = attempts_per_minute
        self.window_s = window_s
        self.max_keys = max_keys
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after_s(self, keys: Iterable[str], now: float) -> int | None:
        """Whole seconds until another attempt is allowed for all keys, or None when allowed now."""
        wait = 0.0
        with self._lock:
            for key in keys:
                times = self._pruned(key, now)
                if times is not None and len(times) >= self.limit:
                    wait = max(wait, times[len(times) - self.limit] + self.window_s - now)
        return max(1, math.ceil(wait)) if wait > 0 else None

    def record_failure(self, keys: Iterable[str], now: float) -> None:
        with self._lock:
            for key in keys:
                times = self._pruned(key, now)
                if times is None:
                    if len(self._failures) >= self.max_keys:
                        self._evict(now)
                    times = self._failures[key] = deque(maxlen=self.limit)
                times.append(now)

    def reset(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)

    def _pruned(self, key: str, now: float) -> deque[float] | None:
        times = self._failures.get(key)
        if times is None:
            return None
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        return times

    def _evict(self, now: float) -> None:
        for key in list(self._failures):
            self._pruned(key, now)
        while len(self._failures) >= self.max_keys:
            oldest = min(self._failures, key=lambda k: self._failures[k][-1])
            del self._failures[oldest]
