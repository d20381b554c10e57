"""Complaint workflow rules, as pure functions and tables.

Status workflow (``TRANSITIONS``)::

    new ──► in_progress ──► resolved (warning_given | protocol_drawn_up | referred)
     │           │
     │           └────────► rejected (unfounded | referred)
     └──────────────────► rejected
    resolved / rejected ──► in_progress   (reopen; needs a note)

Who may do what (by permission, never by role name, except personal data which is tied to the duty):

- read complaints: ``complaints.view`` (officers, supervisors), ``recordings.view`` (investigators, who work
  the cases) and ``audit.view`` (auditors, without personal data);
- change them: ``complaints.edit``;
- see the reporter's name and contact: officer, supervisor, investigator — never auditor or admin;
- attach footage: anyone who may edit; officers only within the reported incident window (plus a margin),
  since an attached range widens what they may play back (see :mod:`console.media_access`), and only footage
  inside their own playback horizon (``console.officer_recording_days``): otherwise registering a complaint
  dated back and attaching to it would widen their own window (issue 26, finding 4). Older footage is
  attached by a supervisor (``complaints.edit`` + ``recordings.view``), whose attach is the confirmation;
  the officer's attempt is refused and audited;
- detach footage (which releases its lock): whoever attached it; footage someone else attached only a
  supervisor, with a reason (issue 26, finding 5).

Camera proposals (:func:`propose_cameras`): from the complaint's place, the cameras whose configured location
covers it — same building and entrance, same area (yard, parking, bins...), then the rest of the building.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from console.i18n import Message
from console.permission import COMPLAINT_READ_PERMISSIONS, Permission
from storage.model import ComplaintStatus, Role

FUTURE_SKEW: Final = timedelta(minutes=5)  # clocks of phones and PCs differ; a little ahead is fine
MAX_INCIDENT_WINDOW: Final = timedelta(days=7)
ATTACH_MARGIN: Final = timedelta(hours=1)
MAX_ATTACH_SPAN: Final = timedelta(hours=72)


class Channel(StrEnum):
    PHONE = "phone"
    CHAT = "chat"
    WALK_IN = "walk_in"
    ASSOCIATION_CHAIR = "association_chair"
    PATROL = "patrol"


class Category(StrEnum):
    LITTERING = "littering"
    SMOKING = "smoking"
    DRINKING = "drinking"
    NOISE = "noise"
    HOOLIGANISM = "hooliganism"
    VANDALISM = "vandalism"
    OTHER = "other"


class Outcome(StrEnum):
    WARNING_GIVEN = "warning_given"
    PROTOCOL_DRAWN_UP = "protocol_drawn_up"
    REFERRED = "referred"
    UNFOUNDED = "unfounded"


S = ComplaintStatus
TRANSITIONS: Final[dict[ComplaintStatus, frozenset[ComplaintStatus]]] = {
    S.NEW: frozenset({S.IN_PROGRESS, S.REJECTED}),
    S.IN_PROGRESS: frozenset({S.RESOLVED, S.REJECTED}),
    S.RESOLVED: frozenset({S.IN_PROGRESS}),
    S.REJECTED: frozenset({S.IN_PROGRESS}),
}
OUTCOMES: Final[dict[ComplaintStatus, frozenset[Outcome]]] = {
    S.RESOLVED: frozenset({Outcome.WARNING_GIVEN, Outcome.PROTOCOL_DRAWN_UP, Outcome.REFERRED}),
    S.REJECTED: frozenset({Outcome.UNFOUNDED, Outcome.REFERRED}),
}
CLOSED: Final = frozenset({S.RESOLVED, S.REJECTED})
PERSONAL_DATA_ROLES: Final = frozenset({Role.OFFICER, Role.SUPERVISOR, Role.INVESTIGATOR})
READ_PERMISSIONS: Final = COMPLAINT_READ_PERMISSIONS  # the sidebar and the pages read the same set


class ComplaintRuleError(ValueError):
    """A request that breaks a workflow or input rule; ``code`` is the API error code, ``message`` the
    translatable text (``str(error)`` is its English)."""

    def __init__(self, code: str, message: Message) -> None:
        super().__init__(str(message))
        self.code = code
        self.message = message


class TransitionError(ComplaintRuleError):
    """Not an allowed status change, or a missing/wrong outcome or note."""


@dataclass(frozen=True, slots=True)
class TransitionPlan:
    from_status: ComplaintStatus
    to_status: ComplaintStatus
    outcome: Outcome | None
    closes: bool
    reopens: bool


# Message ids of the status and outcome names (the same ones the pages show, see complaint_labels.html).
STATUS_LABELS: Final[Mapping[str, str]] = {
    "new": "New",
    "in_progress": "In progress",
    "resolved": "Resolved",
    "rejected": "Rejected",
}
OUTCOME_LABELS: Final[Mapping[str, str]] = {
    "warning_given": "Warning given",
    "protocol_drawn_up": "Protocol drawn up",
    "referred": "Referred",
    "unfounded": "Unfounded",
}


def status_label(status: ComplaintStatus | str) -> Message:
    value = str(getattr(status, "value", status))
    return Message(STATUS_LABELS.get(value, value))


def outcome_label(outcome: Outcome | str) -> Message:
    value = str(getattr(outcome, "value", outcome))
    return Message(OUTCOME_LABELS.get(value, value))


def plan_transition(
    current: ComplaintStatus | str, target: ComplaintStatus | str, *, outcome: str | None, note: str | None
) -> TransitionPlan:
    """Check a status change against the table; returns what it does or raises :class:`TransitionError`."""
    source, goal = ComplaintStatus(current), ComplaintStatus(target)
    if goal not in TRANSITIONS[source]:
        raise TransitionError(
            "transition_not_allowed",
            Message(
                "a complaint in status {current} can go to {allowed}, not {target}",
                current=status_label(source),
                allowed=tuple(status_label(s) for s in sorted(TRANSITIONS[source])),
                target=status_label(goal),
            ),
        )
    has_note = bool(note and note.strip())
    chosen: Outcome | None = None
    if goal in CLOSED:
        valid = OUTCOMES[goal]
        names = tuple(outcome_label(o) for o in sorted(valid))
        if outcome is None:
            raise TransitionError(
                "outcome_required",
                Message(
                    "closing as {status} needs an outcome: {outcomes}",
                    status=status_label(goal),
                    outcomes=names,
                ),
            )
        try:
            chosen = Outcome(outcome)
        except ValueError:
            chosen = None
        if chosen not in valid:
            raise TransitionError(
                "invalid_outcome",
                Message(
                    "the outcome of a complaint in status {status} must be one of {outcomes}",
                    status=status_label(goal),
                    outcomes=names,
                ),
            )
        if goal is S.REJECTED and not has_note:
            raise TransitionError("note_required", Message("rejecting a complaint needs a note saying why"))
    elif outcome is not None:
        raise TransitionError("invalid_outcome", Message("only closing a complaint takes an outcome"))
    reopens = source in CLOSED
    if reopens and not has_note:
        raise TransitionError(
            "note_required", Message("reopening a closed complaint needs a note saying why")
        )
    return TransitionPlan(
        from_status=source, to_status=goal, outcome=chosen, closes=goal in CLOSED, reopens=reopens
    )


def is_closed(status: ComplaintStatus | str) -> bool:
    return ComplaintStatus(status) in CLOSED


# --- access -------------------------------------------------------------------------------------------------


def may_read(permissions: Iterable[Permission]) -> bool:
    return bool(READ_PERMISSIONS & frozenset(permissions))


def may_edit(permissions: Iterable[Permission]) -> bool:
    return Permission.COMPLAINTS_EDIT in frozenset(permissions)


def may_see_personal_data(role: Role | str) -> bool:
    try:
        return Role(role) in PERSONAL_DATA_ROLES
    except ValueError:
        return False


def is_supervisor(permissions: Iterable[Permission]) -> bool:
    """Works the cases and sees every recording: the right that confirms old footage and releases others'."""
    return {Permission.COMPLAINTS_EDIT, Permission.RECORDINGS_VIEW} <= frozenset(permissions)


def attach_needs_supervisor(
    permissions: Iterable[Permission], *, start_utc: datetime, now: datetime, horizon_days: int
) -> bool:
    """Whether attaching footage from ``start_utc`` would give this user footage older than their own
    playback horizon: an officer's attach widens what they may play back, so it may not reach further back
    than they can see already."""
    if Permission.RECORDINGS_VIEW in frozenset(permissions):
        return False
    return start_utc < now - timedelta(days=horizon_days)


RELEASE_REASON_MIN_CHARS: Final = 3


def may_release_evidence(permissions: Iterable[Permission], *, user_id: int, added_by: int | None) -> bool:
    """Detaching releases the lock: one's own attachment, or a supervisor's decision."""
    if not may_edit(permissions):
        return False
    return added_by == user_id or is_supervisor(permissions)


def release_needs_reason(*, user_id: int, added_by: int | None) -> bool:
    """Releasing footage someone else attached needs a reason on record."""
    return added_by != user_id


def may_attach_range(
    permissions: Iterable[Permission],
    *,
    incident_start: datetime,
    incident_end: datetime,
    start_utc: datetime,
    end_utc: datetime,
    margin: timedelta = ATTACH_MARGIN,
) -> bool:
    """Investigators and supervisors attach any range; officers only around the reported incident."""
    granted = frozenset(permissions)
    if Permission.COMPLAINTS_EDIT not in granted:
        return False
    if Permission.RECORDINGS_VIEW in granted:
        return True
    return start_utc >= incident_start - margin and end_utc <= incident_end + margin


# --- input checks --------------------------------------------------------------------------------


def _aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ComplaintRuleError(
            "naive_time", Message("{field} needs a time zone (send ISO 8601 with an offset)", field=name)
        )


def check_incident_window(
    *, received_at: datetime, incident_start: datetime, incident_end: datetime, now: datetime
) -> None:
    """The reported window is a real, past span of at most a week; the complaint was received by now."""
    for value, name in (
        (received_at, "received_at"),
        (incident_start, "incident_start"),
        (incident_end, "incident_end"),
    ):
        _aware(value, name)
    if incident_end <= incident_start:
        raise ComplaintRuleError("invalid_window", Message("incident_end must be after incident_start"))
    if incident_start > now + FUTURE_SKEW or incident_end > now + FUTURE_SKEW:
        raise ComplaintRuleError("window_in_future", Message("the incident window lies in the future"))
    if received_at > now + FUTURE_SKEW:
        raise ComplaintRuleError("received_in_future", Message("received_at lies in the future"))
    if incident_end - incident_start > MAX_INCIDENT_WINDOW:
        raise ComplaintRuleError(
            "window_too_long",
            Message("the incident window may span at most {days} days", days=MAX_INCIDENT_WINDOW.days),
        )


def check_attach_range(*, start_utc: datetime, end_utc: datetime, now: datetime) -> None:
    _aware(start_utc, "start")
    _aware(end_utc, "end")
    if end_utc <= start_utc:
        raise ComplaintRuleError("invalid_range", Message("end must be after start"))
    if start_utc > now + FUTURE_SKEW or end_utc > now + FUTURE_SKEW:
        raise ComplaintRuleError(
            "range_in_future", Message("footage cannot be attached for a time in the future")
        )
    if end_utc - start_utc > MAX_ATTACH_SPAN:
        raise ComplaintRuleError(
            "range_too_long",
            Message(
                "one attached range may span at most {hours} hours",
                hours=int(MAX_ATTACH_SPAN.total_seconds() // 3600),
            ),
        )


def due_at(received_at: datetime, due_hours: int) -> datetime:
    return received_at + timedelta(hours=due_hours)


# --- camera proposals ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Place:
    building: str | None = None
    entrance: str | None = None
    area: str | None = None


@dataclass(frozen=True, slots=True)
class CameraPlace:
    camera_id: str
    name: str
    building: str | None = None
    entrance: str | None = None
    area: str | None = None
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class CameraProposal:
    camera: CameraPlace
    score: int  # 3 = looks at the place, 2 = same area elsewhere/shared, 1 = same building
    match: str  # entrance | area | building


def _norm(value: str | None) -> str | None:
    if value is None:
        return None
    value = " ".join(value.split()).casefold()
    return value or None


def match_camera(place: Place, camera: CameraPlace) -> tuple[int, str] | None:
    """How well ``camera`` covers ``place`` (pure); None when it does not."""
    b, e, a = _norm(place.building), _norm(place.entrance), _norm(place.area)
    cb, ce, ca = _norm(camera.building), _norm(camera.entrance), _norm(camera.area)
    same_building = b is not None and cb == b
    if e is not None and same_building and ce == e:
        return 3, "entrance"
    if a is not None and ca == a:
        if same_building or b is None:
            return 3, "area"
        if cb is None:  # a shared yard / parking camera that belongs to no building
            return 2, "area"
    if same_building and (ce is None or e is None):
        return 1, "building"
    return None


def propose_cameras(place: Place, cameras: Sequence[CameraPlace]) -> list[CameraProposal]:
    """Cameras covering ``place``, best first (then by id)."""
    found: list[CameraProposal] = []
    for camera in cameras:
        matched = match_camera(place, camera)
        if matched is not None:
            found.append(CameraProposal(camera=camera, score=matched[0], match=matched[1]))
    return sorted(found, key=lambda p: (-p.score, p.camera.camera_id))
