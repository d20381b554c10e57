"""Recordings API: timeline (spans, gaps, events), playback views and their segment files, thumbnails.

Playback design
    Segment files are fragmented MP4 (H.264 stream copy, each starts on a keyframe), so they are served as
    they are, by index id, with HTTP Range support (Starlette's ``FileResponse``): nothing is re-encoded or
    remuxed. The recordings page plays a range by appending consecutive segment files to one Media Source
    Extensions ``SourceBuffer`` (``timestampOffset`` = segment start − view start), which gives seamless,
    frame-accurate seeking across files and several cameras on one clock. An HLS playlist was not chosen:
    Chromium has no native HLS in ``<video>`` and a JS HLS player would have to be vendored; MSE needs
    neither, and a single segment URL still plays in a plain ``<video>`` or VLC thanks to Range support.

The newest footage
    The file a recorder is still writing (index row ``open``, its end moved only every progress interval)
    is played as far as its complete fragments reach on disk (:mod:`streams.live_segment`, read through
    the station's recording pipeline): a view lists it with that end, its URL serves exactly those bytes
    (a fragmented MP4 by itself; no Range, not cached), and the timeline's recorded spans reach as far.
    So the minute being recorded plays up to a second or two ago, and what is green is what plays.

Access and audit
    ``POST /api/recordings/views`` asks :mod:`console.media_access` (reason or complaint number for older
    footage) and writes one ``recording.view`` audit row per view: user, camera, range, reason. Its id is the
    view id; each segment file (and thumbnail) is fetched with ``?view=<id>`` and is served only to that
    user, for that camera, overlapping that range, for ``VIEW_TTL`` — and passes the access check again.
    Files are found only through index rows and :func:`storage.layout.resolve_relative`; no client path
    ever reaches the file system.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, Response, StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from console.deps import CurrentUser, LanguageDep, PageUser, Principal, SessionDep, StationDep, role_name
from console.error import ApiError
from console.media_access import MediaPolicy, MediaPurpose, MediaRequest, check_media_access
from console.page import render_page
from console.permission import Permission, may_open_page
from console.request_types import DbId, UtcDatetime
from console.response_types import IsoDatetime
from console.thumbnail import ThumbnailError, segment_thumbnail
from storage.layout import SegmentPathError, resolve_relative
from storage.model import AuditEntry, Camera, Segment, SegmentStatus, utcnow
from storage.segment import FINISHED_STATUSES
from storage.timeline import Span, add_footage, camera_holes, events_overlapping, recorded_spans
from streams.live_segment import LiveFootage, footage_path, iter_footage, open_footage

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api/recordings", tags=["recordings"])
pages = APIRouter(include_in_schema=False)

MAX_TIMELINE_SPAN = timedelta(days=62)
MAX_VIEW_SPAN = timedelta(hours=24)
VIEW_TTL = timedelta(hours=12)
VIEW_ACTION = "recording.view"


def _check_range(start: datetime, end: datetime, longest: timedelta) -> None:
    if end <= start:
        raise ApiError(422, "invalid_range", "end must be after start")
    if end - start > longest:
        if longest.days:
            raise ApiError(
                422, "range_too_long", "at most {days} days at once", params={"days": longest.days}
            )
        raise ApiError(
            422, "range_too_long", "at most {hours} hours at once", params={"hours": longest.seconds // 3600}
        )


def _policy(station: StationDep) -> MediaPolicy:
    return MediaPolicy.of(station.settings.config.console)


class CameraPublic(BaseModel):
    id: str
    name: str
    building: str | None
    entrance: str | None
    area: str | None
    enabled: bool
    in_config: bool


class SpanPublic(BaseModel):
    start: IsoDatetime
    end: IsoDatetime
    segments: int


class GapPublic(BaseModel):
    start: IsoDatetime
    end: IsoDatetime
    reasons: list[str] = Field(description="reasons logged for the gap (empty: nothing logged)")
    open: bool = Field(description="the recorder still reports this gap as ongoing")


class TimelineEvent(BaseModel):
    id: int
    kind: str
    start: IsoDatetime
    end: IsoDatetime | None
    zone: str | None
    review: str


class Timeline(BaseModel):
    camera: str
    start: IsoDatetime
    end: IsoDatetime
    recorded_s: float
    spans: list[SpanPublic]
    gaps: list[GapPublic]
    events: list[TimelineEvent]


class ViewSegment(BaseModel):
    id: int
    start: IsoDatetime
    end: IsoDatetime
    bytes: int
    codec: str | None
    width: int | None
    height: int | None
    growing: bool = Field(description="the file is still being written; played as far as it reaches")
    url: str
    thumbnail_url: str


class ViewPublic(BaseModel):
    view_id: int
    camera: str
    start: IsoDatetime
    end: IsoDatetime
    expires_at: IsoDatetime
    segments: list[ViewSegment]
    gaps: list[GapPublic]


@router.get("/cameras", summary="Cameras with recordings")
def get_cameras(session: SessionDep, _user: CurrentUser) -> list[CameraPublic]:
    cameras = session.scalars(select(Camera).order_by(Camera.id)).all()
    return [CameraPublic.model_validate(c, from_attributes=True) for c in cameras]


@router.get("/timeline", summary="Recorded spans, gaps with reasons and events of one camera")
def get_timeline(
    session: SessionDep,
    station: StationDep,
    user: CurrentUser,
    camera: Annotated[str, Query(min_length=1, max_length=32)],
    start: UtcDatetime,
    end: UtcDatetime,
) -> Timeline:
    _check_range(start, end, MAX_TIMELINE_SPAN)
    check_media_access(
        session,
        user,
        MediaRequest(camera_id=camera, start_utc=start, end_utc=end, purpose=MediaPurpose.TIMELINE),
        policy=_policy(station),
    )
    now = utcnow()
    live = station.recording.live_footage(camera)
    spans = _spans(session, camera, start, end, live)
    holes = camera_holes(session, camera_id=camera, spans=spans, start_utc=start, end_utc=end, now=now)
    events = events_overlapping(session, camera_id=camera, start_utc=start, end_utc=end)
    return Timeline.model_validate(
        {
            "camera": camera,
            "start": start,
            "end": end,
            "recorded_s": sum((s.end_utc - s.start_utc).total_seconds() for s in spans),
            "spans": [{"start": s.start_utc, "end": s.end_utc, "segments": s.segments} for s in spans],
            "gaps": [
                {"start": h.start_utc, "end": h.end_utc, "reasons": list(h.reasons), "open": h.open}
                for h in holes
            ],
            "events": [
                {
                    "id": e.id,
                    "kind": e.kind,
                    "start": e.start_utc,
                    "end": e.end_utc,
                    "zone": e.zone,
                    "review": e.review,
                }
                for e in events
            ],
        }
    )


def _spans(
    session: Session, camera: str, start: datetime, end: datetime, live: Sequence[LiveFootage]
) -> list[Span]:
    """Recorded spans as far as footage can be played: the index's, with the live footage merged in."""
    spans = recorded_spans(session, camera_id=camera, start_utc=start, end_utc=end)
    return add_footage(spans, [(f.start_utc, f.end_utc) for f in live], start_utc=start, end_utc=end)


def _playable_segments(
    session: Session, camera: str, start: datetime, end: datetime, live: Sequence[LiveFootage]
) -> list[tuple[Segment, LiveFootage | None]]:
    """Segments of ``camera`` with playable footage in [start, end), oldest first: closed ones, and the
    open rows of files being written with their live footage (``live`` looked up before this query, so a
    file closed in between is found closed)."""
    closed = session.scalars(
        select(Segment)
        .where(
            Segment.camera_id == camera,
            Segment.start_utc < end,
            Segment.end_utc > start,
            Segment.status.in_(FINISHED_STATUSES),
        )
        .order_by(Segment.start_utc, Segment.id)
    ).all()
    found: list[tuple[Segment, LiveFootage | None]] = [(s, None) for s in closed]
    by_path = {f.relative_path: f for f in live if f.start_utc < end and f.end_utc > start}
    if by_path:
        open_rows = session.scalars(
            select(Segment).where(
                Segment.camera_id == camera,
                Segment.path.in_(by_path),
                Segment.status == SegmentStatus.OPEN.value,
            )
        ).all()
        found += [(row, by_path[row.path]) for row in open_rows]
    return sorted(found, key=lambda item: (item[0].start_utc, item[0].id))


class ViewCreate(BaseModel):
    camera: str = Field(min_length=1, max_length=32)
    start: UtcDatetime
    end: UtcDatetime
    reason: str | None = Field(default=None, max_length=500)
    complaint: str | None = Field(
        default=None, max_length=32, description="complaint number, e.g. 2026-000123"
    )


def _segment_urls(segment_id: int, view_id: int) -> dict[str, str]:
    return {
        "url": f"/api/recordings/segments/{segment_id}?view={view_id}",
        "thumbnail_url": f"/api/recordings/segments/{segment_id}/thumbnail?view={view_id}",
    }


@router.post("/views", status_code=201, summary="Open an audited playback view of one camera and range")
def post_view(body: ViewCreate, session: SessionDep, station: StationDep, user: CurrentUser) -> ViewPublic:
    _check_range(body.start, body.end, MAX_VIEW_SPAN)
    grant = check_media_access(
        session,
        user,
        MediaRequest(
            camera_id=body.camera,
            start_utc=body.start,
            end_utc=body.end,
            purpose=MediaPurpose.PLAYBACK,
            reason=body.reason,
            complaint_number=body.complaint,
        ),
        policy=_policy(station),
        audit_action=VIEW_ACTION,
    )
    if grant.audit_id is None:
        raise RuntimeError("a playback view is always audited")
    live = station.recording.live_footage(body.camera)
    segments = _playable_segments(session, body.camera, body.start, body.end, live)
    now = utcnow()
    spans = _spans(session, body.camera, body.start, body.end, live)
    holes = camera_holes(
        session, camera_id=body.camera, spans=spans, start_utc=body.start, end_utc=body.end, now=now
    )
    return ViewPublic.model_validate(
        {
            "view_id": grant.audit_id,
            "camera": body.camera,
            "start": body.start,
            "end": body.end,
            "expires_at": now + VIEW_TTL,
            "segments": [
                {
                    "id": s.id,
                    "start": s.start_utc,
                    "end": s.end_utc if footage is None else footage.end_utc,
                    "bytes": s.bytes if footage is None else footage.bytes,
                    "codec": s.codec,
                    "width": s.width,
                    "height": s.height,
                    "growing": footage is not None,
                    **_segment_urls(s.id, grant.audit_id),
                }
                for s, footage in segments
            ],
            "gaps": [
                {"start": h.start_utc, "end": h.end_utc, "reasons": list(h.reasons), "open": h.open}
                for h in holes
            ],
        }
    )


def _view_request(
    session: Session,
    user: Principal,
    view_id: int,
    segment: Segment,
    purpose: MediaPurpose,
    footage: LiveFootage | None = None,
) -> MediaRequest:
    """The media request a segment fetch makes under view ``view_id`` (refused unless the view fits);
    the footage of a file still being written reaches further than its row."""
    entry = session.get(AuditEntry, view_id)
    refused = ApiError(
        403, "invalid_view", "open a playback view first (the view is unknown, expired or not yours)"
    )
    if entry is None or entry.action != VIEW_ACTION or not entry.allowed or entry.user_id != user.user_id:
        raise refused
    if utcnow() - entry.at > VIEW_TTL or entry.resource_id != segment.camera_id:
        raise refused
    segment_end = segment.end_utc if footage is None else max(segment.end_utc, footage.end_utc)
    try:
        detail = json.loads(entry.detail or "{}")
        view_start = datetime.fromisoformat(detail["start"])
        view_end = datetime.fromisoformat(detail["end"])
    except (ValueError, KeyError, TypeError) as exc:
        raise refused from exc
    if not (segment.start_utc < view_end and segment_end > view_start):
        raise refused
    return MediaRequest(
        camera_id=segment.camera_id,
        start_utc=max(segment.start_utc, view_start),
        end_utc=min(segment_end, view_end),
        purpose=purpose,
        reason=entry.reason,
        complaint_number=detail.get("complaint"),
    )


def _live_footage(station: StationDep, segment: Segment) -> LiveFootage | None:
    """The readable part of an open row's file, while its recorder still writes it (or closes it)."""
    if segment.status != SegmentStatus.OPEN.value:
        return None
    live = station.recording.live_footage(segment.camera_id)
    return next((f for f in live if f.relative_path == segment.path), None)


def _segment_file(
    session: Session, station: StationDep, user: Principal, segment_id: int, view: int, purpose: MediaPurpose
) -> tuple[Segment, Path, LiveFootage | None]:
    """The segment, its file, and, for a file still being written, the footage readable of it."""
    segment = session.get(Segment, segment_id)
    footage = _live_footage(station, segment) if segment is not None else None
    if segment is None or (segment.status not in FINISHED_STATUSES and footage is None):
        raise ApiError(
            404, "segment_not_found", "no playable segment {segment_id}", params={"segment_id": segment_id}
        )
    request = _view_request(session, user, view, segment, purpose, footage)
    check_media_access(session, user, request, policy=_policy(station))
    if footage is not None:
        return segment, footage_path(footage), footage
    root = station.settings.recordings_dir
    try:
        path = resolve_relative(root, segment.path)
    except SegmentPathError as exc:
        logger.error("%s: segment %d has an unsafe stored path: %s", segment.camera_id, segment.id, exc)
        raise ApiError(
            404,
            "segment_not_found",
            "segment {segment_id} is not available",
            params={"segment_id": segment_id},
        ) from exc
    if not path.is_file():
        raise _missing(segment_id)
    return segment, path, None


def _missing(segment_id: int) -> ApiError:
    return ApiError(
        404,
        "segment_missing",
        "the file of segment {segment_id} is missing on disk",
        params={"segment_id": segment_id},
    )


def _growing_response(segment: Segment, footage: LiveFootage) -> StreamingResponse:
    """A file still being written: its complete fragments as they are now (a fragmented MP4 by itself)."""
    try:
        handle = open_footage(footage)
    except FileNotFoundError as exc:
        raise _missing(segment.id) from exc
    return StreamingResponse(
        iter_footage(handle, footage.bytes),
        media_type="video/mp4",
        headers={
            "Content-Length": str(footage.bytes),
            "Cache-Control": "no-store",
            "X-Segment-Start": segment.start_utc.isoformat(),
            "X-Segment-End": footage.end_utc.isoformat(),
        },
    )


@router.get(
    "/segments/{segment_id}",
    summary="A segment file (fragmented MP4; Range requests supported, except while it is being written)",
    response_model=None,
)
def get_segment(
    segment_id: DbId,
    session: SessionDep,
    station: StationDep,
    user: CurrentUser,
    view: Annotated[DbId, Query()],
) -> FileResponse | StreamingResponse:
    segment, path, footage = _segment_file(session, station, user, segment_id, view, MediaPurpose.PLAYBACK)
    if footage is not None:
        return _growing_response(segment, footage)
    return FileResponse(
        path,
        media_type="video/mp4",
        headers={"Cache-Control": "private, max-age=3600", "X-Segment-Start": segment.start_utc.isoformat()},
    )


@router.get("/segments/{segment_id}/thumbnail", summary="JPEG of the segment's first keyframe (cached)")
async def get_thumbnail(
    segment_id: DbId,
    station: StationDep,
    user: CurrentUser,
    view: Annotated[DbId, Query()],
) -> Response:
    def locate() -> Path:
        with station.database.session() as session:
            _segment, path, _footage = _segment_file(
                session, station, user, segment_id, view, MediaPurpose.THUMBNAIL
            )
            return path

    path = await to_thread.run_sync(locate)
    cache_dir = station.settings.data_dir / "cache" / "thumbnails"
    try:
        image = await to_thread.run_sync(segment_thumbnail, path, cache_dir, segment_id)
    except ThumbnailError as exc:
        raise ApiError(
            422,
            "thumbnail_failed",
            "no picture can be made from segment {segment_id}",
            params={"segment_id": segment_id},
            cause=str(exc),
        ) from exc
    return Response(image, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})


@pages.get("/recordings")
def recordings_page(
    request: Request, station: StationDep, user: PageUser, language: LanguageDep, session: SessionDep
) -> Response:
    if not may_open_page(user.permissions, "recordings"):
        raise ApiError(
            403, "forbidden", "the {role} role may not see recordings", params={"role": role_name(user.role)}
        )
    cameras = session.scalars(select(Camera).where(Camera.in_config.is_(True)).order_by(Camera.id)).all()
    return render_page(
        request,
        station,
        "recordings.html",
        language=language,
        user=user,
        context={
            "active": "recordings",
            "cameras": cameras,
            "reason_after_days": station.settings.config.console.reason_required_after_days,
            "officer_days": station.settings.config.console.officer_recording_days,
            "can_export": user.can(Permission.EXPORTS_CREATE),
        },
    )
