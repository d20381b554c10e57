"""Detection events: rows the officer reviews, with the footage each one keeps locked until then.

An event is inserted when a rule opens it (``end_utc`` still empty, so the wall and the review queue see
it at once) and completed when the rule closes it. Its footage (pre- and post-roll included) is locked until
it is reviewed, or until the camera's retention would have let it go anyway (``expires_at``). Box, track and
a dismissal's reason live in ``detail`` (JSON).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.lock import create_lock, release_lock
from storage.model import Clip, Event
from storage.segment import ensure_camera_row

REVIEW_STATES = ("pending", "confirmed", "dismissed")


class EventNotFoundError(LookupError):
    """No event with this id."""

    def __init__(self, event_id: int) -> None:
        super().__init__(f"no event {event_id}")
        self.event_id = event_id


class EventReviewError(ValueError):
    """A review that cannot be taken (unknown decision, dismissal without a reason)."""


@dataclass(frozen=True, slots=True)
class EventFilter:
    """List filters; empty / None means any. ``start_from``/``start_to`` bound ``start_utc``."""

    camera_ids: Sequence[str] = ()
    kinds: Sequence[str] = ()
    zones: Sequence[str] = ()
    reviews: Sequence[str] = ()
    start_from: datetime | None = None
    start_to: datetime | None = None
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True, slots=True)
class EventPage:
    items: Sequence[Event]
    total: int


def event_detail(event: Event) -> dict[str, object]:
    if not event.detail:
        return {}
    try:
        value = json.loads(event.detail)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def open_event(
    session: Session,
    *,
    camera_id: str,
    kind: str,
    zone: str | None,
    start_utc: datetime,
    score: float | None,
    detail: dict[str, object],
) -> Event:
    ensure_camera_row(session, camera_id=camera_id)
    event = Event(
        camera_id=camera_id,
        kind=kind,
        zone=zone,
        start_utc=start_utc,
        end_utc=None,
        score=score,
        detail=json.dumps(detail, ensure_ascii=False),
        review="pending",
    )
    session.add(event)
    session.flush()
    return event


def close_event(
    session: Session,
    *,
    event_id: int,
    start_utc: datetime,
    end_utc: datetime,
    score: float | None,
    detail: dict[str, object],
    snapshot_path: str | None,
    lock_start_utc: datetime,
    lock_end_utc: datetime,
    lock_expires_at: datetime | None,
) -> Event:
    """Complete an event and lock its footage (``lock_*``: the clip's range) until it is reviewed."""
    event = get_event(session, event_id=event_id)
    event.start_utc, event.end_utc, event.score = start_utc, end_utc, score
    event.snapshot_path = snapshot_path
    merged = {**event_detail(event), **detail}
    if event.review == "pending" and lock_end_utc > lock_start_utc:
        lock = create_lock(
            session,
            camera_id=event.camera_id,
            start_utc=lock_start_utc,
            end_utc=lock_end_utc,
            reason=f"detection event {event.id} ({event.kind}) awaiting review",
            expires_at=lock_expires_at,
        )
        merged["lock_id"] = lock.id
    event.detail = json.dumps(merged, ensure_ascii=False)
    session.flush()
    return event


def set_event_clip(session: Session, *, event_id: int, clip: Clip) -> None:
    event = get_event(session, event_id=event_id)
    event.clip_id = clip.id
    session.flush()


def get_event(session: Session, *, event_id: int) -> Event:
    event = session.get(Event, event_id)
    if event is None:
        raise EventNotFoundError(event_id)
    return event


def list_events(session: Session, *, where: EventFilter) -> EventPage:
    query = select(Event)
    if where.camera_ids:
        query = query.where(Event.camera_id.in_(list(where.camera_ids)))
    if where.kinds:
        query = query.where(Event.kind.in_(list(where.kinds)))
    if where.zones:
        query = query.where(Event.zone.in_(list(where.zones)))
    if where.reviews:
        query = query.where(Event.review.in_(list(where.reviews)))
    if where.start_from is not None:
        query = query.where(Event.start_utc >= where.start_from)
    if where.start_to is not None:
        query = query.where(Event.start_utc < where.start_to)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(Event.start_utc.desc(), Event.id.desc()).limit(where.limit).offset(where.offset)
    ).all()
    return EventPage(items=rows, total=int(total))


def events_overlapping(
    session: Session, *, camera_ids: Sequence[str], start_utc: datetime, end_utc: datetime, limit: int = 500
) -> Sequence[Event]:
    """Events of these cameras that overlap ``[start_utc, end_utc)`` (an open event runs to now)."""
    query = (
        select(Event)
        .where(Event.camera_id.in_(list(camera_ids)))
        .where(Event.start_utc < end_utc)
        .where((Event.end_utc.is_(None)) | (Event.end_utc >= start_utc))
        .order_by(Event.start_utc)
        .limit(limit)
    )
    return session.scalars(query).all()


def open_events(session: Session) -> Sequence[Event]:
    """Events still going on (no end yet)."""
    return session.scalars(select(Event).where(Event.end_utc.is_(None)).order_by(Event.start_utc)).all()


def close_abandoned_events(session: Session, *, at: datetime) -> int:
    """Events left open by a station that stopped (a crash): they end where they were last seen."""
    count = 0
    for event in open_events(session):
        event.end_utc = max(event.start_utc, min(at, event.start_utc + timedelta(hours=1)))
        detail = event_detail(event)
        detail["abandoned"] = True
        event.detail = json.dumps(detail, ensure_ascii=False)
        count += 1
    session.flush()
    return count


def review_event(
    session: Session, *, event_id: int, decision: str, user_id: int, at: datetime, reason: str | None = None
) -> Event:
    """Confirm or dismiss (a false alarm, with a reason); either releases the footage lock, which a
    complaint the event is attached to replaces with its own. ``pending`` undoes a review."""
    if decision not in REVIEW_STATES:
        raise EventReviewError(
            f"unknown review decision {decision!r} (expected one of {', '.join(REVIEW_STATES)})"
        )
    text = (reason or "").strip()
    if decision == "dismissed" and not text:
        raise EventReviewError("a dismissal needs a reason")
    event = get_event(session, event_id=event_id)
    detail = event_detail(event)
    event.review = decision
    event.reviewed_by = None if decision == "pending" else user_id
    event.reviewed_at = None if decision == "pending" else at
    if text:
        detail["review_reason"] = text[:500]
    else:
        detail.pop("review_reason", None)
    lock_id = detail.pop("lock_id", None)
    if decision != "pending" and isinstance(lock_id, int):
        release_lock(session, lock_id=lock_id, at=at, released_by=user_id)
        detail["released_lock_id"] = lock_id
    elif lock_id is not None:
        detail["lock_id"] = lock_id
    event.detail = json.dumps(detail, ensure_ascii=False)
    session.flush()
    return event
