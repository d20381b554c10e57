"""What a camera recorded over hours to weeks: merged recorded spans, the holes between them and why.

:func:`recorded_spans` answers from the span ids the segment writes keep (:mod:`storage.span_link`): a few
index seeks and index-only counts per span, so a camera-month of one-minute segments (~43,000 rows) costs
tens of queries, not 43,000 rows streamed to Python. Where a camera has rows without a span id (written around
the storage functions) or another tolerance is asked, it merges while streaming the two time columns of the
``(camera_id, start_utc)`` index range untyped (a window-function "gaps and islands" query was measured
3x slower on SQLite). :func:`merge_spans` is the same merge over typed values (pure, the reference for the
query's tests). :func:`plan_holes` is the pure complement:
the holes inside the asked range, each annotated with the reasons of the ``gaps`` rows that overlap it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Integer, Select, String, and_, bindparam, func, literal_column, select
from sqlalchemy.orm import Session

from storage.gap import gaps_overlapping
from storage.model import Event, Gap, Segment, UTCDateTime
from storage.segment import LIVE_STATUSES
from storage.span_link import JOIN_TOLERANCE, NOT_LIVE, has_unlinked

__all__ = ["JOIN_TOLERANCE", "Hole", "Span", "add_footage", "merge_spans", "plan_holes", "recorded_spans"]

MAX_EVENTS = 5000
MAX_SEEKED_SPANS = 200  # past this many spans in one range, streaming the rest is cheaper than seeking


@dataclass(frozen=True, slots=True)
class Span:
    """Consecutive recorded footage."""

    start_utc: datetime
    end_utc: datetime
    segments: int


@dataclass(frozen=True, slots=True)
class Hole:
    """No footage from start to end; ``reasons`` from the gaps log (empty: nothing logged)."""

    start_utc: datetime
    end_utc: datetime
    reasons: tuple[str, ...]
    open: bool = False  # the recorder still reports this gap as ongoing


def merge_spans(
    ranges: Iterable[tuple[datetime, datetime]], *, tolerance: timedelta = JOIN_TOLERANCE
) -> list[Span]:
    """Merge ``(start, end)`` ranges that touch or overlap (within ``tolerance``); pure."""
    return _merge_counted([(start, end, 1) for start, end in ranges], tolerance)


def _merge_counted(ranges: list[tuple[datetime, datetime, int]], tolerance: timedelta) -> list[Span]:
    """Merge ``(start, end, segments)`` ranges that touch or overlap (within ``tolerance``), adding up their
    segments; a span counts one at least."""
    spans: list[Span] = []
    for start, end, count in sorted(ranges):
        if spans and start <= spans[-1].end_utc + tolerance:
            last = spans[-1]
            spans[-1] = Span(last.start_utc, max(last.end_utc, end), last.segments + count)
        else:
            spans.append(Span(start, end, max(count, 1)))
    return spans


def add_footage(
    spans: Sequence[Span],
    ranges: Iterable[tuple[datetime, datetime]],
    *,
    start_utc: datetime,
    end_utc: datetime,
    tolerance: timedelta = JOIN_TOLERANCE,
) -> list[Span]:
    """``spans`` (of :func:`recorded_spans` over the window) with footage the index does not reach yet
    merged in: ``(start, end)`` ranges clipped to ``[start_utc, end_utc)``, such as the readable part of a
    file still being written (its row's end moves only every progress interval); pure. A range adds no
    segment to a span it joins (its row, when written, is counted already) and counts one on its own."""
    extra = [(max(a, start_utc), min(b, end_utc)) for a, b in ranges if a < end_utc and b > start_utc]
    if not extra:
        return list(spans)
    return _merge_counted(
        [(s.start_utc, s.end_utc, s.segments) for s in spans] + [(a, b, 0) for a, b in extra], tolerance
    )


def _as_utc(value: datetime | str) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _merge_raw(rows: Iterable[Sequence[Any]], tolerance: timedelta) -> list[tuple[Any, Any, int]]:
    """Merge ordered raw ``(start, end)`` values: strings on SQLite (ISO, fixed width, so they sort like
    times), datetimes on PostgreSQL. Strings are parsed only where a start lies after the running end."""
    merged: list[tuple[Any, Any, int]] = []
    first: Any = None
    last: Any = None
    count = 0
    for start, end in rows:
        if last is not None and (start <= last or _as_utc(start) - _as_utc(last) <= tolerance):
            if end > last:
                last = end
            count += 1
            continue
        if last is not None:
            merged.append((first, last, count))
        first, last, count = start, end, 1
    if last is not None:
        merged.append((first, last, count))
    return merged


def recorded_spans(
    session: Session,
    *,
    camera_id: str,
    start_utc: datetime,
    end_utc: datetime,
    tolerance: timedelta = JOIN_TOLERANCE,
) -> list[Span]:
    """Merged spans of ``camera_id``'s live segments overlapping ``[start_utc, end_utc)``, clipped to it;
    ``segments`` counts the segments of the span that overlap the range."""
    if end_utc <= start_utc:
        raise ValueError(f"empty range: end {end_utc.isoformat()} is not after start {start_utc.isoformat()}")
    if tolerance == JOIN_TOLERANCE and not has_unlinked(session, camera_id=camera_id):
        return _linked_spans(session, camera_id=camera_id, start_utc=start_utc, end_utc=end_utc)
    return _streamed_spans(
        session, camera_id=camera_id, start_utc=start_utc, end_utc=end_utc, tolerance=tolerance
    )


_CAMERA, _SPAN = bindparam("camera", type_=String), bindparam("span", type_=Integer)
_START, _END = bindparam("start", type_=UTCDateTime()), bindparam("end", type_=UTCDateTime())
_OF_SPAN = (Segment.camera_id == _CAMERA, Segment.span_id == _SPAN)
# statements built once (compiled once, executed on the session's connection: a camera-month is ~50 of them)
_FIRST_SPAN = (
    select(Segment.span_id)
    .where(Segment.camera_id == _CAMERA, Segment.end_utc > _START, Segment.span_id > NOT_LIVE)
    .order_by(Segment.end_utc, Segment.id)
    .limit(1)
)
_NEXT_SPAN = (
    select(Segment.span_id)
    .where(
        Segment.camera_id == _CAMERA,
        Segment.start_utc > _START,
        Segment.start_utc < _END,
        Segment.span_id > NOT_LIVE,
    )
    .order_by(Segment.start_utc, Segment.id)
    .limit(1)
)
_SPAN_FACTS = select(
    select(func.min(Segment.start_utc)).where(*_OF_SPAN).scalar_subquery(),
    select(func.max(Segment.start_utc)).where(*_OF_SPAN).scalar_subquery(),
    select(func.max(Segment.end_utc)).where(*_OF_SPAN).scalar_subquery(),
    select(func.count()).where(*_OF_SPAN, Segment.start_utc < _END).scalar_subquery(),
    select(func.count()).where(*_OF_SPAN, Segment.end_utc <= _START).scalar_subquery(),
)
_CLIP_START = select(
    select(func.count()).where(*_OF_SPAN, Segment.start_utc <= _START).scalar_subquery(),
    select(func.count()).where(*_OF_SPAN, Segment.end_utc <= _START).scalar_subquery(),
    select(func.min(Segment.start_utc)).where(*_OF_SPAN, Segment.start_utc > _START).scalar_subquery(),
)
_CLIP_END = select(
    select(func.count()).where(*_OF_SPAN, Segment.start_utc < _END).scalar_subquery(),
    select(func.count()).where(*_OF_SPAN, Segment.end_utc < _END).scalar_subquery(),
    select(func.max(Segment.end_utc)).where(*_OF_SPAN, Segment.end_utc < _END).scalar_subquery(),
)


def _linked_spans(session: Session, *, camera_id: str, start_utc: datetime, end_utc: datetime) -> list[Span]:
    """Spans from span ids: the first span is the one of the live row that ends first after ``start_utc``
    (spans are disjoint in time); each next one that of the first live row starting after the previous
    span's last start. Per span: first start, last start, reach and two index-only counts; where the span
    crosses an end of the range, where its footage inside the range begins or ends."""
    session.flush()  # executed on the connection below: no autoflush there
    connection = session.connection()
    params: dict[str, Any] = {"camera": camera_id, "start": start_utc, "end": end_utc}
    spans: list[Span] = []
    span = connection.execute(_FIRST_SPAN, params).scalar()
    seeked = 0
    while span is not None:
        params["span"] = span
        row = connection.execute(_SPAN_FACTS, params).one()
        begin, last_start, reach = _as_utc(row[0]), _as_utc(row[1]), _as_utc(row[2])
        if begin >= end_utc:
            break
        seeked += 1
        if seeked > MAX_SEEKED_SPANS:  # a fragmented range: stream the rest (spans are > tolerance apart)
            cut = max(start_utc, begin - JOIN_TOLERANCE / 2)
            rest = _streamed_spans(
                session, camera_id=camera_id, start_utc=cut, end_utc=end_utc, tolerance=JOIN_TOLERANCE
            )
            return spans + rest
        count = int(row[3]) - int(row[4])
        if count > 0:
            if begin > start_utc:
                span_start = begin
            else:
                clip = connection.execute(_CLIP_START, params).one()
                span_start = start_utc if int(clip[0]) > int(clip[1]) else _as_utc(clip[2])
            if reach < end_utc:
                span_end = reach
            else:
                clip = connection.execute(_CLIP_END, params).one()
                span_end = end_utc if int(clip[0]) > int(clip[1]) else _as_utc(clip[2])
            if span_end > span_start:
                spans.append(Span(span_start, span_end, count))
        span = connection.execute(_NEXT_SPAN, {**params, "start": last_start}).scalar()
    return spans


def _streamed_spans(
    session: Session, *, camera_id: str, start_utc: datetime, end_utc: datetime, tolerance: timedelta
) -> list[Span]:
    table = Segment.__table__
    query: Select[Any, Any] = (
        select(literal_column("start_utc"), literal_column("end_utc"))
        .select_from(table)
        .where(
            Segment.camera_id == camera_id,
            Segment.start_utc < end_utc,
            Segment.end_utc > start_utc,
            Segment.status.in_(LIVE_STATUSES),
        )
        .order_by(Segment.start_utc)
    )
    spans: list[Span] = []
    for first, last, count in _merge_raw(session.execute(query), tolerance):
        span_start = max(_as_utc(first), start_utc)
        span_end = min(_as_utc(last), end_utc)
        if span_end > span_start:
            spans.append(Span(span_start, span_end, count))
    return spans


def plan_holes(
    spans: Sequence[Span],
    gaps: Sequence[tuple[datetime, datetime | None, str]],
    *,
    start_utc: datetime,
    end_utc: datetime,
    now: datetime,
    min_hole: timedelta = JOIN_TOLERANCE,
) -> list[Hole]:
    """Holes of ``[start_utc, min(end_utc, now))`` not covered by ``spans`` (pure); each hole takes the
    reasons of the logged gaps ``(start, end or None, reason)`` that overlap it, in order of appearance.
    Closed gaps inside a span (frames missing within a file) are holes of their own."""
    stop = min(end_utc, now)
    holes: list[Hole] = []
    cursor = start_utc
    for span in [*sorted(spans, key=lambda x: x.start_utc), Span(stop, stop, 0)]:
        hole_end = min(span.start_utc, stop)
        if hole_end - cursor >= min_hole:
            reasons: list[str] = []
            is_open = False
            for gap_start, gap_end, reason in gaps:
                effective_end = gap_end if gap_end is not None else now
                if gap_start < hole_end and effective_end > cursor:
                    if reason not in reasons:
                        reasons.append(reason)
                    is_open = is_open or gap_end is None
            holes.append(Hole(cursor, hole_end, tuple(reasons), is_open))
        cursor = max(cursor, span.end_utc)
        if cursor >= stop:
            break
    return sorted(
        [*holes, *_holes_inside_files(holes, gaps, start_utc, stop, min_hole)], key=lambda h: h.start_utc
    )


def _holes_inside_files(
    holes: Sequence[Hole],
    gaps: Sequence[tuple[datetime, datetime | None, str]],
    start_utc: datetime,
    stop: datetime,
    min_hole: timedelta,
) -> list[Hole]:
    """Closed gap rows that lie inside recorded spans: frames missing within a file (the recorder logs them
    without cutting the file), invisible from segment coverage alone."""
    inside: list[Hole] = []
    for gap_start, gap_end, reason in gaps:
        if gap_end is None:
            continue
        begin, end = max(gap_start, start_utc), min(gap_end, stop)
        if end - begin < min_hole or any(h.start_utc < end and h.end_utc > begin for h in holes):
            continue
        inside.append(Hole(begin, end, (reason,)))
    return inside


def camera_holes(
    session: Session,
    *,
    camera_id: str,
    spans: Sequence[Span],
    start_utc: datetime,
    end_utc: datetime,
    now: datetime,
) -> list[Hole]:
    logged: list[Gap] = list(
        gaps_overlapping(session, camera_id=camera_id, start_utc=start_utc, end_utc=end_utc)
    )
    return plan_holes(
        spans,
        [(g.start_utc, g.end_utc, g.reason) for g in logged],
        start_utc=start_utc,
        end_utc=end_utc,
        now=now,
    )


def events_overlapping(
    session: Session, *, camera_id: str, start_utc: datetime, end_utc: datetime, limit: int = MAX_EVENTS
) -> Sequence[Event]:
    """Events of ``camera_id`` that start in ``[start_utc, end_utc)``, oldest first (at most ``limit``)."""
    query = select(Event).where(
        and_(Event.camera_id == camera_id, Event.start_utc >= start_utc, Event.start_utc < end_utc)
    )
    return session.scalars(query.order_by(Event.start_utc, Event.id).limit(limit)).all()
