"""Complaints API: register, list with filters, workflow, notes, camera/footage proposals, attached evidence.

Reading needs ``complaints.view``, ``recordings.view`` or ``audit.view`` (auditors never get the reporter's
name or contact); changing needs ``complaints.edit``. Every change writes a history row and an audit row;
rules are in :mod:`console.complaint`. Times are aware ISO 8601 (the pages convert station time to UTC).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from console import complaint as rules
from console.complaint import Category, Channel, ComplaintRuleError, Outcome
from console.deps import (
    CurrentUser,
    LanguageDep,
    PageUser,
    Principal,
    SessionDep,
    StationDep,
    audit_as,
    audit_route_denied,
    role_name,
)
from console.error import ApiError
from console.i18n import Message
from console.media_access import MediaPolicy, MediaPurpose, MediaRequest, media_decision
from console.page import render_page
from console.permission import Permission, permissions_for
from storage.complaint import (
    Attached,
    ComplaintFields,
    ComplaintFilter,
    ComplaintNotFoundError,
    EvidenceNotFoundError,
    add_note,
    assign_complaint,
    attach_evidence,
    complaint_history,
    complaint_locks,
    create_complaint,
    detach_evidence,
    get_complaint,
    is_overdue,
    list_complaints,
    list_evidence,
    transition_complaint,
    update_complaint,
)
from storage.model import Camera, Complaint, ComplaintHistory, ComplaintStatus, Event, Segment, User, utcnow
from storage.segment import FINISHED_STATUSES
from storage.timeline import camera_holes, events_overlapping, recorded_spans

router = APIRouter(prefix="/api/complaints", tags=["complaints"])
pages = APIRouter(include_in_schema=False)

TEXT_MAX = 4000
NOTE_MAX = 2000
PLACE_MAX = 64
MAX_PROPOSED_SEGMENTS = 500


# --- schemas --------------------------------------------------------------------------------------


class ComplaintCreate(BaseModel):
    received_at: AwareDatetime
    channel: Channel
    reporter_name: str | None = Field(default=None, max_length=200)
    reporter_contact: str | None = Field(default=None, max_length=200)
    category: Category
    description: str = Field(default="", max_length=TEXT_MAX)
    building: str | None = Field(default=None, max_length=PLACE_MAX)
    entrance: str | None = Field(default=None, max_length=PLACE_MAX)
    area: str | None = Field(default=None, max_length=PLACE_MAX)
    incident_start: AwareDatetime
    incident_end: AwareDatetime


class ComplaintUpdate(BaseModel):
    received_at: AwareDatetime | None = None
    channel: Channel | None = None
    reporter_name: str | None = Field(default=None, max_length=200)
    reporter_contact: str | None = Field(default=None, max_length=200)
    category: Category | None = None
    description: str | None = Field(default=None, max_length=TEXT_MAX)
    building: str | None = Field(default=None, max_length=PLACE_MAX)
    entrance: str | None = Field(default=None, max_length=PLACE_MAX)
    area: str | None = Field(default=None, max_length=PLACE_MAX)
    incident_start: AwareDatetime | None = None
    incident_end: AwareDatetime | None = None
    assignee_id: int | None = Field(default=None, description="0 removes the assignee")
    note: str | None = Field(default=None, max_length=NOTE_MAX)


class StatusChange(BaseModel):
    status: ComplaintStatus
    outcome: Outcome | None = None
    note: str | None = Field(default=None, max_length=NOTE_MAX)


class NoteCreate(BaseModel):
    note: str = Field(min_length=1, max_length=NOTE_MAX)


class EvidenceCreate(BaseModel):
    camera_id: str = Field(min_length=1, max_length=32)
    start: AwareDatetime
    end: AwareDatetime
    note: str | None = Field(default=None, max_length=NOTE_MAX)
    event_id: int | None = Field(default=None, ge=1, le=2**31 - 1, description="the detection event shown")


class ComplaintPublic(BaseModel):
    id: int
    number: str
    received_at: datetime
    channel: str
    category: str
    description: str
    building: str | None
    entrance: str | None
    area: str | None
    place: str
    incident_start: datetime
    incident_end: datetime
    status: str
    outcome: str | None
    assignee_id: int | None
    assignee: str | None
    created_by: int
    created_at: datetime
    updated_at: datetime
    due_at: datetime | None
    closed_at: datetime | None
    overdue: bool
    personal_data_visible: bool
    reporter_name: str | None = None
    reporter_contact: str | None = None


class HistoryPublic(BaseModel):
    id: int
    at: datetime
    user_id: int | None
    user: str | None
    action: str
    from_status: str | None
    to_status: str | None
    note: str | None


class EvidencePublic(BaseModel):
    id: int
    camera_id: str
    start: datetime
    end: datetime
    note: str | None
    event_id: int | None
    added_by: int | None
    added_at: datetime
    lock_id: int | None
    lock_expires_at: datetime | None
    lock_released: bool


class ComplaintDetail(BaseModel):
    complaint: ComplaintPublic
    history: list[HistoryPublic]
    evidence: list[EvidencePublic]
    allowed_transitions: list[str]
    can_edit: bool


class ComplaintList(BaseModel):
    items: list[ComplaintPublic]
    total: int
    limit: int
    offset: int


# --- access ---------------------------------------------------------------------------------------


def _deny(session: Session, request: Request, user: Principal, message: Message) -> ApiError:
    audit_route_denied(session, request, user, str(message))
    return ApiError(403, "forbidden", message)


def complaint_reader(request: Request, user: CurrentUser, session: SessionDep) -> Principal:
    if not rules.may_read(user.permissions):
        raise _deny(
            session,
            request,
            user,
            Message("the {role} role may not read complaints", role=role_name(user.role)),
        )
    return user


def complaint_editor(request: Request, user: CurrentUser, session: SessionDep) -> Principal:
    if not rules.may_edit(user.permissions):
        raise _deny(
            session,
            request,
            user,
            Message("the {role} role may not change complaints", role=role_name(user.role)),
        )
    return user


Reader = Annotated[Principal, Depends(complaint_reader)]
Editor = Annotated[Principal, Depends(complaint_editor)]


def _audit(session: Session, user: Principal, action: str, complaint: Complaint, **detail: Any) -> None:
    audit_as(
        session,
        user,
        action=action,
        resource_type="complaint",
        resource_id=complaint.number,
        detail=detail or None,
    )


def _audit_lock(
    session: Session, user: Principal, action: str, complaint: Complaint, lock_id: int, **detail: Any
) -> None:
    """The lock's own audit row (``evidence.lock``, ``evidence.unlock``, ``evidence.lock_expiry``), next to
    the complaint's: an auditor can follow a lock by its id from creation to release."""
    audit_as(
        session,
        user,
        action=action,
        resource_type="evidence_lock",
        resource_id=str(lock_id),
        reason=f"complaint {complaint.number}",
        detail={"complaint": complaint.number, **detail},
    )


def _complaint(session: Session, complaint_id: int) -> Complaint:
    try:
        return get_complaint(session, complaint_id=complaint_id)
    except ComplaintNotFoundError as exc:
        raise ApiError(
            404, "complaint_not_found", "no complaint {complaint_id}", params={"complaint_id": complaint_id}
        ) from exc


def _rule_error(exc: ComplaintRuleError) -> ApiError:
    status = 409 if exc.code in ("transition_not_allowed",) else 422
    return ApiError(status, exc.code, exc.message)


# --- presenting -----------------------------------------------------------------------------------


def _user_names(session: Session, ids: set[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = session.execute(select(User.id, User.display_name, User.username).where(User.id.in_(wanted)))
    return {uid: display or name for uid, display, name in rows}


def _place(complaint: Complaint) -> str:
    return " / ".join(p for p in (complaint.building, complaint.entrance, complaint.area) if p)


def present(complaint: Complaint, user: Principal, now: datetime, names: dict[int, str]) -> ComplaintPublic:
    personal = rules.may_see_personal_data(user.role)
    return ComplaintPublic(
        id=complaint.id,
        number=complaint.number,
        received_at=complaint.received_at,
        channel=complaint.channel,
        category=complaint.category,
        description=complaint.description,
        building=complaint.building,
        entrance=complaint.entrance,
        area=complaint.area,
        place=_place(complaint),
        incident_start=complaint.incident_start,
        incident_end=complaint.incident_end,
        status=complaint.status,
        outcome=complaint.outcome,
        assignee_id=complaint.assignee_id,
        assignee=names.get(complaint.assignee_id) if complaint.assignee_id else None,
        created_by=complaint.created_by,
        created_at=complaint.created_at,
        updated_at=complaint.updated_at,
        due_at=complaint.due_at,
        closed_at=complaint.closed_at,
        overdue=is_overdue(complaint, now),
        personal_data_visible=personal,
        reporter_name=complaint.reporter_name if personal else None,
        reporter_contact=complaint.reporter_contact if personal else None,
    )


def _history(row: ComplaintHistory, names: dict[int, str]) -> HistoryPublic:
    return HistoryPublic(
        id=row.id,
        at=row.at,
        user_id=row.user_id,
        user=names.get(row.user_id) if row.user_id else None,
        action=row.action,
        from_status=row.from_status,
        to_status=row.to_status,
        note=row.note,
    )


def _evidence(item: Attached) -> EvidencePublic:
    evidence, lock = item.evidence, item.lock
    return EvidencePublic(
        id=evidence.id,
        camera_id=evidence.camera_id,
        start=evidence.start_utc,
        end=evidence.end_utc,
        note=evidence.note,
        event_id=evidence.event_id,
        added_by=evidence.added_by,
        added_at=evidence.added_at,
        lock_id=lock.id if lock else None,
        lock_expires_at=lock.expires_at if lock else None,
        lock_released=bool(lock and lock.released_at is not None),
    )


def detail_of(session: Session, complaint: Complaint, user: Principal) -> ComplaintDetail:
    now = utcnow()
    history = complaint_history(session, complaint_id=complaint.id)
    names = _user_names(session, {complaint.assignee_id, *(h.user_id for h in history)})
    can_edit = rules.may_edit(user.permissions)
    transitions = (
        sorted(s.value for s in rules.TRANSITIONS[ComplaintStatus(complaint.status)]) if can_edit else []
    )
    return ComplaintDetail(
        complaint=present(complaint, user, now, names),
        history=[_history(h, names) for h in history],
        evidence=[_evidence(item) for item in list_evidence(session, complaint_id=complaint.id)],
        allowed_transitions=transitions,
        can_edit=can_edit,
    )


# --- routes ---------------------------------------------------------------------------------------


@router.get("/options", summary="Channels, categories, outcomes, workflow and places known from cameras")
def get_options(session: SessionDep, _user: Reader) -> dict[str, Any]:
    places = known_places(session)
    assignees = session.execute(
        select(User.id, User.display_name, User.username, User.role).where(User.disabled.is_(False))
    )
    return {
        "channels": [c.value for c in Channel],
        "categories": [c.value for c in Category],
        "statuses": [s.value for s in ComplaintStatus],
        "outcomes": {s.value: sorted(o.value for o in outs) for s, outs in rules.OUTCOMES.items()},
        "transitions": {s.value: sorted(t.value for t in to) for s, to in rules.TRANSITIONS.items()},
        "places": {key: sorted(values) for key, values in places.items()},
        "assignees": [
            {"id": uid, "name": display or name}
            for uid, display, name, role in assignees
            if Permission.COMPLAINTS_EDIT in permissions_for(role)
        ],
    }


@router.get("", summary="List complaints (newest first) with filters")
def get_complaints(
    session: SessionDep,
    user: Reader,
    status: Annotated[list[ComplaintStatus] | None, Query()] = None,
    category: Category | None = None,
    building: Annotated[str | None, Query(max_length=PLACE_MAX)] = None,
    entrance: Annotated[str | None, Query(max_length=PLACE_MAX)] = None,
    area: Annotated[str | None, Query(max_length=PLACE_MAX)] = None,
    received_from: Annotated[AwareDatetime | None, Query(alias="from")] = None,
    received_to: Annotated[AwareDatetime | None, Query(alias="to")] = None,
    overdue: bool = False,
    assignee_id: int | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> ComplaintList:
    now = utcnow()
    page = list_complaints(
        session,
        filters=ComplaintFilter(
            statuses=[s.value for s in status or []],
            category=category.value if category else None,
            building=canonical_place(session, "building", building),
            entrance=canonical_place(session, "entrance", entrance),
            area=canonical_place(session, "area", area),
            received_from=received_from,
            received_to=received_to,
            assignee_id=assignee_id,
            overdue_at=now if overdue else None,
            limit=limit,
            offset=offset,
        ),
    )
    names = _user_names(session, {c.assignee_id for c in page.items})
    items = [
        present(c, user, now, names).model_copy(update={"reporter_name": None, "reporter_contact": None})
        for c in page.items
    ]
    return ComplaintList(items=items, total=page.total, limit=limit, offset=offset)


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = " ".join(value.split())
    return value or None


def known_places(session: Session) -> dict[str, set[str]]:
    """Building, entrance and area values configured on the cameras."""
    places: dict[str, set[str]] = {"building": set(), "entrance": set(), "area": set()}
    for camera in session.scalars(select(Camera).where(Camera.in_config.is_(True))):
        for key, values in places.items():
            value = getattr(camera, key)
            if value:
                values.add(value)
    return places


def canonical_place(session: Session, key: str, value: str | None) -> str | None:
    """``value`` cleaned and, when it names a configured place in another case, spelled as configured."""
    cleaned = _clean(value)
    if cleaned is None:
        return None
    for known in known_places(session)[key]:
        if known.casefold() == cleaned.casefold():
            return known
    return cleaned


@router.post("", status_code=201, summary="Register a complaint")
def post_complaint(
    body: ComplaintCreate, session: SessionDep, station: StationDep, user: Editor
) -> ComplaintDetail:
    now = utcnow()
    try:
        rules.check_incident_window(
            received_at=body.received_at,
            incident_start=body.incident_start,
            incident_end=body.incident_end,
            now=now,
        )
    except ComplaintRuleError as exc:
        raise _rule_error(exc) from exc
    building = canonical_place(session, "building", body.building)
    entrance = canonical_place(session, "entrance", body.entrance)
    area = canonical_place(session, "area", body.area)
    if not (building or area):
        raise ApiError(422, "place_required", "give the place: a building (and entrance) or an area")
    config = station.settings.config
    complaint = create_complaint(
        session,
        fields=ComplaintFields(
            received_at=body.received_at,
            channel=body.channel.value,
            category=body.category.value,
            incident_start=body.incident_start,
            incident_end=body.incident_end,
            description=body.description.strip(),
            reporter_name=_clean(body.reporter_name),
            reporter_contact=_clean(body.reporter_contact),
            building=building,
            entrance=entrance,
            area=area,
        ),
        created_by=user.user_id,
        now=now,
        year=now.astimezone(ZoneInfo(config.station.timezone)).year,
        due_at=rules.due_at(body.received_at, config.console.complaint_due_hours),
    )
    _audit(
        session, user, "complaint.create", complaint, category=complaint.category, channel=complaint.channel
    )
    return detail_of(session, complaint, user)


@router.get("/{complaint_id}", summary="A complaint with its history and attached footage")
def get_one(complaint_id: int, session: SessionDep, user: Reader) -> ComplaintDetail:
    complaint = _complaint(session, complaint_id)
    if rules.may_see_personal_data(user.role) and (complaint.reporter_name or complaint.reporter_contact):
        _audit(session, user, "complaint.view_personal", complaint)
    return detail_of(session, complaint, user)


@router.patch("/{complaint_id}", summary="Change registered fields or the assignee")
def patch_complaint(
    complaint_id: int, body: ComplaintUpdate, session: SessionDep, user: Editor
) -> ComplaintDetail:
    now = utcnow()
    complaint = _complaint(session, complaint_id)
    values = body.model_dump(exclude_unset=True)
    assignee = values.pop("assignee_id", None) if "assignee_id" in values else ...
    note = values.pop("note", None)
    for key in ("reporter_name", "reporter_contact"):
        if key in values:
            values[key] = _clean(values[key])
    for key in ("building", "entrance", "area"):
        if key in values:
            values[key] = canonical_place(session, key, values[key])
    for key in ("channel", "category"):
        if values.get(key) is not None:
            values[key] = str(values[key])
    for key in ("received_at", "channel", "category", "description", "incident_start", "incident_end"):
        if key in values and values[key] is None:
            raise ApiError(422, "validation_error", "{field} cannot be emptied", params={"field": key})
    if {"received_at", "incident_start", "incident_end"} & values.keys():
        try:
            rules.check_incident_window(
                received_at=values.get("received_at", complaint.received_at),
                incident_start=values.get("incident_start", complaint.incident_start),
                incident_end=values.get("incident_end", complaint.incident_end),
                now=now,
            )
        except ComplaintRuleError as exc:
            raise _rule_error(exc) from exc
    changed = update_complaint(
        session, complaint=complaint, changes=values, user_id=user.user_id, now=now, note=note
    )
    if changed.fields:
        _audit(session, user, "complaint.update", complaint, fields=sorted(changed.fields))
    if assignee is not ...:
        assignee_id = assignee or None
        if assignee_id is not None:
            target = session.get(User, assignee_id)
            if (
                target is None
                or target.disabled
                or Permission.COMPLAINTS_EDIT not in permissions_for(target.role)
            ):
                raise ApiError(
                    422, "invalid_assignee", "the assignee must be an active user who handles complaints"
                )
        if assign_complaint(
            session, complaint=complaint, assignee_id=assignee_id, user_id=user.user_id, now=now
        ):
            _audit(session, user, "complaint.assign", complaint, assignee_id=assignee_id)
    return detail_of(session, complaint, user)


@router.post("/{complaint_id}/status", summary="Move the complaint through its workflow")
def post_status(
    complaint_id: int, body: StatusChange, session: SessionDep, station: StationDep, user: Editor
) -> ComplaintDetail:
    now = utcnow()
    complaint = _complaint(session, complaint_id)
    try:
        plan = rules.plan_transition(
            complaint.status,
            body.status,
            outcome=body.outcome.value if body.outcome else None,
            note=body.note,
        )
    except ComplaintRuleError as exc:
        raise _rule_error(exc) from exc
    if plan.to_status is ComplaintStatus.IN_PROGRESS and complaint.assignee_id is None:
        assign_complaint(
            session, complaint=complaint, assignee_id=user.user_id, user_id=user.user_id, now=now
        )
    transition_complaint(
        session,
        complaint=complaint,
        to_status=plan.to_status,
        outcome=plan.outcome.value if plan.outcome else None,
        user_id=user.user_id,
        now=now,
        note=(body.note or "").strip() or None,
        closed_case_retention_days=station.settings.config.storage.closed_case_retention_days,
    )
    _audit(
        session,
        user,
        "complaint.status",
        complaint,
        from_status=plan.from_status.value,
        to_status=plan.to_status.value,
        outcome=complaint.outcome,
    )
    if rules.is_closed(plan.from_status) != rules.is_closed(plan.to_status):
        for lock in complaint_locks(session, complaint_id=complaint.id):
            _audit_lock(
                session,
                user,
                "evidence.lock_expiry",
                complaint,
                lock.id,
                camera=lock.camera_id,
                expires_at=lock.expires_at.isoformat() if lock.expires_at else None,
                status=plan.to_status.value,
            )
    return detail_of(session, complaint, user)


@router.post("/{complaint_id}/notes", status_code=201, summary="Add a note to the history")
def post_note(complaint_id: int, body: NoteCreate, session: SessionDep, user: Editor) -> ComplaintDetail:
    complaint = _complaint(session, complaint_id)
    try:
        add_note(session, complaint=complaint, note=body.note, user_id=user.user_id, now=utcnow())
    except ValueError as exc:
        raise ApiError(422, "empty_note", "a note cannot be empty", cause=str(exc)) from exc
    _audit(session, user, "complaint.note", complaint)
    return detail_of(session, complaint, user)


@router.get("/{complaint_id}/proposals", summary="Cameras covering the place and their footage in the window")
def get_proposals(
    complaint_id: int,
    session: SessionDep,
    station: StationDep,
    user: Reader,
    margin_min: Annotated[int, Query(ge=0, le=180)] = 10,
) -> dict[str, Any]:
    """Cameras that cover the complaint's place; for each, its footage in the window (spans, gaps,
    segments, events) only where the media-access rule lets this user see it (purpose ``timeline``), else
    ``footage_hidden`` with the refusal's code."""
    complaint = _complaint(session, complaint_id)
    policy = MediaPolicy.of(station.settings.config.console)
    now = utcnow()
    margin = timedelta(minutes=margin_min)
    start = complaint.incident_start - margin
    end = min(complaint.incident_end + margin, max(now, complaint.incident_end))
    cameras = session.scalars(select(Camera).order_by(Camera.id)).all()
    places = [
        rules.CameraPlace(
            camera_id=c.id,
            name=c.name,
            building=c.building,
            entrance=c.entrance,
            area=c.area,
            enabled=c.enabled,
        )
        for c in cameras
        if c.in_config
    ]
    proposals = rules.propose_cameras(
        rules.Place(building=complaint.building, entrance=complaint.entrance, area=complaint.area), places
    )
    attached = list_evidence(session, complaint_id=complaint.id)
    result = []
    for proposal in proposals:
        camera_id = proposal.camera.camera_id
        entry = {
            "camera_id": camera_id,
            "name": proposal.camera.name,
            "building": proposal.camera.building,
            "entrance": proposal.camera.entrance,
            "area": proposal.camera.area,
            "enabled": proposal.camera.enabled,
            "match": proposal.match,
            "score": proposal.score,
            "attached": [
                {"id": a.evidence.id, "start": a.evidence.start_utc, "end": a.evidence.end_utc}
                for a in attached
                if a.evidence.camera_id == camera_id
            ],
        }
        request = MediaRequest(
            camera_id=camera_id, start_utc=start, end_utc=end, purpose=MediaPurpose.TIMELINE
        )
        decision, _ = media_decision(session, user, request, policy=policy, now=now)
        if not decision.allowed:
            result.append(
                {**entry, "footage_hidden": decision.code, "recorded_s": 0.0}
                | {"spans": [], "gaps": [], "segments": [], "events": []}
            )
            continue
        spans = recorded_spans(session, camera_id=camera_id, start_utc=start, end_utc=end)
        holes = camera_holes(session, camera_id=camera_id, spans=spans, start_utc=start, end_utc=end, now=now)
        segments = session.execute(
            select(Segment.id, Segment.start_utc, Segment.end_utc)
            .where(
                Segment.camera_id == camera_id,
                Segment.start_utc < end,
                Segment.end_utc > start,
                Segment.status.in_(FINISHED_STATUSES),
            )
            .order_by(Segment.start_utc)
            .limit(MAX_PROPOSED_SEGMENTS)
        ).all()
        events = events_overlapping(session, camera_id=camera_id, start_utc=start, end_utc=end, limit=200)
        result.append(
            {
                **entry,
                "footage_hidden": None,
                "recorded_s": sum((s.end_utc - s.start_utc).total_seconds() for s in spans),
                "spans": [{"start": s.start_utc, "end": s.end_utc, "segments": s.segments} for s in spans],
                "gaps": [
                    {"start": h.start_utc, "end": h.end_utc, "reasons": list(h.reasons), "open": h.open}
                    for h in holes
                ],
                "segments": [{"id": sid, "start": s, "end": e} for sid, s, e in segments],
                "events": [
                    {
                        "id": ev.id,
                        "kind": ev.kind,
                        "start": ev.start_utc,
                        "end": ev.end_utc,
                        "review": ev.review,
                    }
                    for ev in events
                ],
            }
        )
    return {"complaint": complaint.number, "window": {"start": start, "end": end}, "cameras": result}


@router.post(
    "/{complaint_id}/evidence", status_code=201, summary="Attach footage (locks it against retention)"
)
def post_evidence(
    complaint_id: int, body: EvidenceCreate, session: SessionDep, station: StationDep, user: Editor
) -> ComplaintDetail:
    now = utcnow()
    complaint = _complaint(session, complaint_id)
    if rules.is_closed(complaint.status):
        raise ApiError(409, "complaint_closed", "reopen the complaint before attaching footage")
    try:
        rules.check_attach_range(start_utc=body.start, end_utc=body.end, now=now)
    except ComplaintRuleError as exc:
        raise _rule_error(exc) from exc
    camera = session.get(Camera, body.camera_id)
    if camera is None:
        raise ApiError(
            422, "unknown_camera", "no camera {camera} on this station", params={"camera": body.camera_id}
        )
    if not rules.may_attach_range(
        user.permissions,
        incident_start=complaint.incident_start,
        incident_end=complaint.incident_end,
        start_utc=body.start,
        end_utc=body.end,
    ):
        raise ApiError(
            403,
            "outside_incident_window",
            "officers attach footage within {hours} hour(s) of the reported incident; "
            "ask an investigator otherwise",
            params={"hours": int(rules.ATTACH_MARGIN.total_seconds() // 3600)},
        )
    if body.event_id is not None:
        event = session.get(Event, body.event_id)
        if event is None:
            raise ApiError(422, "event_not_found", "no event {id}", params={"id": body.event_id})
        if event.camera_id != camera.id:
            raise ApiError(
                422,
                "event_of_another_camera",
                "event {id} was seen by another camera",
                params={"id": body.event_id},
            )
    attached = attach_evidence(
        session,
        complaint=complaint,
        camera_id=camera.id,
        start_utc=body.start,
        end_utc=body.end,
        user_id=user.user_id,
        now=now,
        note=_clean(body.note),
        event_id=body.event_id,
    )
    _audit(
        session,
        user,
        "complaint.evidence_attach",
        complaint,
        camera=camera.id,
        start=body.start.isoformat(),
        end=body.end.isoformat(),
        lock_id=attached.lock.id if attached.lock else None,
    )
    if attached.lock is not None:
        _audit_lock(
            session,
            user,
            "evidence.lock",
            complaint,
            attached.lock.id,
            camera=camera.id,
            start=attached.lock.start_utc.isoformat(),
            end=attached.lock.end_utc.isoformat(),
        )
    return detail_of(session, complaint, user)


@router.delete("/{complaint_id}/evidence/{evidence_id}", summary="Detach footage (releases its lock)")
def delete_evidence(
    complaint_id: int, evidence_id: int, session: SessionDep, user: Editor
) -> ComplaintDetail:
    complaint = _complaint(session, complaint_id)
    if rules.is_closed(complaint.status):
        raise ApiError(409, "complaint_closed", "reopen the complaint before changing its footage")
    try:
        removed = detach_evidence(
            session, complaint=complaint, evidence_id=evidence_id, user_id=user.user_id, now=utcnow()
        )
    except EvidenceNotFoundError as exc:
        raise ApiError(
            404,
            "evidence_not_found",
            "no footage {evidence_id} attached to complaint {complaint}",
            params={"evidence_id": evidence_id, "complaint": complaint.number},
        ) from exc
    _audit(
        session,
        user,
        "complaint.evidence_detach",
        complaint,
        camera=removed.camera_id,
        lock_id=removed.lock_id,
    )
    if removed.lock_id is not None:
        _audit_lock(session, user, "evidence.unlock", complaint, removed.lock_id, camera=removed.camera_id)
    return detail_of(session, complaint, user)


# --- pages ----------------------------------------------------------------------------------------


def _page_reader(user: Principal) -> None:
    if not rules.may_read(user.permissions):
        raise ApiError(
            403, "forbidden", "the {role} role may not read complaints", params={"role": role_name(user.role)}
        )


@pages.get("/complaints")
def complaints_page(request: Request, station: StationDep, user: PageUser, language: LanguageDep) -> Response:
    _page_reader(user)
    return render_page(
        request,
        station,
        "complaints.html",
        language=language,
        user=user,
        context={"active": "complaints", "can_edit": rules.may_edit(user.permissions)},
    )


@pages.get("/complaints/{complaint_id}")
def complaint_page(
    complaint_id: int, request: Request, station: StationDep, user: PageUser, language: LanguageDep
) -> Response:
    _page_reader(user)
    return render_page(
        request,
        station,
        "complaint.html",
        language=language,
        user=user,
        context={
            "active": "complaints",
            "complaint_id": complaint_id,
            "can_edit": rules.may_edit(user.permissions),
            "can_export": user.can(Permission.EXPORTS_CREATE),
        },
    )
