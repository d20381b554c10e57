"""Complaints API: register, list (paged, filtered, searched), workflow, notes, camera/footage proposals,
attached evidence.

Reading needs ``complaints.view``, ``recordings.view`` or ``audit.view`` (auditors never get the reporter's
name or contact, nor search by them); changing needs ``complaints.edit``. Every change writes a history row
(with the actor's name as it is now) and an audit row; rules are in :mod:`console.complaint`, models in
:mod:`console.complaint_schema`, presenters in :mod:`console.complaint_presenter`, proposals in
:mod:`console.complaint_proposal`, who may read and change them and their audit rows in
:mod:`console.complaint_access`, pages in :mod:`console.routes.complaint_page`; place matching is
:mod:`storage.place`. Times are aware ISO 8601 (the pages convert station time to UTC).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query
from sqlalchemy.orm import Session

from console import complaint as rules
from console.complaint import Category
from console.complaint_access import Editor, Reader, audit_complaint, audit_lock, refuse_change
from console.complaint_presenter import detail_of, options_of, present, user_names
from console.complaint_proposal import propose_footage
from console.complaint_schema import (
    PLACE_MAX,
    SEARCH_MAX,
    ComplaintCreate,
    ComplaintDetail,
    ComplaintList,
    ComplaintOptions,
    ComplaintProposals,
    ComplaintUpdate,
    EvidenceCreate,
    EvidenceRelease,
    NoteCreate,
    StatusChange,
)
from console.deps import Principal, SessionDep, StationDep
from console.error import ApiError
from console.media_access import MediaPolicy
from console.permission import Permission, permissions_for
from console.request_types import DbId, DbOffset, UtcDatetime
from storage.complaint import (
    ComplaintFields,
    ComplaintFilter,
    add_note,
    assign_complaint,
    attach_evidence,
    complaint_locks,
    create_complaint,
    detach_evidence,
    get_complaint,
    get_evidence,
    list_complaints,
    transition_complaint,
    update_complaint,
)
from storage.model import Camera, Complaint, ComplaintStatus, Event, User, utcnow
from storage.place import PLACE_KEYS, canonical_place, clean_text, known_places
from storage.timeline import recorded_spans
from streams.live_segment import LiveLookup

router = APIRouter(prefix="/api/complaints", tags=["complaints"])


# --- reading --------------------------------------------------------------------------------------


@router.get("/options", summary="Channels, categories, outcomes, workflow and places known from cameras")
def get_options(session: SessionDep, _user: Reader) -> ComplaintOptions:
    return options_of(session)


@router.get("", summary="List complaints (newest first): filters, free-text search, paging")
def get_complaints(
    session: SessionDep,
    user: Reader,
    status: Annotated[list[ComplaintStatus] | None, Query()] = None,
    category: Category | None = None,
    building: Annotated[str | None, Query(max_length=PLACE_MAX)] = None,
    entrance: Annotated[str | None, Query(max_length=PLACE_MAX)] = None,
    area: Annotated[str | None, Query(max_length=PLACE_MAX)] = None,
    received_from: Annotated[UtcDatetime | None, Query(alias="from")] = None,
    received_to: Annotated[UtcDatetime | None, Query(alias="to")] = None,
    overdue: bool = False,
    assignee_id: DbId | None = None,
    q: Annotated[
        str | None,
        Query(
            max_length=SEARCH_MAX,
            description="words to find in the number and description, and (for the roles that see them) "
            "the reporter's name and phone; every word must occur",
        ),
    ] = None,
    mine: Annotated[bool, Query(description="only complaints assigned to me or registered by me")] = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[DbOffset, Query()] = 0,
) -> ComplaintList:
    now = utcnow()
    places = known_places(session)  # one query for the three place filters
    page = list_complaints(
        session,
        filters=ComplaintFilter(
            statuses=[s.value for s in status or []],
            category=category.value if category else None,
            building=canonical_place(places, "building", building),
            entrance=canonical_place(places, "entrance", entrance),
            area=canonical_place(places, "area", area),
            received_from=received_from,
            received_to=received_to,
            assignee_id=assignee_id,
            overdue_at=now if overdue else None,
            text=q,
            search_personal=rules.may_see_personal_data(user.role),
            mine_user_id=user.user_id if mine else None,
            limit=limit,
            offset=offset,
        ),
    )
    names = user_names(session, {c.assignee_id for c in page.items})
    items = [
        present(c, user, now, names).model_copy(update={"reporter_name": None, "reporter_contact": None})
        for c in page.items
    ]
    return ComplaintList(items=items, total=page.total, limit=limit, offset=offset)


@router.get("/{complaint_id}", summary="A complaint with its history and attached footage")
def get_one(complaint_id: DbId, session: SessionDep, user: Reader) -> ComplaintDetail:
    complaint = get_complaint(session, complaint_id=complaint_id)
    if rules.may_see_personal_data(user.role) and (complaint.reporter_name or complaint.reporter_contact):
        audit_complaint(session, user, "complaint.view_personal", complaint)
    return detail_of(session, complaint, user)


@router.get("/{complaint_id}/proposals", summary="Cameras covering the place and their footage in the window")
def get_proposals(
    complaint_id: DbId,
    session: SessionDep,
    station: StationDep,
    user: Reader,
    margin_min: Annotated[int, Query(ge=0, le=180)] = 10,
) -> ComplaintProposals:
    """Cameras that cover the complaint's place; for each, its footage in the window (spans, gaps,
    segments, events) only where the media-access rule lets this user see it (purpose ``timeline``), else
    ``footage_hidden`` with the refusal's code."""
    return propose_footage(
        session,
        get_complaint(session, complaint_id=complaint_id),
        user,
        policy=MediaPolicy.of(station.settings.config.console),
        now=utcnow(),
        margin=timedelta(minutes=margin_min),
    )


# --- registering and changing ---------------------------------------------------------------------


@router.post("", status_code=201, summary="Register a complaint")
def post_complaint(
    body: ComplaintCreate, session: SessionDep, station: StationDep, user: Editor
) -> ComplaintDetail:
    now = utcnow()
    rules.check_incident_window(
        received_at=body.received_at,
        incident_start=body.incident_start,
        incident_end=body.incident_end,
        now=now,
    )
    places = known_places(session)
    building = canonical_place(places, "building", body.building)
    entrance = canonical_place(places, "entrance", body.entrance)
    area = canonical_place(places, "area", body.area)
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
            reporter_name=clean_text(body.reporter_name),
            reporter_contact=clean_text(body.reporter_contact),
            building=building,
            entrance=entrance,
            area=area,
        ),
        created_by=user.user_id,
        now=now,
        year=now.astimezone(ZoneInfo(config.station.timezone)).year,
        due_at=rules.due_at(body.received_at, config.console.complaint_due_hours),
        actor_name=user.label,
    )
    audit_complaint(
        session, user, "complaint.create", complaint, category=complaint.category, channel=complaint.channel
    )
    return detail_of(session, complaint, user)


def _field_changes(session: Session, body: ComplaintUpdate) -> dict[str, Any]:
    values = body.model_dump(exclude_unset=True, exclude={"assignee_id", "note"})
    for key in ("reporter_name", "reporter_contact"):
        if key in values:
            values[key] = clean_text(values[key])
    present = [place for place in PLACE_KEYS if place in values]
    if present:
        places = known_places(session)
        for place in present:
            values[place] = canonical_place(places, place, values[place])
    for key in ("channel", "category"):
        if values.get(key) is not None:
            values[key] = str(values[key])
    for key in ("received_at", "channel", "category", "description", "incident_start", "incident_end"):
        if key in values and values[key] is None:
            raise ApiError(422, "validation_error", "{field} cannot be emptied", params={"field": key})
    return values


def _assign(session: Session, complaint: Complaint, assignee_id: int | None, user: Principal) -> None:
    target = session.get(User, assignee_id) if assignee_id is not None else None
    if assignee_id is not None and (
        target is None or target.disabled or Permission.COMPLAINTS_EDIT not in permissions_for(target.role)
    ):
        raise ApiError(422, "invalid_assignee", "the assignee must be an active user who handles complaints")
    if assign_complaint(
        session,
        complaint=complaint,
        assignee_id=assignee_id,
        user_id=user.user_id,
        now=utcnow(),
        actor_name=user.label,
        assignee_name=(target.display_name or target.username) if target is not None else None,
    ):
        audit_complaint(session, user, "complaint.assign", complaint, assignee_id=assignee_id)


@router.patch("/{complaint_id}", summary="Change registered fields or the assignee")
def patch_complaint(
    complaint_id: DbId, body: ComplaintUpdate, session: SessionDep, user: Editor
) -> ComplaintDetail:
    now = utcnow()
    complaint = get_complaint(session, complaint_id=complaint_id)
    values = _field_changes(session, body)
    if {"received_at", "incident_start", "incident_end"} & values.keys():
        rules.check_incident_window(
            received_at=values.get("received_at", complaint.received_at),
            incident_start=values.get("incident_start", complaint.incident_start),
            incident_end=values.get("incident_end", complaint.incident_end),
            now=now,
        )
    changed = update_complaint(
        session,
        complaint=complaint,
        changes=values,
        user_id=user.user_id,
        now=now,
        note=body.note,
        actor_name=user.label,
    )
    if changed.fields:
        audit_complaint(session, user, "complaint.update", complaint, fields=sorted(changed.fields))
    if "assignee_id" in body.model_fields_set:
        _assign(session, complaint, body.assignee_id or None, user)
    return detail_of(session, complaint, user)


@router.post("/{complaint_id}/status", summary="Move the complaint through its workflow")
def post_status(
    complaint_id: DbId, body: StatusChange, session: SessionDep, station: StationDep, user: Editor
) -> ComplaintDetail:
    now = utcnow()
    complaint = get_complaint(session, complaint_id=complaint_id)
    plan = rules.plan_transition(
        complaint.status,
        body.status,
        outcome=body.outcome.value if body.outcome else None,
        note=body.note,
    )
    if plan.to_status is ComplaintStatus.IN_PROGRESS and complaint.assignee_id is None:
        assign_complaint(
            session,
            complaint=complaint,
            assignee_id=user.user_id,
            user_id=user.user_id,
            now=now,
            actor_name=user.label,
            assignee_name=user.label,
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
        actor_name=user.label,
    )
    audit_complaint(
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
            audit_lock(
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
def post_note(complaint_id: DbId, body: NoteCreate, session: SessionDep, user: Editor) -> ComplaintDetail:
    complaint = get_complaint(session, complaint_id=complaint_id)
    try:
        add_note(
            session,
            complaint=complaint,
            note=body.note,
            user_id=user.user_id,
            now=utcnow(),
            actor_name=user.label,
        )
    except ValueError as exc:
        raise ApiError(422, "empty_note", "a note cannot be empty", cause=str(exc)) from exc
    audit_complaint(session, user, "complaint.note", complaint)
    return detail_of(session, complaint, user)


# --- evidence -------------------------------------------------------------------------------------


def _check_attach(
    session: Session,
    complaint: Complaint,
    body: EvidenceCreate,
    user: Principal,
    horizon_days: int,
    live: LiveLookup,
) -> Camera:
    """Every refusal of an attach (the range, the camera, the user's right to that range, the event, and
    whether anything was recorded there, the file being written included); returns the camera."""
    now = utcnow()
    if rules.is_closed(complaint.status):
        raise ApiError(409, "complaint_closed", "reopen the complaint before attaching footage")
    rules.check_attach_range(start_utc=body.start, end_utc=body.end, now=now)
    camera = session.get(Camera, body.camera_id)
    if camera is None:
        raise ApiError(
            422, "unknown_camera", "no camera {camera} on this station", params={"camera": body.camera_id}
        )
    attempt = {"camera": camera.id, "start": body.start.isoformat(), "end": body.end.isoformat()}
    if not rules.may_attach_range(
        user.permissions,
        incident_start=complaint.incident_start,
        incident_end=complaint.incident_end,
        start_utc=body.start,
        end_utc=body.end,
    ):
        error = ApiError(
            403,
            "outside_incident_window",
            "officers attach footage within {hours} hour(s) of the reported incident; "
            "ask an investigator otherwise",
            params={"hours": int(rules.ATTACH_MARGIN.total_seconds() // 3600)},
        )
        raise refuse_change(session, user, "complaint.evidence_attach", complaint, error, **attempt)
    if rules.attach_needs_supervisor(
        user.permissions, start_utc=body.start, now=now, horizon_days=horizon_days
    ):
        error = ApiError(
            403,
            "attach_needs_supervisor",
            "footage older than {days} day(s) is attached by a supervisor: attaching it would widen "
            "your own access to recordings",
            params={"days": horizon_days},
        )
        raise refuse_change(session, user, "complaint.evidence_attach", complaint, error, **attempt)
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
    growing = any(f.start_utc < body.end and f.end_utc > body.start for f in live(camera.id))
    if not growing and not recorded_spans(
        session, camera_id=camera.id, start_utc=body.start, end_utc=body.end
    ):
        raise ApiError(
            422,
            "no_recording",
            "camera {camera} recorded nothing in this range: there is no footage to attach",
            params={"camera": camera.id},
        )
    return camera


@router.post(
    "/{complaint_id}/evidence", status_code=201, summary="Attach footage (locks it against retention)"
)
def post_evidence(
    complaint_id: DbId, body: EvidenceCreate, session: SessionDep, station: StationDep, user: Editor
) -> ComplaintDetail:
    """Officers attach footage around the reported incident and inside their own playback horizon; older
    footage is attached by a supervisor (issue 26, finding 4). Refusals of the user's right are audited."""
    complaint = get_complaint(session, complaint_id=complaint_id)
    horizon_days = station.settings.config.console.officer_recording_days
    camera = _check_attach(session, complaint, body, user, horizon_days, station.recording.live_footage)
    attached = attach_evidence(
        session,
        complaint=complaint,
        camera_id=camera.id,
        start_utc=body.start,
        end_utc=body.end,
        user_id=user.user_id,
        now=utcnow(),
        note=clean_text(body.note),
        event_id=body.event_id,
        actor_name=user.label,
    )
    audit_complaint(
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
        audit_lock(
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


def _release_reason(
    session: Session, complaint: Complaint, evidence_id: int, user: Principal, body: EvidenceRelease | None
) -> str | None:
    """Who may release this attachment (its author, or a supervisor with a reason); returns the reason."""
    evidence = get_evidence(session, complaint=complaint, evidence_id=evidence_id)
    reason = clean_text(body.reason if body else None)
    attempt = {"evidence_id": evidence_id, "camera": evidence.camera_id, "added_by": evidence.added_by}
    if not rules.may_release_evidence(user.permissions, user_id=user.user_id, added_by=evidence.added_by):
        error = ApiError(
            403,
            "release_needs_supervisor",
            "this footage was attached by someone else: only a supervisor may release it, with a reason",
        )
        raise refuse_change(session, user, "complaint.evidence_detach", complaint, error, **attempt)
    needs_reason = rules.release_needs_reason(user_id=user.user_id, added_by=evidence.added_by)
    if needs_reason and len(reason or "") < rules.RELEASE_REASON_MIN_CHARS:
        raise ApiError(
            422,
            "reason_required",
            "releasing footage someone else attached needs a reason of at least {chars} characters",
            params={"chars": rules.RELEASE_REASON_MIN_CHARS},
        )
    return reason


@router.delete("/{complaint_id}/evidence/{evidence_id}", summary="Detach footage (releases its lock)")
def delete_evidence(
    complaint_id: DbId,
    evidence_id: DbId,
    session: SessionDep,
    user: Editor,
    body: EvidenceRelease | None = None,
) -> ComplaintDetail:
    """Whoever attached footage may detach it; footage someone else attached only a supervisor, with a
    reason (issue 26, finding 5). Refusals are audited; the reason goes to the history and the audit log."""
    complaint = get_complaint(session, complaint_id=complaint_id)
    if rules.is_closed(complaint.status):
        raise ApiError(409, "complaint_closed", "reopen the complaint before changing its footage")
    reason = _release_reason(session, complaint, evidence_id, user, body)
    removed = detach_evidence(
        session,
        complaint=complaint,
        evidence_id=evidence_id,
        user_id=user.user_id,
        now=utcnow(),
        actor_name=user.label,
        reason=reason,
    )
    audit_complaint(
        session,
        user,
        "complaint.evidence_detach",
        complaint,
        camera=removed.camera_id,
        lock_id=removed.lock_id,
        added_by=removed.added_by,
        reason=reason,
    )
    if removed.lock_id is not None:
        audit_lock(
            session,
            user,
            "evidence.unlock",
            complaint,
            removed.lock_id,
            camera=removed.camera_id,
            reason=reason,
        )
    return detail_of(session, complaint, user)
