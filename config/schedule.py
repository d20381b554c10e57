"""Daily time windows in station time, e.g. ``22:00-06:00`` (parsed here so the config can check them)."""

from __future__ import annotations

import functools
import re
from datetime import time

_WINDOW = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


@functools.lru_cache(maxsize=256)  # rules check every zone's windows on every frame
def parse_window(text: str) -> tuple[time, time]:
    """``"22:00-06:00"`` → (22:00, 06:00). A window whose end is before its start runs past midnight;
    ``24:00`` means the end of the day."""
    match = _WINDOW.match(text.strip())
    if not match:
        raise ValueError(f"schedule window {text!r} is not HH:MM-HH:MM (e.g. 22:00-06:00)")
    h1, m1, h2, m2 = (int(v) for v in match.groups())
    if h2 == 24 and m2 != 0:
        raise ValueError(f"schedule window {text!r}: 24:MM is only allowed as 24:00")
    end = time.max if h2 == 24 else time(h2, m2)
    start = time(h1, m1)
    if start == end:
        raise ValueError(f"schedule window {text!r} is empty (start equals end)")
    return start, end
