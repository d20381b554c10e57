"""Free space on the recordings file system, the free-space floor, and how many days of recording are left.

Reading the disk is one injectable function (:data:`DiskUsageReader`); everything else is pure.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

SECONDS_PER_DAY = 86_400.0
#: Retention frees this many passes' worth of the cameras' writes beyond the floor, so that what they write
#: until the next pass (and during a slow one) lands above the floor instead of below it.
HEADROOM_PASSES = 2.0


@dataclass(frozen=True, slots=True)
class DiskUsage:
    total_bytes: int
    used_bytes: int
    free_bytes: int


DiskUsageReader = Callable[[Path], DiskUsage]


def read_disk_usage(path: Path) -> DiskUsage:
    """Usage of the file system holding ``path`` (``shutil.disk_usage``; free = available to us)."""
    usage = shutil.disk_usage(path)
    return DiskUsage(total_bytes=usage.total, used_bytes=usage.used, free_bytes=usage.free)


def free_floor_bytes(usage: DiskUsage, *, min_free_bytes: int, min_free_percent: float) -> int:
    """The free space to keep: the larger of the absolute floor and the percentage of the file system."""
    if min_free_bytes < 0 or not 0 <= min_free_percent <= 100:
        raise ValueError("free-space floor must be >= 0 bytes and between 0 and 100 percent")
    return max(min_free_bytes, math.ceil(usage.total_bytes * min_free_percent / 100.0))


def bytes_to_free(
    usage: DiskUsage, *, min_free_bytes: int, min_free_percent: float, headroom_bytes: int = 0
) -> int:
    """How many bytes must be deleted to get back above the floor plus ``headroom_bytes`` (0 when there is
    enough space)."""
    if headroom_bytes < 0:
        raise ValueError("headroom must be >= 0 bytes")
    floor = free_floor_bytes(usage, min_free_bytes=min_free_bytes, min_free_percent=min_free_percent)
    return max(0, floor + headroom_bytes - usage.free_bytes)


def headroom_bytes(bytes_per_day: float, interval_s: float, passes: float = HEADROOM_PASSES) -> int:
    """What the cameras write in ``passes`` retention intervals at ``bytes_per_day``; pure.

    Retention runs every ``interval_s``; between two passes the cameras keep writing. Freeing only down to the
    floor lets free space sink below it by one interval's worth of footage before the next pass (measured:
    1 GB below at 32 cameras, a minute apart). Freeing this much more keeps the floor a floor.
    """
    if bytes_per_day < 0 or interval_s < 0 or passes < 0:
        raise ValueError("rate, interval and passes must be >= 0")
    return math.ceil(bytes_per_day / SECONDS_PER_DAY * interval_s * passes)


@dataclass(frozen=True, slots=True)
class Forecast:
    """Days until the floor is reached at the recent recording rate (None: nothing is being recorded)."""

    bytes_per_day_by_camera: Mapping[str, float]
    bytes_per_day: float
    usable_bytes: int  # free bytes above the floor
    days_left: float | None
    days_left_by_camera: Mapping[str, float | None]  # if that camera alone were recording


def forecast_days_left(
    recent: Mapping[str, tuple[int, float]], *, free_bytes: int, floor_bytes: int
) -> Forecast:
    """Forecast from recent footage per camera, ``{camera: (bytes, seconds of footage)}``.

    A camera's rate is bytes per second of footage, i.e. what it writes while it records continuously.
    """
    rates: dict[str, float] = {}
    for camera_id, (size, seconds) in recent.items():
        if seconds > 0 and size > 0:
            rates[camera_id] = size / seconds * SECONDS_PER_DAY
    usable = max(0, free_bytes - floor_bytes)
    total = sum(rates.values())
    return Forecast(
        bytes_per_day_by_camera=rates,
        bytes_per_day=total,
        usable_bytes=usable,
        days_left=usable / total if total > 0 else None,
        days_left_by_camera={camera: usable / rate for camera, rate in rates.items()},
    )
