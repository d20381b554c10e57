"""Free-space floor and days-left forecast: pure functions, plus the real disk reader."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage.disk import (
    DiskUsage,
    bytes_to_free,
    forecast_days_left,
    free_floor_bytes,
    headroom_bytes,
    read_disk_usage,
)

GIB = 1024**3


def test_floor_is_the_larger_of_bytes_and_percent() -> None:
    usage = DiskUsage(total_bytes=1000 * GIB, used_bytes=900 * GIB, free_bytes=100 * GIB)
    assert free_floor_bytes(usage, min_free_bytes=5 * GIB, min_free_percent=5) == 50 * GIB
    assert free_floor_bytes(usage, min_free_bytes=80 * GIB, min_free_percent=5) == 80 * GIB


def test_bytes_to_free() -> None:
    usage = DiskUsage(total_bytes=100 * GIB, used_bytes=97 * GIB, free_bytes=3 * GIB)
    assert bytes_to_free(usage, min_free_bytes=5 * GIB, min_free_percent=0) == 2 * GIB
    assert bytes_to_free(usage, min_free_bytes=1 * GIB, min_free_percent=0) == 0
    with pytest.raises(ValueError, match="floor"):
        bytes_to_free(usage, min_free_bytes=-1, min_free_percent=0)


def test_bytes_to_free_with_headroom_starts_before_the_floor_is_crossed() -> None:
    usage = DiskUsage(total_bytes=100 * GIB, used_bytes=94 * GIB, free_bytes=6 * GIB)
    assert bytes_to_free(usage, min_free_bytes=5 * GIB, min_free_percent=0) == 0
    assert bytes_to_free(usage, min_free_bytes=5 * GIB, min_free_percent=0, headroom_bytes=2 * GIB) == GIB
    assert bytes_to_free(usage, min_free_bytes=1 * GIB, min_free_percent=0, headroom_bytes=2 * GIB) == 0
    with pytest.raises(ValueError, match="headroom"):
        bytes_to_free(usage, min_free_bytes=5 * GIB, min_free_percent=0, headroom_bytes=-1)


def test_headroom_is_two_retention_passes_of_writes() -> None:
    # 32 cameras at 4 Mbit/s write 16 MB/s; retention every 60 s: two passes are 1.92 GB
    per_day = 32 * 500_000 * 86_400
    assert headroom_bytes(per_day, 60.0) == 1_920_000_000
    assert headroom_bytes(per_day, 60.0, passes=1) == 960_000_000
    assert headroom_bytes(0.0, 60.0) == 0
    with pytest.raises(ValueError, match=">= 0"):
        headroom_bytes(-1.0, 60.0)


def test_forecast_days_left_per_camera_and_total() -> None:
    # cam-a writes 1 MB/s of footage, cam-b 0.5 MB/s; 100 GB usable above the floor
    recent = {"cam-a": (3_600_000_000, 3600.0), "cam-b": (1_800_000_000, 3600.0), "idle": (0, 0.0)}
    forecast = forecast_days_left(recent, free_bytes=110 * 10**9, floor_bytes=10 * 10**9)
    assert forecast.usable_bytes == 100 * 10**9
    assert forecast.bytes_per_day_by_camera["cam-a"] == pytest.approx(86.4e9)
    assert forecast.bytes_per_day == pytest.approx(129.6e9)
    assert forecast.days_left == pytest.approx(100 / 129.6)
    assert forecast.days_left_by_camera["cam-b"] == pytest.approx(100 / 43.2)
    assert "idle" not in forecast.days_left_by_camera


def test_forecast_without_recording_has_no_end() -> None:
    forecast = forecast_days_left({}, free_bytes=5, floor_bytes=10)
    assert forecast.days_left is None and forecast.usable_bytes == 0


def test_read_disk_usage_of_a_real_directory(tmp_path: Path) -> None:
    usage = read_disk_usage(tmp_path)
    assert usage.total_bytes > 0 and 0 <= usage.free_bytes <= usage.total_bytes
