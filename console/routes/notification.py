"""Notifications API: ``GET /api/notifications``, what needs the signed-in user's attention now.

Computed from the running station and the database on every call (:mod:`console.notification`); the wall
and the overview poll it (``static/js/notifications.js``). ``since`` marks the notifications whose condition
began after it as ``new``; every current notification is listed either way, so one that cleared is simply
no longer there.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from console.deps import CurrentUser, LanguageDep, SessionDep, StationDep
from console.notification import (
    OVERDUE_LISTED,
    Notification,
    NotificationKind,
    NotificationLevel,
    OverdueComplaint,
    PendingEvents,
    plan_notifications,
)
from console.permission import Permission
from console.request_types import UtcDatetime
from console.routes.health import check_database
from storage.complaint import ComplaintFilter, list_complaints
from storage.event import EventFilter, list_events
from storage.model import utcnow

router = APIRouter(prefix="/api/notifications", tags=["notifications"])


class NotificationPublic(BaseModel):
    key: str = Field(description="stable while the condition lasts; a new condition gets a new key")
    kind: NotificationKind
    level: NotificationLevel
    message: str = Field(description="in the request's language")
    detail: str | None = Field(default=None, description="the cause, in the request's language")
    link: str | None = Field(description="the page to open for it")
    since: datetime | None = Field(description="when the condition began (UTC), where known")
    new: bool = Field(description="the condition began after the request's `since`")
    camera_id: str | None = None
    count: int | None = Field(default=None, description="how many (overdue complaints, pending events)")


class NotificationList(BaseModel):
    items: list[NotificationPublic]
    generated_at: datetime


def _overdue(session: Session, now: datetime) -> tuple[list[OverdueComplaint], int]:
    page = list_complaints(session, filters=ComplaintFilter(overdue_at=now, limit=OVERDUE_LISTED))
    items = [OverdueComplaint(c.id, c.number, c.due_at) for c in page.items if c.due_at is not None]
    return items, page.total


def _pending(session: Session) -> PendingEvents | None:
    page = list_events(session, where=EventFilter(reviews=("pending",), limit=1))
    if not page.items:
        return None
    newest = page.items[0]
    return PendingEvents(count=page.total, newest_id=newest.id, newest_at=newest.start_utc)


def _public(
    item: Notification, station: StationDep, language: str, since: datetime | None
) -> NotificationPublic:
    catalog = station.catalogs.get(language)
    return NotificationPublic(
        key=item.key,
        kind=item.kind,
        level=item.level,
        message=item.message.translate(catalog),
        detail=item.detail.translate(catalog) if item.detail is not None else None,
        link=item.link,
        since=item.since,
        new=since is not None and item.since is not None and item.since > since,
        camera_id=item.camera_id,
        count=item.count,
    )


@router.get(
    "", summary="What needs the signed-in user's attention now (cameras, recording, complaints, events)"
)
def get_notifications(
    session: SessionDep,
    station: StationDep,
    user: CurrentUser,
    language: LanguageDep,
    since: Annotated[UtcDatetime | None, Query(description="mark what began after this as new")] = None,
) -> NotificationList:
    now = utcnow()
    _, status = station.assess(database_ok=check_database(station).ok)
    wants_overdue = Permission.COMPLAINTS_EDIT in user.permissions
    overdue, overdue_total = _overdue(session, now) if wants_overdue else ([], 0)
    pending = _pending(session) if Permission.EVENTS_REVIEW in user.permissions else None
    items = plan_notifications(
        permissions=user.permissions,
        cameras=station.health.snapshot(),
        reasons=status.reasons,
        overdue=overdue,
        overdue_total=overdue_total,
        pending_events=pending,
    )
    return NotificationList(
        items=[_public(item, station, language, since) for item in items], generated_at=now
    )
