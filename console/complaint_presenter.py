"""Complaints as the API shows them: names instead of user ids, personal data only for the roles that work
the case, history with who acted as they were named then."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from console import complaint as rules
from console.complaint import Category, Channel
from console.complaint_schema import (
    ComplaintDetail,
    ComplaintOptions,
    ComplaintPublic,
    EvidencePublic,
    HistoryPublic,
    StillPublic,
)
from console.deps import Principal
from console.permission import Permission, permissions_for
from storage.complaint import Attached, complaint_history, is_overdue, list_evidence
from storage.model import Complaint, ComplaintHistory, ComplaintStatus, ComplaintStill, utcnow
from storage.place import known_places
from storage.still import list_stills
from storage.user import display_names, list_active_users


def user_names(session: Session, ids: set[int | None]) -> dict[int, str]:
    return display_names(session, ids)


def options_of(session: Session) -> ComplaintOptions:
    """What the complaint forms offer: channels, categories, statuses, outcomes, the workflow, the places
    known from cameras and complaints, and the active users who handle complaints (as assignees)."""
    places = known_places(session)
    return ComplaintOptions.model_validate(
        {
            "channels": [c.value for c in Channel],
            "categories": [c.value for c in Category],
            "statuses": [s.value for s in ComplaintStatus],
            "outcomes": {s.value: sorted(o.value for o in outs) for s, outs in rules.OUTCOMES.items()},
            "transitions": {s.value: sorted(t.value for t in to) for s, to in rules.TRANSITIONS.items()},
            "places": {key: sorted(values) for key, values in places.items()},
            "assignees": [
                {"id": user.id, "name": user.display_name or user.username}
                for user in list_active_users(session)
                if Permission.COMPLAINTS_EDIT in permissions_for(user.role)
            ],
        }
    )


def place_of(complaint: Complaint) -> str:
    return " / ".join(p for p in (complaint.building, complaint.entrance, complaint.area) if p)


def present(complaint: Complaint, user: Principal, now: datetime, names: dict[int, str]) -> ComplaintPublic:
    personal = rules.may_see_personal_data(user.role)
    return ComplaintPublic.model_validate(
        {
            **{
                key: getattr(complaint, key)
                for key in ComplaintPublic.model_fields
                if hasattr(Complaint, key) and key not in ("reporter_name", "reporter_contact")
            },
            "place": place_of(complaint),
            "assignee": names.get(complaint.assignee_id) if complaint.assignee_id else None,
            "overdue": is_overdue(complaint, now),
            "personal_data_visible": personal,
            "reporter_name": complaint.reporter_name if personal else None,
            "reporter_contact": complaint.reporter_contact if personal else None,
        }
    )


def present_history(row: ComplaintHistory, names: dict[int, str]) -> HistoryPublic:
    detail: dict[str, Any] | None = json.loads(row.detail) if row.detail else None
    return HistoryPublic(
        id=row.id,
        at=row.at,
        user_id=row.user_id,
        user=row.actor_name or (names.get(row.user_id) if row.user_id else None),
        action=row.action,
        from_status=row.from_status,
        to_status=row.to_status,
        note=row.note,
        detail=detail,
    )


def present_evidence(
    item: Attached, user: Principal, names: dict[int, str], *, open_case: bool
) -> EvidencePublic:
    evidence, lock = item.evidence, item.lock
    return EvidencePublic(
        id=evidence.id,
        camera_id=evidence.camera_id,
        start=evidence.start_utc,
        end=evidence.end_utc,
        note=evidence.note,
        event_id=evidence.event_id,
        added_by=evidence.added_by,
        added_by_name=names.get(evidence.added_by) if evidence.added_by else None,
        added_at=evidence.added_at,
        lock_id=lock.id if lock else None,
        lock_expires_at=lock.expires_at if lock else None,
        lock_released=bool(lock and lock.released_at is not None),
        may_detach=open_case
        and rules.may_release_evidence(user.permissions, user_id=user.user_id, added_by=evidence.added_by),
        detach_needs_reason=rules.release_needs_reason(user_id=user.user_id, added_by=evidence.added_by),
    )


def present_still(still: ComplaintStill, names: dict[int, str]) -> StillPublic:
    return StillPublic(
        id=still.id,
        camera_id=still.camera_id,
        requested_at=still.requested_utc,
        frame_at=still.frame_utc,
        sha256=still.sha256,
        bytes=still.bytes,
        width=still.width,
        height=still.height,
        source_sha256=still.source_sha256,
        added_by=still.added_by,
        added_by_name=names.get(still.added_by) if still.added_by else None,
        added_at=still.added_at,
        url=f"/api/complaints/{still.complaint_id}/stills/{still.id}",
    )


def detail_of(session: Session, complaint: Complaint, user: Principal) -> ComplaintDetail:
    now = utcnow()
    history = complaint_history(session, complaint_id=complaint.id)
    evidence = list_evidence(session, complaint_id=complaint.id)
    stills = list_stills(session, complaint_id=complaint.id)
    names = user_names(
        session,
        {
            complaint.assignee_id,
            *(h.user_id for h in history),
            *(e.evidence.added_by for e in evidence),
            *(s.added_by for s in stills),
        },
    )
    can_edit = rules.may_edit(user.permissions)
    transitions = (
        sorted(s.value for s in rules.TRANSITIONS[ComplaintStatus(complaint.status)]) if can_edit else []
    )
    open_case = not rules.is_closed(complaint.status)
    return ComplaintDetail(
        complaint=present(complaint, user, now, names),
        history=[present_history(h, names) for h in history],
        evidence=[present_evidence(item, user, names, open_case=open_case) for item in evidence],
        stills=[present_still(still, names) for still in stills],
        allowed_transitions=transitions,
        can_edit=can_edit,
    )
