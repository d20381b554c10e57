"""The person-in-zone rule as a pure state machine over synthetic tracks."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from detection.motion import Motion
from detection.presence_rule import PresenceRule
from detection.rule import Episode, Observation
from detection.track import Track
from detection.zone import ZoneSpec

UTC_ZONE = ZoneInfo("UTC")
DOOR = ZoneSpec(name="door", points=((0.5, 0.0), (1.0, 0.0), (1.0, 1.0), (0.5, 1.0)))
IN_DOOR = (60.0, 20.0, 70.0, 60.0)  # feet at x 65 of 100: in the right half
OUTSIDE = (10.0, 20.0, 20.0, 60.0)


def _rel(t_s: float) -> float:
    return round(t_s - 1_764_000_000, 3)


def _obs(t_s: float, *tracks: Track) -> Observation:
    ts = datetime.fromtimestamp(1_764_000_000 + t_s, UTC)
    return Observation(1_764_000_000 + t_s, ts, (100, 100), tuple(tracks), Motion.none())


def _person(track_id: int, box: tuple[float, float, float, float], score: float = 0.8) -> Track:
    return Track(track_id, box, score, "person", 0.0)


def _run(rule: PresenceRule, frames: list[tuple[float, list[Track]]]) -> list[Episode]:
    closed: list[Episode] = []
    for t_s, tracks in frames:
        closed += rule.update(_obs(t_s, *tracks)).closed
    closed += rule.finish(1_764_000_000 + frames[-1][0]).closed
    return closed


def _steps(start: float, end: float, *tracks: Track) -> list[tuple[float, list[Track]]]:
    count = round((end - start) / 0.2)
    return [(round(start + i * 0.2, 3), list(tracks)) for i in range(count + 1)]


def test_a_person_in_the_zone_is_one_event_from_entry_to_exit() -> None:
    rule = PresenceRule([DOOR], UTC_ZONE)
    frames = _steps(0, 2) + _steps(2.2, 10, _person(1, IN_DOOR)) + _steps(10.2, 20)
    (event,) = _run(rule, frames)
    assert event.zone == "door"
    assert _rel(event.start_t_s) == 2.2
    assert _rel(event.end_t_s) == 10.0
    assert event.track == 1


def test_a_person_outside_the_zone_or_too_briefly_inside_is_no_event() -> None:
    rule = PresenceRule([DOOR], UTC_ZONE)
    frames = _steps(0, 10, _person(1, OUTSIDE)) + _steps(10.2, 10.6, _person(2, IN_DOOR)) + _steps(10.8, 20)
    assert _run(rule, frames) == []


def test_a_weak_detection_is_no_event() -> None:
    rule = PresenceRule([DOOR], UTC_ZONE)
    assert _run(rule, _steps(0, 10, _person(1, IN_DOOR, score=0.3))) == []


def test_a_loiterer_and_people_coming_and_going_make_one_event() -> None:
    rule = PresenceRule([DOOR], UTC_ZONE)
    frames = (
        _steps(0, 30, _person(1, IN_DOOR))
        + _steps(30.2, 31, _person(2, IN_DOOR))  # the first leaves, another is there
        + _steps(31.2, 32.6)  # a gap shorter than end_after_s
        + _steps(32.8, 60, _person(3, IN_DOOR))
        + _steps(60.2, 70)
    )
    (event,) = _run(rule, frames)
    assert (_rel(event.start_t_s), _rel(event.end_t_s)) == (0.0, 60.0)


def test_a_long_gap_splits_events() -> None:
    rule = PresenceRule([DOOR], UTC_ZONE)
    frames = _steps(0, 5, _person(1, IN_DOOR)) + _steps(5.2, 15) + _steps(15.2, 20, _person(2, IN_DOOR))
    assert len(_run(rule, frames)) == 2


def test_the_schedule_gates_events_in_station_time() -> None:
    night = ZoneSpec(name="roof", points=DOOR.points, schedule=("22:00-06:00",))
    almaty = ZoneInfo("Asia/Almaty")
    rule = PresenceRule([night], almaty)
    # 1_764_000_000 is 2025-11-24 16:00 UTC = 21:00 in Almaty: outside the window for the first hour.
    frames = _steps(0, 10, _person(1, IN_DOOR))
    assert _run(rule, frames) == []
    rule = PresenceRule([night], almaty)
    frames = _steps(3600, 3610, _person(1, IN_DOOR))  # 22:00 local
    assert len(_run(rule, frames)) == 1


def test_per_zone_minimum_height_and_dwell() -> None:
    strict = ZoneSpec(name="door", points=DOOR.points, min_height_px=50, min_dwell_s=5)
    rule = PresenceRule([strict], UTC_ZONE)
    assert _run(rule, _steps(0, 10, _person(1, IN_DOOR))) == []  # 40 px tall
    rule = PresenceRule([strict], UTC_ZONE)
    tall = (60.0, 0.0, 70.0, 60.0)
    assert _run(rule, _steps(0, 4, _person(1, tall))) == []  # 4 s < 5 s dwell
    rule = PresenceRule([strict], UTC_ZONE)
    assert len(_run(rule, _steps(0, 6, _person(1, tall)))) == 1


def test_the_same_frames_give_the_same_events() -> None:
    frames = _steps(0, 5, _person(1, IN_DOOR)) + _steps(5.2, 15) + _steps(15.2, 20, _person(2, IN_DOOR))
    first = [(e.start_t_s, e.end_t_s) for e in _run(PresenceRule([DOOR], UTC_ZONE), frames)]
    second = [(e.start_t_s, e.end_t_s) for e in _run(PresenceRule([DOOR], UTC_ZONE), frames)]
    assert first == second
