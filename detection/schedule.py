"""When a zone is watched: daily windows in the station's local time (see :mod:`config.schedule`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from config.schedule import parse_window


def is_scheduled(windows: Sequence[str], ts_utc: datetime, timezone: ZoneInfo) -> bool:
    """True when ``ts_utc`` falls in any window in station time; no windows means always."""
    if not windows:
        return True
    local = ts_utc.astimezone(timezone).time()
    for text in windows:
        start, end = parse_window(text)
        if start < end:
            if start <= local < end:
                return True
        elif local >= start or local < end:
            return True
    return False
