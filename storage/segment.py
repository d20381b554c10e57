"""The segment index: keyword-only functions over the ``segments`` table.

A row is opened (status ``open``) when a file starts and closed (``closed``, or ``recovered`` when start-up
reconcile finalised it after a crash) with its end, duration, size, SHA-256 and keyframe count. Rows are
addressed by ``path`` (unique, relative to the recordings root) so a recorder can queue its writes while the
database is unreachable and replay them later in order. Retention marks rows ``deleting`` (committed before
the file goes) and then ``deleted``; they are never removed, so history explains what existed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from sqlalchemy import Row, Table, bindparam, func, select
from sqlalchemy.orm import Session

from storage.model import Camera, Segment, SegmentStatus
from storage.span_link import end_grew_in_place, link_grown, link_shrunk, relink_camera, span_for_new_row

LIVE_STATUSES = (SegmentStatus.OPEN.value, SegmentStatus.CLOSED.value, SegmentStatus.RECOVERED.value)
FINISHED_STATUSES = (SegmentStatus.CLOSED.value, SegmentStatus.RECOVERED.value)
# built once: every file the recorder opens and closes runs these (see storage.span_link)
_CAMERA = select(Camera.id).where(Camera.id == bindparam("id"))
_BY_PATH = select(Segment).where(Segment.path == bindparam("path"))
# The recorder's writes (a row opened, grown and closed for every file of every camera) go through these
# Core statements on the session's connection: the ORM's unit of work cost about 0.7 ms of CPU per file on
# top of them. The public functions still hand out ORM rows; they are loaded after the write.
_TABLE = cast(Table, Segment.__table__)
_INSERT = _TABLE.insert()
_ROW = select(
    _TABLE.c.id,
    _TABLE.c.camera_id,
    _TABLE.c.start_utc,
    _TABLE.c.end_utc,
    _TABLE.c.status,
    _TABLE.c.span_id,
).where(_TABLE.c.path == bindparam("path"))
_GROW = (
    _TABLE.update()
    .where(_TABLE.c.id == bindparam("row_id"))
    .values(
        end_utc=bindparam("end"),
        duration_s=bindparam("duration"),
        bytes=bindparam("size"),
        keyframes=bindparam("frames"),
    )
)
_CLOSE = _GROW.values(sha256=bindparam("sha"), status=bindparam("new_status"))
_CLOSE_WITH_OFFSET = _CLOSE.values(clock_offset_s=bindparam("offset"))
_RowColumns = Row[tuple[int, str, datetime, datetime, str, int | None]]  # what _ROW selects


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
    if session.connection().execute(_CAMERA, {"id": camera_id}).first() is None:
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
    row_id = open_segment_row(
        session,
        camera_id=camera_id,
        path=path,
        start_utc=start_utc,
        stream=stream,
        codec=codec,
        width=width,
        height=height,
        clock_offset_s=clock_offset_s,
    )
    return _load(session, row_id)


def open_segment_row(
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
) -> int:
    """:func:`open_segment` without loading the row (the recorder's write); returns its id."""
    ensure_camera_row(session, camera_id=camera_id)
    span = span_for_new_row(session, camera_id=camera_id, start=start_utc, end=start_utc)
    result = session.connection().execute(
        _INSERT,
        {
            "camera_id": camera_id,
            "stream": stream,
            "start_utc": start_utc,
            "end_utc": start_utc,
            "duration_s": 0.0,
            "bytes": 0,
            "path": path,
            "status": SegmentStatus.OPEN.value,
            "codec": codec,
            "width": width,
            "height": height,
            "keyframes": 0,
            "clock_offset_s": clock_offset_s,
            "span_id": span,
        },
    )
    key = result.inserted_primary_key
    assert key is not None
    row_id = int(key[0])
    if span is None:  # the camera has live rows without a span id: derive them all, this one included
        relink_camera(session, camera_id=camera_id)
    return row_id


def _load(session: Session, row_id: int) -> Segment:
    segment = session.get(Segment, row_id)
    if segment is None:
        raise SegmentNotFoundError(f"no segment row with id {row_id}")
    return segment


def _row(session: Session, path: str) -> _RowColumns:
    """The columns of ``path``'s row that a write decides on (pending ORM changes flushed first)."""
    session.flush()
    row = session.connection().execute(_ROW, {"path": path}).one_or_none()
    if row is None:
        raise SegmentNotFoundError(f"no segment row for {path!r}")
    return row  # type: ignore[return-value]


def _written(session: Session, row_id: int) -> None:
    """A Core write changed row ``row_id``: an ORM copy of it in this session is stale."""
    instance = session.identity_map.get(session.identity_key(Segment, row_id))
    if instance is not None:
        session.expire(instance)


def _relink_end(session: Session, segment: Segment, old_end: datetime) -> None:
    """Keep the span id after ``segment``'s end moved from ``old_end``."""
    if segment.end_utc > old_end:
        link_grown(session, segment, only_end_moved=True)
    elif segment.end_utc < old_end:
        link_shrunk(session, segment=segment, span=segment.span_id, old_end=old_end)


def _relink_row(session: Session, row: _RowColumns, end: datetime) -> None:
    """Keep the span ids after the Core write moved live row ``row``'s end to ``end``: one statement when it
    grew and touched nothing new (every file of the recorder), the ORM's general path otherwise."""
    if end == row.end_utc:
        return
    if (
        end > row.end_utc
        and row.span_id
        and end_grew_in_place(
            session, camera_id=row.camera_id, row_id=row.id, start=row.start_utc, end=end, span=row.span_id
        )
    ):
        return
    _relink_end(session, _load(session, row.id), row.end_utc)


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
    row = _row(session, path)
    if row.status != SegmentStatus.OPEN.value:
        return
    end = max(end_utc, row.start_utc)
    session.connection().execute(
        _GROW,
        {
            "row_id": row.id,
            "end": end,
            "duration": (end - row.start_utc).total_seconds(),
            "size": bytes_written,
            "frames": keyframes,
        },
    )
    _written(session, row.id)
    _relink_row(session, row, end)


def close_segment(
    session: Session,
    *,
    path: str,
    close: SegmentClose,
    status: SegmentStatus = SegmentStatus.CLOSED,
) -> Segment:
    """Finish the row of ``path`` with the file's end, duration, size, hash and keyframe count."""
    return _load(session, close_segment_row(session, path=path, close=close, status=status))


def close_segment_row(
    session: Session,
    *,
    path: str,
    close: SegmentClose,
    status: SegmentStatus = SegmentStatus.CLOSED,
) -> int:
    """:func:`close_segment` without loading the row (the recorder's write); returns its id."""
    if status not in (SegmentStatus.CLOSED, SegmentStatus.RECOVERED):
        raise ValueError(f"a segment is closed as closed or recovered, not {status.value!r}")
    row = _row(session, path)
    end = max(close.end_utc, row.start_utc)
    values: dict[str, object] = {
        "row_id": row.id,
        "end": end,
        "duration": close.duration_s,
        "size": close.bytes,
        "frames": close.keyframes,
        "sha": close.sha256,
        "new_status": status.value,
    }
    if close.clock_offset_s is None:
        session.connection().execute(_CLOSE, values)
    else:
        session.connection().execute(_CLOSE_WITH_OFFSET, {**values, "offset": close.clock_offset_s})
    _written(session, row.id)
    if row.status in LIVE_STATUSES:
        _relink_row(session, row, end)
    else:  # a deleted row closed again comes back to life
        segment = _load(session, row.id)
        segment.span_id = None
        link_grown(session, segment)
    return int(row.id)


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
    open_segment_row(
        session, camera_id=camera_id, path=path, start_utc=start_utc, codec=codec, width=width, height=height
    )
    return close_segment(session, path=path, close=close, status=status)


def mark_segment_deleting(session: Session, *, segment_id: int) -> None:
    """Retention's intent, committed before the file goes: the row is no longer footage (playback, export
    and the timeline skip it) and, should the station die before :func:`mark_segment_deleted`, start-up
    finds it (:func:`segments_being_deleted`) and finishes the deletion."""
    segment = session.get(Segment, segment_id)
    if segment is None:
        raise SegmentNotFoundError(f"no segment row with id {segment_id}")
    span = segment.span_id
    segment.status = SegmentStatus.DELETING.value
    link_shrunk(session, segment=segment, span=span, old_end=segment.end_utc)


def mark_segment_deleted(session: Session, *, segment_id: int, at: datetime) -> None:
    segment = session.get(Segment, segment_id)
    if segment is None:
        raise SegmentNotFoundError(f"no segment row with id {segment_id}")
    span = segment.span_id
    segment.status = SegmentStatus.DELETED.value
    segment.deleted_at = at
    link_shrunk(session, segment=segment, span=span, old_end=segment.end_utc)


def segments_being_deleted(session: Session) -> Sequence[Segment]:
    """Rows retention marked ``deleting`` and never finished (the station died in between)."""
    return session.scalars(
        select(Segment).where(Segment.status == SegmentStatus.DELETING.value).order_by(Segment.id)
    ).all()


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
