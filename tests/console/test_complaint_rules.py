"""Complaint workflow rules as tables: transitions, outcomes, input checks, camera proposals, access."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from console.complaint import (
    CameraPlace,
    ComplaintRuleError,
    Place,
    TransitionError,
    attach_needs_supervisor,
    check_attach_range,
    check_incident_window,
    may_attach_range,
    may_edit,
    may_read,
    may_release_evidence,
    may_see_personal_data,
    plan_transition,
    propose_cameras,
    release_needs_reason,
)
from console.permission import permissions_for
from storage.model import Role

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("current", "target", "outcome", "note", "expected"),
    [
        ("new", "in_progress", None, None, "ok"),
        ("new", "rejected", "unfounded", "не подтвердилось", "ok"),
        ("new", "rejected", "unfounded", None, "note_required"),
        ("new", "resolved", "warning_given", None, "transition_not_allowed"),
        ("in_progress", "resolved", None, None, "outcome_required"),
        ("in_progress", "resolved", "unfounded", None, "invalid_outcome"),
        ("in_progress", "resolved", "bogus", None, "invalid_outcome"),
        ("in_progress", "resolved", "protocol_drawn_up", None, "ok"),
        ("in_progress", "rejected", "referred", "передано в акимат", "ok"),
        ("in_progress", "in_progress", None, None, "transition_not_allowed"),
        ("in_progress", "new", None, None, "transition_not_allowed"),
        ("resolved", "in_progress", None, None, "note_required"),
        ("resolved", "in_progress", None, "новые обстоятельства", "ok"),
        ("rejected", "in_progress", "warning_given", "x", "invalid_outcome"),
        ("resolved", "rejected", "unfounded", "x", "transition_not_allowed"),
    ],
)
def test_transition_table(
    current: str, target: str, outcome: str | None, note: str | None, expected: str
) -> None:
    if expected == "ok":
        plan = plan_transition(current, target, outcome=outcome, note=note)
        assert plan.closes is (target in ("resolved", "rejected"))
        assert plan.reopens is (current in ("resolved", "rejected"))
    else:
        with pytest.raises(TransitionError) as caught:
            plan_transition(current, target, outcome=outcome, note=note)
        assert caught.value.code == expected


@pytest.mark.parametrize(
    ("start", "end", "received", "code"),
    [
        (-60, -30, 0, None),
        (-30, -60, 0, "invalid_window"),
        (-30, 30, 0, "window_in_future"),
        (-60, -30, 60, "received_in_future"),
        (-60 * 24 * 8, -30, 0, "window_too_long"),
        (-60, 4, 0, None),  # a few minutes of clock skew are tolerated
    ],
)
def test_incident_window(start: int, end: int, received: int, code: str | None) -> None:
    def call() -> None:
        check_incident_window(
            received_at=NOW + timedelta(minutes=received),
            incident_start=NOW + timedelta(minutes=start),
            incident_end=NOW + timedelta(minutes=end),
            now=NOW,
        )

    if code is None:
        call()
    else:
        with pytest.raises(ComplaintRuleError) as caught:
            call()
        assert caught.value.code == code


def test_naive_times_and_attach_ranges() -> None:
    with pytest.raises(ComplaintRuleError, match="time zone"):
        check_incident_window(
            received_at=NOW.replace(tzinfo=None), incident_start=NOW, incident_end=NOW, now=NOW
        )
    with pytest.raises(ComplaintRuleError) as caught:
        check_attach_range(start_utc=NOW - timedelta(days=4), end_utc=NOW, now=NOW)
    assert caught.value.code == "range_too_long"
    check_attach_range(start_utc=NOW - timedelta(hours=1), end_utc=NOW, now=NOW)


CAMERAS = [
    CameraPlace("b5-e1", "B5 E1", building="5", entrance="1", area="подъезд"),
    CameraPlace("b5-e2", "B5 E2", building="5", entrance="2"),
    CameraPlace("b5-yard", "B5 yard", building="5", area="Двор"),
    CameraPlace("yard", "Shared yard", area="двор"),
    CameraPlace("parking", "Parking", area="парковка"),
    CameraPlace("b7-e1", "B7 E1", building="7", entrance="1"),
]


@pytest.mark.parametrize(
    ("place", "expected"),
    [
        (Place(building="5", entrance="1"), [("b5-e1", "entrance"), ("b5-yard", "building")]),
        (Place(building=" 5 ", entrance="2"), [("b5-e2", "entrance"), ("b5-yard", "building")]),
        (
            Place(building="5", area="двор"),
            [("b5-yard", "area"), ("yard", "area"), ("b5-e1", "building"), ("b5-e2", "building")],
        ),
        (Place(area="ДВОР"), [("b5-yard", "area"), ("yard", "area")]),
        (Place(area="парковка"), [("parking", "area")]),
        (Place(building="9"), []),
    ],
)
def test_camera_proposals(place: Place, expected: list[tuple[str, str]]) -> None:
    assert [(p.camera.camera_id, p.match) for p in propose_cameras(place, CAMERAS)] == expected


@pytest.mark.parametrize(
    ("role", "read", "edit", "personal"),
    [
        (Role.OFFICER, True, True, True),
        (Role.SUPERVISOR, True, True, True),
        (Role.INVESTIGATOR, True, False, True),
        (Role.AUDITOR, True, False, False),
        (Role.ADMIN, False, False, False),
    ],
)
def test_access_rules(role: Role, read: bool, edit: bool, personal: bool) -> None:
    permissions = permissions_for(role)
    assert may_read(permissions) is read
    assert may_edit(permissions) is edit
    assert may_see_personal_data(role) is personal


def test_officers_attach_only_around_the_incident() -> None:
    start, end = NOW - timedelta(hours=2), NOW - timedelta(hours=1)

    def may(role: Role, from_utc: datetime, to_utc: datetime) -> bool:
        return may_attach_range(
            permissions_for(role), incident_start=start, incident_end=end, start_utc=from_utc, end_utc=to_utc
        )

    near = (NOW - timedelta(hours=2, minutes=30), NOW - timedelta(minutes=30))
    far = (NOW - timedelta(days=2), NOW - timedelta(days=2) + timedelta(minutes=5))
    assert may(Role.OFFICER, *near)
    assert not may(Role.OFFICER, *far)
    assert may(Role.SUPERVISOR, *far)
    assert not may(Role.INVESTIGATOR, *near)  # cannot edit complaints


@pytest.mark.parametrize(
    ("role", "age_days", "needs"),
    [
        (Role.OFFICER, 6.9, False),  # inside the officer's own horizon (7 days)
        (Role.OFFICER, 7.1, True),  # would widen the officer's playback
        (Role.OFFICER, 400, True),
        (Role.SUPERVISOR, 400, False),  # sees every recording: their attach is the confirmation
        (Role.INVESTIGATOR, 400, False),  # (cannot edit complaints: refused before this rule)
    ],
)
def test_attach_of_footage_beyond_the_playback_horizon_needs_a_supervisor(
    role: Role, age_days: float, needs: bool
) -> None:
    start = NOW - timedelta(days=age_days)
    assert attach_needs_supervisor(permissions_for(role), start_utc=start, now=NOW, horizon_days=7) is needs


@pytest.mark.parametrize(
    ("role", "own", "may", "reason"),
    [
        (Role.OFFICER, True, True, False),
        (Role.OFFICER, False, False, True),
        (Role.SUPERVISOR, False, True, True),
        (Role.SUPERVISOR, True, True, False),
        (Role.INVESTIGATOR, True, False, False),  # does not edit complaints
        (Role.AUDITOR, False, False, True),
    ],
)
def test_releasing_footage_someone_else_attached_is_a_supervisors_decision_with_a_reason(
    role: Role, own: bool, may: bool, reason: bool
) -> None:
    added_by = 7 if own else 8
    assert may_release_evidence(permissions_for(role), user_id=7, added_by=added_by) is may
    assert release_needs_reason(user_id=7, added_by=added_by) is reason
