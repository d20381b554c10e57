"""Detection events: the review queue's API, the event's picture and clip, and the live "what is going on".

``GET /api/events`` lists events newest first with filters (camera, kind, zone, review state, period);
``POST /api/events/{id}/review`` confirms one or dismisses it as a false alarm with a reason (either
releases the footage lock the event held); ``GET /api/events/{id}/snapshot`` and ``/clip`` serve its
picture and clip through the media access check, each view audited (``event.snapshot``, ``event.clip``);
``GET /api/events/active`` and the server-sent-event stream ``/api/events/stream`` tell the live wall which
cameras have an event going on.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, StreamingResponse
from pydantic import BaseModel, Field

from console.deps import Principal, SessionDep, StationDep, audit_as, require
from console.error import ApiError
from console.media_access import MediaPolicy, MediaPurpose, MediaRequest, check_media_access
from console.permission import Permission
from console.request_types import DbId, UtcDatetime
from storage.event import (
    EventFilter,
    event_detail,
    get_event,
    list_events,
    review_event,
)
from storage.layout import SegmentPathError, resolve_relative
from storage.model import Camera, Clip, Event, utcnow

router = APIRouter(prefix="/api/events", tags=["events"])
Viewer = Annotated[Principal, require(Permission.EVENTS_VIEW)]
Reviewer = Annotated[Principal, require(Permission.EVENTS_REVIEW)]
KINDS = ("motion", "person", "littering", "smoking")
REVIEWS = ("pending", "confirmed", "dismissed")
MAX_PAGE = 200


class EventPublic(BaseModel):
    id: int
    camera_id: str
    camera_name: str
    kind: str
    zone: str | None
    start_utc: datetime
    end_utc: datetime | None
    ongoing: bool
    score: float | None
    review: str
    review_reason: str | None
    reviewed_at: datetime | None
    box: list[float] | None = Field(description="x1, y1, x2, y2 in source pixels at the best moment")
    track: int | None
    snapshot_url: str | None
    clip_url: str | None


class EventPage(BaseModel):
    items: list[EventPublic]
    total: int
    limit: int
    offset: int


class ReviewBody(BaseModel):
    decision: Literal["confirmed", "dismissed", "pending"]
    reason: str | None = Field(default=None, max_length=500)


class ActiveEventPublic(BaseModel):
    id: int
    camera_id: str
    kind: str
    zone: str | None
    start_utc: datetime


def _public(event: Event, names: dict[str, str]) -> EventPublic:
    detail = event_detail(event)
    box = detail.get("box")
    track = detail.get("track")
    reason = detail.get("review_reason")
    return EventPublic(
        id=event.id,
        camera_id=event.camera_id,
        camera_name=names.get(event.camera_id, event.camera_id),
        kind=event.kind,
        zone=event.zone,
        start_utc=event.start_utc,
        end_utc=event.end_utc,
        ongoing=event.end_utc is None,
        score=event.score,
        review=event.review,
        review_reason=reason if isinstance(reason, str) else None,
        reviewed_at=event.reviewed_at,
        box=[float(v) for v in box] if isinstance(box, list) and len(box) == 4 else None,
        track=track if isinstance(track, int) else None,
        snapshot_url=f"/api/events/{event.id}/snapshot" if event.snapshot_path else None,
        clip_url=f"/api/events/{event.id}/clip" if event.clip_id else None,
    )


def _names(session: SessionDep) -> dict[str, str]:
    return {camera.id: camera.name for camera in session.query(Camera).all()}


def _event(session: SessionDep, event_id: int) -> Event:
    if not 0 < event_id < 2**31:
        raise ApiError(404, "event_not_found", "no event {id}", params={"id": event_id})
    return get_event(session, event_id=event_id)


@router.get("", summary="Detection events, newest first")
def get_events(
    session: SessionDep,
    _user: Viewer,
    camera: Annotated[list[str] | None, Query(max_length=64)] = None,
    kind: Annotated[list[Literal["motion", "person", "littering", "smoking"]] | None, Query()] = None,
    zone: Annotated[list[str] | None, Query(max_length=64)] = None,
    review: Annotated[list[Literal["pending", "confirmed", "dismissed"]] | None, Query()] = None,
    start: UtcDatetime | None = None,
    end: UtcDatetime | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> EventPage:
    if start is not None and end is not None and end <= start:
        raise ApiError(422, "invalid_range", "end must be after start")
    page = list_events(
        session,
        where=EventFilter(
            camera_ids=camera or (),
            kinds=kind or (),
            zones=zone or (),
            reviews=review or (),
            start_from=start,
            start_to=end,
            limit=limit,
            offset=offset,
        ),
    )
    names = _names(session)
    return EventPage(
        items=[_public(e, names) for e in page.items], total=page.total, limit=limit, offset=offset
    )


@router.get("/active", summary="Events going on now (for the live wall)")
def get_active(station: StationDep, _user: Viewer) -> list[ActiveEventPublic]:
    return _active(station)


def _active(station: StationDep) -> list[ActiveEventPublic]:
    detection = station.detection
    if detection is None:
        return []
    return [
        ActiveEventPublic(
            id=a.event_id, camera_id=a.camera_id, kind=a.kind, zone=a.zone, start_utc=a.start_utc
        )
        for a in detection.recorder.active()
    ]


@router.get("/stream", summary="Server-sent events: the set of events going on, whenever it changes")
async def get_stream(request: Request, station: StationDep, _user: Viewer) -> StreamingResponse:
    async def changes() -> AsyncIterator[str]:
        last = None
        idle = 0
        while not await request.is_disconnected():
            current = [a.model_dump(mode="json") for a in _active(station)]
            if current != last:
                last = current
                idle = 0
                yield f"event: active\ndata: {json.dumps(current)}\n\n"
            else:
                idle += 1
                if idle >= 15:
                    idle = 0
                    yield ": keep-alive\n\n"
            await asyncio.sleep(1.0)

    return StreamingResponse(
        changes(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.get("/{event_id}", summary="One event")
def get_one(event_id: DbId, session: SessionDep, _user: Viewer) -> EventPublic:
    return _public(_event(session, event_id), _names(session))


@router.post("/{event_id}/review", summary="Confirm an event, or dismiss it as a false alarm with a reason")
def post_review(event_id: DbId, body: ReviewBody, session: SessionDep, user: Reviewer) -> EventPublic:
    event = _event(session, event_id)
    if event.end_utc is None and body.decision != "pending":
        raise ApiError(409, "event_ongoing", "the event is still going on; review it when it has ended")
    review_event(
        session,
        event_id=event.id,
        decision=body.decision,
        user_id=user.user_id,
        at=utcnow(),
        reason=body.reason,
    )
    audit_as(
        session,
        user,
        action=f"event.{body.decision}",
        resource_type="event",
        resource_id=str(event.id),
        reason=body.reason,
        detail={"camera": event.camera_id, "kind": event.kind, "zone": event.zone},
    )
    return _public(event, _names(session))


def _media(
    session: SessionDep,
    station: StationDep,
    user: Principal,
    event: Event,
    purpose: MediaPurpose,
    action: str,
) -> None:
    end = event.end_utc or utcnow()
    check_media_access(
        session,
        user,
        MediaRequest(
            camera_id=event.camera_id,
            start_utc=event.start_utc,
            end_utc=max(end, event.start_utc + timedelta(seconds=1)),
            purpose=purpose,
            reason=f"review of detection event {event.id}",
        ),
        policy=MediaPolicy.of(station.settings.config.console),
        audit_action=action,
    )


@router.get("/{event_id}/snapshot", summary="The event's picture (JPEG, box drawn)")
def get_snapshot(event_id: DbId, session: SessionDep, station: StationDep, user: Viewer) -> FileResponse:
    event = _event(session, event_id)
    if not event.snapshot_path:
        raise ApiError(404, "no_snapshot", "this event has no picture")
    _media(session, station, user, event, MediaPurpose.THUMBNAIL, "event.snapshot")
    path = _file(station, event.snapshot_path)
    return FileResponse(path, media_type="image/jpeg", headers={"Cache-Control": "private, no-store"})


@router.get("/{event_id}/clip", summary="The event's clip (MP4, stream copy of the recording)")
def get_clip(event_id: DbId, session: SessionDep, station: StationDep, user: Viewer) -> FileResponse:
    event = _event(session, event_id)
    clip = session.get(Clip, event.clip_id) if event.clip_id else None
    if clip is None or not clip.path:
        raise ApiError(404, "no_clip", "this event has no clip yet")
    _media(session, station, user, event, MediaPurpose.PLAYBACK, "event.clip")
    path = _file(station, clip.path)
    return FileResponse(path, media_type="video/mp4", headers={"Cache-Control": "private, no-store"})


def _file(station: StationDep, relative: str) -> Path:
    try:
        path = resolve_relative(station.settings.data_dir, relative)
    except SegmentPathError:
        raise ApiError(404, "file_missing", "the file is missing") from None
    if not path.is_file():
        raise ApiError(404, "file_missing", "the file is missing")
    return path
