"""What a camera recorded over hours to weeks: merged recorded spans, the holes between them and why.

:func:`recorded_spans` merges consecutive segments into spans while streaming the two time columns
of the ``(camera_id, start_utc)`` index range untyped (a window-function "gaps and islands" query was measured
3x slower on SQLite). :func:`merge_spans` is the same merge over typed values (pure, the reference for the
query's tests). :func:`plan_holes` is the pure complement:
the holes inside the asked range, each annotated with the reasons of the ``gaps`` rows that overlap it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, literal_column, select
from sqlalchemy.orm import Session

from storage.gap import gaps_overlapping
from storage.model import Event, Gap, Segment
from storage.segment import LIVE_STATUSES

JOIN_TOLERANCE = timedelta(seconds=1)  # segments closer than this are one span (recorder rounding)
MAX_EVENTS = 5000


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
    spans: list[Span] = []
    for start, end in sorted(ranges):
        if spans and start <= spans[-1].end_utc + tolerance:
            last = spans[-1]
            spans[-1] = Span(last.start_utc, max(last.end_utc, end), last.segments + 1)
        else:
            spans.append(Span(start, end, 1))
    return spans


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
    """Merged spans of ``camera_id``'s live segments overlapping ``[start_utc, end_utc)``, clipped to it.

    Reads only the two time columns without per-row type conversion (the columns are selected untyped) and
    merges while streaming: a camera-month of one-minute segments is ~43,000 rows.
    """
    if end_utc <= start_utc:
        raise ValueError(f"empty range: end {end_utc.isoformat()} is not after start {start_utc.isoformat()}")
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
    reasons of the logged gaps ``(start, end or None, reason)`` that overlap it, in order of appearance."""
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
    return holes


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
