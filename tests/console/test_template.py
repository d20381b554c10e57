from __future__ import annotations

from datetime import UTC, datetime

import pytest

from console.template import localtime_filter


def test_localtime_converts_utc_to_the_station_zone() -> None:
    localtime = localtime_filter("Asia/Almaty")
    moment = datetime(2024, 5, 1, 21, 30, tzinfo=UTC)
    assert localtime(moment) in {"2024-05-02 02:30", "2024-05-02 03:30"}  # +05 since 2024-03, +06 before
    assert localtime(datetime(2025, 1, 1, 0, 0, tzinfo=UTC), "%H:%M") == "05:00"
    assert localtime(None) == "—"


def test_localtime_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="naive"):
        localtime_filter("UTC")(datetime(2024, 1, 1))
