"""Which repeated events earn an audit row: the first of each key, then at most one per interval.

Some auditable events repeat by design or by attack: the live wall polls a camera's snapshot every few
seconds, and a script with a revoked API token retries until someone stops it. One row per key and interval
says who did what, from where and since when, without one row per request drowning the log.

Thread-safe, bounded in memory, time passed in (monotonic seconds).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Final

DEFAULT_INTERVAL_S: Final = 300.0
MAX_KEYS: Final = 10_000


def is_due(last_s: float | None, now_s: float, interval_s: float) -> bool:
    """True when nothing of this key was audited yet, or the last row is ``interval_s`` old (pure)."""
    return last_s is None or now_s - last_s >= interval_s


class AuditThrottle:
    def __init__(self, *, interval_s: float = DEFAULT_INTERVAL_S, max_keys: int = MAX_KEYS) -> None:
        if interval_s <= 0 or max_keys < 1:
            raise ValueError("interval_s and max_keys must be positive")
        self.interval_s = interval_s
        self.max_keys = max_keys
        self._last: OrderedDict[tuple[str, ...], float] = OrderedDict()
        self._lock = threading.Lock()

    def should_audit(self, key: tuple[str, ...], now_s: float) -> bool:
        """True (and remembered) when an event of ``key`` at ``now_s`` gets its audit row."""
        with self._lock:
            if not is_due(self._last.get(key), now_s, self.interval_s):
                return False
            self._last[key] = now_s
            self._last.move_to_end(key)
            while len(self._last) > self.max_keys:
                self._last.popitem(last=False)
            return True

    def forget(self, key: tuple[str, ...]) -> None:
        """Audit the next event of ``key`` again (e.g. a new live view of the same camera)."""
        with self._lock:
            self._last.pop(key, None)
