"""Complaints: keyword-only functions over ``complaints``, ``complaint_history`` and ``complaint_evidence``.

Every change writes a ``complaint_history`` row (who, when, what, from/to status, note); the console adds the
audit row. Workflow rules (which transitions are allowed, which outcomes close a case) live in
:mod:`console.complaint`; these functions apply what the console decided.

History rows name the actor as they were named at the time (``actor_name``) and keep the structured part
of the entry in ``detail`` (changed fields, assignee id and name, outcome, attached range) so a page shows
names and translated values, never ``user 1`` or ``warning_given``; ``note`` holds only what a person wrote.

Evidence locks (the policy, see also README "Evidence locks"): attaching footage puts a lock on the camera and
range (reason = the complaint number) so retention keeps it. A lock of an open complaint holds without expiry;
closing the case gives the complaint's locks an expiry (closed_at + ``storage.closed_case_retention_days``)
and reopening clears it again. Detaching releases the lock (the lock row stays as history). Which users may
attach or detach what is the console's decision (:mod:`console.complaint`).

Free-text search runs over casefolded copies kept on the row (``search_public``: number and description;
``search_personal``: reporter name and contact, with the contact's digits so "7010000" finds
"+7 701 000 00 00"); SQLite's ``lower()`` folds ASCII only.

Numbers are ``YYYY-NNNNNN`` (year of registration, sequence within the year), unique by constraint; a
concurrent writer that took the same number makes :func:`create_complaint` retry with the next one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.lock import create_lock, release_lock, set_lock_expiry
from storage.model import (
    Camera,
    Complaint,
    ComplaintEvidence,
    ComplaintHistory,
    ComplaintStatus,
    EvidenceLock,
    Segment,
)
from storage.segment import FINISHED_STATUSES

OPEN_STATUSES = (ComplaintStatus.NEW.value, ComplaintStatus.IN_PROGRESS.value)
CLOSED_STATUSES = (ComplaintStatus.RESOLVED.value, ComplaintStatus.REJECTED.value)
NUMBER_ATTEMPTS = 5
EDITABLE_FIELDS = frozenset(
    {
        "received_at",
        "channel",
        "reporter_name",
        "reporter_contact",
        "category",
        "description",
        "building",
        "entrance",
        "area",
        "incident_start",
        "incident_end",
        "due_at",
    }
)


class ComplaintNotFoundError(LookupError):
    """No complaint with this id."""

    def __init__(self, complaint_id: int) -> None:
        super().__init__(f"no complaint with id {complaint_id}")
        self.complaint_id = complaint_id


class EvidenceNotFoundError(LookupError):
    """No attached footage with this id on this complaint (``complaint_number``)."""

    def __init__(self, evidence_id: int, complaint_number: str) -> None:
        super().__init__(f"no footage {evidence_id} attached to complaint {complaint_number}")
        self.evidence_id = evidence_id
        self.complaint_number = complaint_number


@dataclass(frozen=True, slots=True)
class ComplaintFields:
    """What an officer registers."""

    received_at: datetime
    channel: str
    category: str
    incident_start: datetime
    incident_end: datetime
    description: str = ""
    reporter_name: str | None = None
    reporter_contact: str | None = None
    building: str | None = None
    entrance: str | None = None
    area: str | None = None


@dataclass(frozen=True, slots=True)
class ComplaintFilter:
    """List filters; ``None`` means any. ``received_from``/``received_to`` bound ``received_at``.

    Places match exactly: the console canonicalises them to the cameras' spelling (SQLite's ``lower()`` only
    folds ASCII, so case-insensitive matching of Cyrillic cannot be left to the database)."""

    statuses: Sequence[str] = ()
    category: str | None = None
    building: str | None = None
    entrance: str | None = None
    area: str | None = None
    received_from: datetime | None = None
    received_to: datetime | None = None
    assignee_id: int | None = None
    overdue_at: datetime | None = None  # only complaints open and past due at this instant
    text: str | None = None  # free text: every word must occur in number, description (or personal data)
    search_personal: bool = False  # whether ``text`` also searches the reporter's name and contact
    mine_user_id: int | None = None  # only complaints assigned to, or registered by, this user
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True, slots=True)
class ComplaintPage:
    items: Sequence[Complaint]
    total: int


@dataclass(frozen=True, slots=True)
class Attached:
    """One attached range with its lock."""

    evidence: ComplaintEvidence
    lock: EvidenceLock | None


@dataclass(frozen=True, slots=True)
class EvidenceRange:
    """An attached camera range as media access sees it."""

    complaint_id: int
    camera_id: str
    start_utc: datetime
    end_utc: datetime


@dataclass(slots=True)
class Change:
    """What :func:`update_complaint` changed: field -> (old, new)."""

    fields: dict[str, tuple[object, object]] = field(default_factory=dict)


def search_text(*parts: str | None) -> str:
    """Casefolded, whitespace-collapsed text of ``parts`` (pure): what the list's search matches against."""
    return " ".join(" ".join(p.split()).casefold() for p in parts if p and p.strip())


def digits_of(value: str | None) -> str:
    return "".join(c for c in value or "" if c.isdigit())


PHONE_PUNCTUATION = frozenset("+-()")


def search_terms(text: str | None) -> list[tuple[str, ...]]:
    """The words of a search (pure), casefolded; each with its alternatives: a phone-like word ("+7(701)",
    "000-00", "2026-000123") also as its digits, which is how the contact's digits are kept."""
    terms: list[tuple[str, ...]] = []
    for word in search_text(text).split():
        digits = digits_of(word)
        phone_like = digits and digits != word and all(c.isdigit() or c in PHONE_PUNCTUATION for c in word)
        terms.append((word, digits) if phone_like else (word,))
    return terms


def refresh_search(complaint: Complaint) -> None:
    """Recompute the complaint's search text from its fields."""
    complaint.search_public = search_text(complaint.number, complaint.description)
    contact = complaint.reporter_contact
    complaint.search_personal = search_text(complaint.reporter_name, contact, digits_of(contact))


def is_overdue(complaint: Complaint, now: datetime) -> bool:
    """Open and past its due time (pure)."""
    return complaint.status in OPEN_STATUSES and complaint.due_at is not None and complaint.due_at < now


def format_number(year: int, sequence: int) -> str:
    return f"{year:04d}-{sequence:06d}"


def next_number(session: Session, *, year: int) -> str:
    prefix = f"{year:04d}-"
    newest = session.scalar(select(func.max(Complaint.number)).where(Complaint.number.like(prefix + "%")))
    sequence = int(newest.removeprefix(prefix)) + 1 if newest else 1
    return format_number(year, sequence)


def add_history(
    session: Session,
    *,
    complaint: Complaint,
    action: str,
    at: datetime,
    user_id: int | None,
    note: str | None = None,
    from_status: str | None = None,
    to_status: str | None = None,
    actor_name: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> ComplaintHistory:
    row = ComplaintHistory(
        complaint_id=complaint.id,
        at=at,
        user_id=user_id,
        action=action,
        from_status=from_status,
        to_status=to_status,
        note=note,
        actor_name=actor_name,
        detail=json.dumps(dict(detail), sort_keys=True, ensure_ascii=False) if detail else None,
    )
    session.add(row)
    session.flush()
    return row


def create_complaint(
    session: Session,
    *,
    fields: ComplaintFields,
    created_by: int,
    now: datetime,
    year: int,
    due_at: datetime | None,
    actor_name: str | None = None,
) -> Complaint:
    """Register a complaint (status ``new``) with the next free number of ``year``."""
    for _attempt in range(NUMBER_ATTEMPTS):
        complaint = Complaint(
            number=next_number(session, year=year),
            received_at=fields.received_at,
            channel=fields.channel,
            reporter_name=fields.reporter_name,
            reporter_contact=fields.reporter_contact,
            category=fields.category,
            description=fields.description,
            building=fields.building,
            entrance=fields.entrance,
            area=fields.area,
            incident_start=fields.incident_start,
            incident_end=fields.incident_end,
            status=ComplaintStatus.NEW.value,
            created_by=created_by,
            created_at=now,
            updated_at=now,
            due_at=due_at,
        )
        refresh_search(complaint)
        try:
            with session.begin_nested():
                session.add(complaint)
                session.flush()
        except IntegrityError:
            continue  # another writer took this number: take the next one
        add_history(
            session,
            complaint=complaint,
            action="created",
            at=now,
            user_id=created_by,
            to_status=complaint.status,
            actor_name=actor_name,
        )
        return complaint
    raise RuntimeError(f"could not allocate a complaint number for {year} after {NUMBER_ATTEMPTS} attempts")


def get_complaint(session: Session, *, complaint_id: int) -> Complaint:
    complaint = session.get(Complaint, complaint_id)
    if complaint is None:
        raise ComplaintNotFoundError(complaint_id)
    return complaint


def find_complaint_by_number(session: Session, *, number: str) -> Complaint | None:
    return session.scalars(select(Complaint).where(Complaint.number == number.strip())).one_or_none()


def update_complaint(
    session: Session,
    *,
    complaint: Complaint,
    changes: Mapping[str, object],
    user_id: int,
    now: datetime,
    note: str | None = None,
    actor_name: str | None = None,
) -> Change:
    """Change registered fields; one history row names the changed fields in its detail (values stay out of
    it: they may be personal data); ``note`` is the officer's own."""
    unknown = sorted(set(changes) - EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"not editable: {', '.join(unknown)}")
    change = Change()
    for name, value in changes.items():
        old = getattr(complaint, name)
        if old != value:
            setattr(complaint, name, value)
            change.fields[name] = (old, value)
    if change.fields:
        complaint.updated_at = now
        refresh_search(complaint)
        add_history(
            session,
            complaint=complaint,
            action="updated",
            at=now,
            user_id=user_id,
            note=(note or "").strip() or None,
            actor_name=actor_name,
            detail={"fields": sorted(change.fields)},
        )
    return change


def assign_complaint(
    session: Session,
    *,
    complaint: Complaint,
    assignee_id: int | None,
    user_id: int,
    now: datetime,
    actor_name: str | None = None,
    assignee_name: str | None = None,
) -> bool:
    """Set the assignee; returns False when nothing changed. The history keeps the assignee's name as it is
    now (``assignee_name``; None with ``assignee_id`` None means "removed")."""
    if complaint.assignee_id == assignee_id:
        return False
    complaint.assignee_id = assignee_id
    complaint.updated_at = now
    add_history(
        session,
        complaint=complaint,
        action="assigned",
        at=now,
        user_id=user_id,
        actor_name=actor_name,
        detail={"assignee_id": assignee_id, "assignee": assignee_name},
    )
    return True


def add_note(
    session: Session,
    *,
    complaint: Complaint,
    note: str,
    user_id: int,
    now: datetime,
    actor_name: str | None = None,
) -> ComplaintHistory:
    if not note.strip():
        raise ValueError("a note cannot be empty")
    complaint.updated_at = now
    return add_history(
        session,
        complaint=complaint,
        action="note",
        at=now,
        user_id=user_id,
        note=note.strip(),
        actor_name=actor_name,
    )


def transition_complaint(
    session: Session,
    *,
    complaint: Complaint,
    to_status: ComplaintStatus,
    outcome: str | None,
    user_id: int,
    now: datetime,
    note: str | None = None,
    closed_case_retention_days: int,
    actor_name: str | None = None,
) -> ComplaintHistory:
    """Move to ``to_status`` (the console checked the transition is allowed).

    Closing sets ``closed_at`` and the expiry of the complaint's locks; reopening clears both.
    """
    from_status = complaint.status
    complaint.status = ComplaintStatus(to_status).value
    complaint.updated_at = now
    if complaint.status in CLOSED_STATUSES:
        complaint.outcome = outcome
        complaint.closed_at = now
        expiry: datetime | None = now + timedelta(days=closed_case_retention_days)
    else:
        complaint.outcome = None
        complaint.closed_at = None
        expiry = None
    for lock in complaint_locks(session, complaint_id=complaint.id):
        set_lock_expiry(session, lock_id=lock.id, expires_at=expiry)
    return add_history(
        session,
        complaint=complaint,
        action="status",
        at=now,
        user_id=user_id,
        from_status=from_status,
        to_status=complaint.status,
        note=note,
        actor_name=actor_name,
        detail={"outcome": outcome} if outcome else None,
    )


def complaint_history(session: Session, *, complaint_id: int) -> Sequence[ComplaintHistory]:
    query = select(ComplaintHistory).where(ComplaintHistory.complaint_id == complaint_id)
    return session.scalars(query.order_by(ComplaintHistory.at, ComplaintHistory.id)).all()


def complaint_locks(session: Session, *, complaint_id: int) -> Sequence[EvidenceLock]:
    """The complaint's locks that are not released."""
    query = select(EvidenceLock).where(
        EvidenceLock.complaint_id == complaint_id, EvidenceLock.released_at.is_(None)
    )
    return session.scalars(query.order_by(EvidenceLock.id)).all()


def _filtered(query: Select[Complaint], filters: ComplaintFilter) -> Select[Complaint]:
    if filters.statuses:
        query = query.where(Complaint.status.in_(list(filters.statuses)))
    if filters.category:
        query = query.where(Complaint.category == filters.category)
    for column, value in (
        (Complaint.building, filters.building),
        (Complaint.entrance, filters.entrance),
        (Complaint.area, filters.area),
    ):
        if value:
            query = query.where(column == value)
    columns = [Complaint.search_public]
    if filters.search_personal:
        columns.append(Complaint.search_personal)
    for alternatives in search_terms(filters.text):
        query = query.where(
            or_(*(column.contains(word, autoescape=True) for word in alternatives for column in columns))
        )
    if filters.mine_user_id is not None:
        query = query.where(
            or_(
                Complaint.assignee_id == filters.mine_user_id,
                Complaint.created_by == filters.mine_user_id,
            )
        )
    if filters.received_from is not None:
        query = query.where(Complaint.received_at >= filters.received_from)
    if filters.received_to is not None:
        query = query.where(Complaint.received_at < filters.received_to)
    if filters.assignee_id is not None:
        query = query.where(Complaint.assignee_id == filters.assignee_id)
    if filters.overdue_at is not None:
        query = query.where(
            Complaint.status.in_(OPEN_STATUSES),
            Complaint.due_at.is_not(None),
            Complaint.due_at < filters.overdue_at,
        )
    return query


def list_complaints(session: Session, *, filters: ComplaintFilter) -> ComplaintPage:
    """Newest received first."""
    base = _filtered(select(Complaint), filters)
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    query = base.order_by(Complaint.received_at.desc(), Complaint.id.desc())
    items = session.scalars(query.limit(filters.limit).offset(filters.offset)).all()
    return ComplaintPage(items=items, total=int(total))


def attach_evidence(
    session: Session,
    *,
    complaint: Complaint,
    camera_id: str,
    start_utc: datetime,
    end_utc: datetime,
    user_id: int,
    now: datetime,
    note: str | None = None,
    event_id: int | None = None,
    lock_expires_at: datetime | None = None,
    actor_name: str | None = None,
) -> Attached:
    """Attach footage of ``camera_id`` in ``[start_utc, end_utc)``: a lock (reason = number) plus the row."""
    if session.get(Camera, camera_id) is None:
        raise LookupError(f"unknown camera {camera_id!r}")
    lock = create_lock(
        session,
        camera_id=camera_id,
        start_utc=start_utc,
        end_utc=end_utc,
        reason=f"complaint {complaint.number}",
        complaint_id=complaint.id,
        created_by=user_id,
        expires_at=lock_expires_at,
    )
    evidence = ComplaintEvidence(
        complaint_id=complaint.id,
        camera_id=camera_id,
        start_utc=start_utc,
        end_utc=end_utc,
        lock_id=lock.id,
        event_id=event_id,
        note=note,
        added_by=user_id,
        added_at=now,
    )
    session.add(evidence)
    complaint.updated_at = now
    session.flush()
    add_history(
        session,
        complaint=complaint,
        action="evidence_attached",
        at=now,
        user_id=user_id,
        note=note,
        actor_name=actor_name,
        detail=_range_detail(camera_id, start_utc, end_utc),
    )
    return Attached(evidence=evidence, lock=lock)


def list_evidence(session: Session, *, complaint_id: int) -> list[Attached]:
    query = (
        select(ComplaintEvidence, EvidenceLock)
        .outerjoin(EvidenceLock, EvidenceLock.id == ComplaintEvidence.lock_id)
        .where(ComplaintEvidence.complaint_id == complaint_id)
        .order_by(ComplaintEvidence.start_utc, ComplaintEvidence.id)
    )
    return [Attached(evidence=evidence, lock=lock) for evidence, lock in session.execute(query)]


def _range_detail(camera_id: str, start_utc: datetime, end_utc: datetime) -> dict[str, str]:
    return {"camera": camera_id, "start": start_utc.isoformat(), "end": end_utc.isoformat()}


def get_evidence(session: Session, *, complaint: Complaint, evidence_id: int) -> ComplaintEvidence:
    evidence = session.get(ComplaintEvidence, evidence_id)
    if evidence is None or evidence.complaint_id != complaint.id:
        raise EvidenceNotFoundError(evidence_id, complaint.number)
    return evidence


def detach_evidence(
    session: Session,
    *,
    complaint: Complaint,
    evidence_id: int,
    user_id: int,
    now: datetime,
    actor_name: str | None = None,
    reason: str | None = None,
) -> ComplaintEvidence:
    """Remove an attached range and release its lock (the lock row stays, released); ``reason`` goes to the
    history note (the console requires one when the footage was attached by someone else)."""
    evidence = get_evidence(session, complaint=complaint, evidence_id=evidence_id)
    if evidence.lock_id is not None:
        release_lock(session, lock_id=evidence.lock_id, at=now, released_by=user_id)
    session.delete(evidence)
    complaint.updated_at = now
    session.flush()
    add_history(
        session,
        complaint=complaint,
        action="evidence_detached",
        at=now,
        user_id=user_id,
        note=reason,
        actor_name=actor_name,
        detail=_range_detail(evidence.camera_id, evidence.start_utc, evidence.end_utc),
    )
    return evidence


def evidence_ranges(
    session: Session, *, camera_id: str, start_utc: datetime, end_utc: datetime
) -> list[EvidenceRange]:
    """Attached ranges of ``camera_id`` that overlap ``[start_utc, end_utc)`` (for media access)."""
    query = select(ComplaintEvidence).where(
        ComplaintEvidence.camera_id == camera_id,
        ComplaintEvidence.start_utc < end_utc,
        ComplaintEvidence.end_utc > start_utc,
    )
    return [
        EvidenceRange(
            complaint_id=row.complaint_id,
            camera_id=row.camera_id,
            start_utc=row.start_utc,
            end_utc=row.end_utc,
        )
        for row in session.scalars(query.order_by(ComplaintEvidence.start_utc))
    ]


def finished_segments(
    session: Session, *, camera_id: str, start_utc: datetime, end_utc: datetime, limit: int
) -> list[tuple[int, datetime, datetime]]:
    """(id, start, end) of the finished segments of ``camera_id`` overlapping the range, oldest first."""
    query = (
        select(Segment.id, Segment.start_utc, Segment.end_utc)
        .where(
            Segment.camera_id == camera_id,
            Segment.start_utc < end_utc,
            Segment.end_utc > start_utc,
            Segment.status.in_(FINISHED_STATUSES),
        )
        .order_by(Segment.start_utc)
        .limit(limit)
    )
    return [(sid, start, end) for sid, start, end in session.execute(query)]


def overdue_complaints(session: Session, *, now: datetime, limit: int = 200) -> Sequence[Complaint]:
    return list_complaints(session, filters=ComplaintFilter(overdue_at=now, limit=limit)).items


def count_open(session: Session) -> int:
    query = select(func.count()).select_from(Complaint).where(Complaint.status.in_(OPEN_STATUSES))
    return int(session.scalar(query) or 0)
