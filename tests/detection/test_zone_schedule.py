from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from config.schedule import parse_window
from detection.schedule import is_scheduled
from detection.zone import ZoneSpec, feet_in_zone, is_point_in_polygon

SQUARE = [(0.25, 0.25), (0.75, 0.25), (0.75, 0.75), (0.25, 0.75)]


@pytest.mark.parametrize(
    ("box", "inside"),
    [
        ((40, 10, 60, 50), True),  # feet at (50, 50): inside although the head is outside
        ((40, 60, 60, 90), False),  # feet below the zone although the box overlaps it
        ((0, 0, 10, 40), False),
    ],
)
def test_membership_is_by_the_bottom_centre(box: tuple[float, float, float, float], inside: bool) -> None:
    assert feet_in_zone(box, SQUARE, (100, 100)) is inside


def test_point_in_a_concave_polygon() -> None:
    u_shape = [(0, 0), (30, 0), (30, 30), (20, 30), (20, 10), (10, 10), (10, 30), (0, 30)]
    assert is_point_in_polygon((5, 20), u_shape)
    assert not is_point_in_polygon((15, 20), u_shape)


def test_the_whole_frame_zone_holds_everything() -> None:
    assert ZoneSpec().holds_feet((0, 0, 1, 1), (10, 10))


ALMATY = ZoneInfo("Asia/Almaty")  # UTC+5


@pytest.mark.parametrize(
    ("utc_hour", "expected"),
    [(16, False), (17, True), (22, True), (0, True), (1, False)],  # 21:00, 22:00, 03:00, 05:00, 06:00 local
)
def test_a_night_window_runs_past_midnight_in_station_time(utc_hour: int, expected: bool) -> None:
    ts = datetime(2026, 12, 1, utc_hour, 0, tzinfo=UTC)
    assert is_scheduled(["22:00-06:00"], ts, ALMATY) is expected


def test_no_windows_means_always() -> None:
    assert is_scheduled([], datetime(2026, 1, 1, tzinfo=UTC), ALMATY)


@pytest.mark.parametrize("text", ["22-06", "25:00-06:00", "10:00-10:00", "08:00-24:30"])
def test_bad_windows_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="schedule window"):
        parse_window(text)
