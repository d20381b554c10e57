"""The segment index: keyword-only functions over the ``segments`` table.

A row is opened (status ``open``) when a file starts and closed (``closed``, or ``recovered`` when start-up
reconcile finalised it after a crash) with its end, duration, size, SHA-256 and keyframe count. Rows are
addressed by ``path`` (unique, relative to the recordings root) so a recorder can queue its writes while the
database is unreachable and replay them later in order. Retention marks rows ``deleted``; they are never
removed, so history explains what existed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from storage.model import Camera, Segment, SegmentStatus
from storage.span_link import link_grown, link_shrunk, relink_camera, span_for_new_row

LIVE_STATUSES = (SegmentStatus.OPEN.value, SegmentStatus.CLOSED.value, SegmentStatus.RECOVERED.value)
FINISHED_STATUSES = (SegmentStatus.CLOSED.value, SegmentStatus.RECOVERED.value)
# built once: every file the recorder opens and closes runs these (see storage.span_link)
_CAMERA = select(Camera.id).where(Camera.id == bindparam("id"))
_BY_PATH = select(Segment).where(Segment.path == bindparam("path"))


class SegmentNotFoundError(LookupError):
    """No segment row with this path or id."""


@dataclass(frozen=True, slots=True)
class SegmentClose:
    """What is known about a file once it is finished."""

    end_utc: datetime
    duration_s: float
    bytes: int
    sha256: str
    keyframes: int
    clock_offset_s: float | None = None  # station clock minus stream clock at the end (delay + drift)


def ensure_camera_row(session: Session, *, camera_id: str) -> None:
    """Insert a placeholder ``cameras`` row (name = id) when the camera is not mirrored yet.

    Segments and gaps reference cameras; the console mirrors the config into ``cameras`` and overwrites the
    placeholder's name and location.
    """
    if session.execute(_CAMERA, {"id": camera_id}).first() is None:
        session.add(Camera(id=camera_id, name=camera_id))
        session.flush()


def open_segment(
    session: Session,
    *,
    camera_id: str,
    path: str,
    start_utc: datetime,
    stream: str = "main",
    codec: str | None = None,
    width: int | None = None,
    height: int | None = None,
    clock_offset_s: float | None = None,
) -> Segment:
    """Add the row of a file that has just started (status ``open``, end = start)."""
    ensure_camera_row(session, camera_id=camera_id)
    span = span_for_new_row(session, camera_id=camera_id, start=start_utc, end=start_utc)
    segment = Segment(
        camera_id=camera_id,
        stream=stream,
        start_utc=start_utc,
        end_utc=start_utc,
        duration_s=0.0,
        bytes=0,
        path=path,
        status=SegmentStatus.OPEN.value,
        codec=codec,
        width=width,
        height=height,
        keyframes=0,
        clock_offset_s=clock_offset_s,
        span_id=span,
    )
    session.add(segment)
    session.flush()
    if span is None:  # the camera has live rows without a span id: derive them all, this one included
        relink_camera(session, camera_id=camera_id)
    return segment


def _relink_end(session: Session, segment: Segment, old_end: datetime) -> None:
    """Keep the span id after ``segment``'s end moved from ``old_end``."""
    if segment.end_utc > old_end:
        link_grown(session, segment, only_end_moved=True)
    elif segment.end_utc < old_end:
        link_shrunk(session, segment=segment, span=segment.span_id, old_end=old_end)


def find_segment(session: Session, *, path: str) -> Segment | None:
    return session.scalars(_BY_PATH, {"path": path}).one_or_none()


def get_segment(session: Session, *, path: str) -> Segment:
    segment = find_segment(session, path=path)
    if segment is None:
        raise SegmentNotFoundError(f"no segment row for {path!r}")
    return segment


def update_segment_progress(
    session: Session, *, path: str, end_utc: datetime, bytes_written: int, keyframes: int
) -> None:
    """Move an open row's end forward while it is written (so playback and start-up know how far it got)."""
    segment = get_segment(session, path=path)
    if segment.status != SegmentStatus.OPEN.value:
        return
    old_end = segment.end_utc
    segment.end_utc = max(end_utc, segment.start_utc)
    segment.duration_s = (segment.end_utc - segment.start_utc).total_seconds()
    segment.bytes = bytes_written
    segment.keyframes = keyframes
    _relink_end(session, segment, old_end)


def close_segment(
    session: Session,
    *,
    path: str,
    close: SegmentClose,
    status: SegmentStatus = SegmentStatus.CLOSED,
) -> Segment:
    """Finish the row of ``path`` with the file's end, duration, size, hash and keyframe count."""
    if status not in (SegmentStatus.CLOSED, SegmentStatus.RECOVERED):
        raise ValueError(f"a segment is closed as closed or recovered, not {status.value!r}")
    segment = get_segment(session, path=path)
    was_live = segment.status in LIVE_STATUSES
    old_end = segment.end_utc
    segment.end_utc = max(close.end_utc, segment.start_utc)
    segment.duration_s = close.duration_s
    segment.bytes = close.bytes
    segment.sha256 = close.sha256
    segment.keyframes = close.keyframes
    if close.clock_offset_s is not None:
        segment.clock_offset_s = close.clock_offset_s
    segment.status = status.value
    if was_live:
        _relink_end(session, segment, old_end)
    else:  # a deleted row closed again comes back to life
        segment.span_id = None
        link_grown(session, segment)
    return segment


def discard_segment(session: Session, *, path: str, at: datetime) -> None:
    """Mark an open row whose file held no footage at all (removed as garbage) as ``deleted``."""
    segment = get_segment(session, path=path)
    span, old_end = segment.span_id, segment.end_utc
    segment.status = SegmentStatus.DELETED.value
    segment.deleted_at = at
    segment.bytes = 0
    segment.sha256 = None
    segment.end_utc = segment.start_utc
    segment.duration_s = 0.0
    link_shrunk(session, segment=segment, span=span, old_end=old_end)


def add_finished_segment(
    session: Session,
    *,
    camera_id: str,
    path: str,
    start_utc: datetime,
    close: SegmentClose,
    status: SegmentStatus,
    codec: str | None = None,
    width: int | None = None,
    height: int | None = None,
) -> Segment:
    """Index a file found on disk without a row (start-up reconcile)."""
    open_segment(
        session, camera_id=camera_id, path=path, start_utc=start_utc, codec=codec, width=width, height=height
    )
    return close_segment(session, path=path, close=close, status=status)


def mark_segment_deleted(session: Session, *, segment_id: int, at: datetime) -> None:
    segment = session.get(Segment, segment_id)
    if segment is None:
        raise SegmentNotFoundError(f"no segment row with id {segment_id}")
    span = segment.span_id
    segment.status = SegmentStatus.DELETED.value
    segment.deleted_at = at
    link_shrunk(session, segment=segment, span=span, old_end=segment.end_utc)


def segments_overlapping(
    session: Session,
    *,
    camera_id: str,
    start_utc: datetime,
    end_utc: datetime,
    include_deleted: bool = False,
) -> Sequence[Segment]:
    """Segments of ``camera_id`` with footage in ``[start_utc, end_utc)``, oldest first."""
    if end_utc <= start_utc:
        raise ValueError(f"empty range: end {end_utc.isoformat()} is not after start {start_utc.isoformat()}")
    query = select(Segment).where(
        Segment.camera_id == camera_id, Segment.start_utc < end_utc, Segment.end_utc > start_utc
    )
    if not include_deleted:
        query = query.where(Segment.status.in_(LIVE_STATUSES))
    return session.scalars(query.order_by(Segment.start_utc, Segment.id)).all()


def open_segments(session: Session, *, camera_id: str | None = None) -> Sequence[Segment]:
    query = select(Segment).where(Segment.status == SegmentStatus.OPEN.value)
    if camera_id is not None:
        query = query.where(Segment.camera_id == camera_id)
    return session.scalars(query.order_by(Segment.start_utc)).all()


def newest_segment(session: Session, *, camera_id: str) -> Segment | None:
    """The segment of ``camera_id`` that reaches furthest (deleted rows excluded)."""
    query = (
        select(Segment)
        .where(Segment.camera_id == camera_id, Segment.status.in_(LIVE_STATUSES))
        .order_by(Segment.end_utc.desc(), Segment.id.desc())
        .limit(1)
    )
    return session.scalars(query).first()


def newest_segment_end_by_camera(session: Session) -> dict[str, datetime]:
    """Per camera, the end of its newest footage (for "last recorded" in health and metrics)."""
    query = (
        select(Segment.camera_id, func.max(Segment.end_utc))
        .where(Segment.status.in_(LIVE_STATUSES))
        .group_by(Segment.camera_id)
    )
    result: dict[str, datetime] = {}
    for camera_id, end in session.execute(query):
        # MAX() bypasses the column type on SQLite: normalise through the type once more
        result[camera_id] = _as_utc(end)
    return result


def bytes_by_camera(session: Session) -> dict[str, int]:
    """Bytes of footage on disk per camera (open, closed and recovered segments)."""
    query = (
        select(Segment.camera_id, func.coalesce(func.sum(Segment.bytes), 0))
        .where(Segment.status.in_(LIVE_STATUSES))
        .group_by(Segment.camera_id)
    )
    return {camera_id: int(total) for camera_id, total in session.execute(query)}


def recording_rates(session: Session, *, since_utc: datetime) -> dict[str, tuple[int, float]]:
    """Per camera, (bytes, seconds) of finished footage that ends after ``since_utc`` (for forecasting)."""
    query = (
        select(Segment.camera_id, func.sum(Segment.bytes), func.sum(Segment.duration_s))
        .where(Segment.status.in_(FINISHED_STATUSES), Segment.end_utc > since_utc)
        .group_by(Segment.camera_id)
    )
    return {
        camera_id: (int(total or 0), float(seconds or 0.0))
        for camera_id, total, seconds in session.execute(query)
    }


def _as_utc(value: datetime | str) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
