"""Which clips a complaint's package holds: one per camera and stretch of attached footage (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from console.export import plan_evidence_clips

T = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def m(minutes: float) -> datetime:
    return T + timedelta(minutes=minutes)


def test_overlapping_and_touching_ranges_of_a_camera_merge() -> None:
    assert plan_evidence_clips([("a", m(0), m(5)), ("a", m(3), m(8)), ("a", m(8), m(9))]) == (
        ("a", m(0), m(9)),
    )


def test_separate_ranges_and_other_cameras_stay_apart() -> None:
    ranges = [("b", m(1), m(2)), ("a", m(240), m(245)), ("a", m(0), m(5))]
    assert plan_evidence_clips(ranges) == (
        ("a", m(0), m(5)),
        ("a", m(240), m(245)),
        ("b", m(1), m(2)),
    )


def test_nothing_attached_is_no_clip() -> None:
    assert plan_evidence_clips([]) == ()
