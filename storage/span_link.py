"""Span ids: which continuous span of footage each live segment row belongs to.

Two live segments of a camera are one span when ``[start, end + JOIN_TOLERANCE]`` of one meets that of the
other (transitively): exactly the spans :func:`storage.timeline.merge_spans` builds. ``segments.span_id``
names that span (an integer unique per camera; ``0`` on rows that are not live, ``NULL`` on live rows written
around the storage functions). Every segment write in :mod:`storage.segment` keeps it: a row that appears or
grows joins (and so merges) the spans it now touches; a row that leaves the live set or shrinks may split
its span, which is re-derived only when a cheap local check says it might. Readers (``recorded_spans``)
then answer from per-span index seeks instead of streaming every row.

Spans are disjoint in time and contiguous in ``(start_utc, id)`` order among live rows, which is what makes
the local checks sufficient (see :func:`link_shrunk`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from storage.model import Segment, SegmentStatus

JOIN_TOLERANCE = timedelta(seconds=1)  # segments closer than this are one span (recorder rounding)
NOT_LIVE = 0
_LIVE = (SegmentStatus.OPEN.value, SegmentStatus.CLOSED.value, SegmentStatus.RECOVERED.value)


# The queries every segment write runs, built once: building a statement costs about 0.1 ms of CPU, three
# times what executing it does, and every file the recorder writes runs several of them.
_UNLINKED = (
    select(Segment.id)
    .where(Segment.camera_id == bindparam("camera_id"), Segment.span_id.is_(None), Segment.status.in_(_LIVE))
    .limit(1)
)
_UNLINKED_OTHER = _UNLINKED.where(Segment.id != bindparam("excluding"))
# the span left of a start: the one of the latest linked row starting at or before it (spans are disjoint)
_LEFT_OF = (
    select(Segment.span_id)
    .where(
        Segment.camera_id == bindparam("camera_id"),
        Segment.start_utc <= bindparam("start"),
        Segment.span_id > NOT_LIVE,
    )
    .order_by(Segment.start_utc.desc(), Segment.id.desc())
    .limit(1)
)
_LEFT_SPAN = _LEFT_OF.where(Segment.id != bindparam("excluding"))
_SPAN_REACH = select(func.max(Segment.end_utc)).where(
    Segment.camera_id == bindparam("camera_id"), Segment.span_id == bindparam("span")
)
# the span ids of the rows starting in [start, until]
_RIGHT_OF = select(Segment.span_id).where(
    Segment.camera_id == bindparam("camera_id"),
    Segment.start_utc >= bindparam("start"),
    Segment.start_utc <= bindparam("until"),
)
_RIGHT_SPANS = _RIGHT_OF.where(Segment.id != bindparam("excluding"))
_TOP_SPAN = select(func.max(Segment.span_id)).where(Segment.camera_id == bindparam("camera_id"))
# What a row about to be inserted needs, in one statement: whether the camera has unlinked live rows, the
# span left of the new row's start and how far that span reaches, and the camera's highest span id.
_NEW_LEFT = _LEFT_OF.scalar_subquery()
_NEW_ROW_PROBE = select(
    _UNLINKED.scalar_subquery().label("unlinked"),
    _NEW_LEFT.label("left"),
    select(func.max(Segment.end_utc))
    .where(Segment.camera_id == bindparam("camera_id"), Segment.span_id == _NEW_LEFT)
    .scalar_subquery()
    .label("reach"),
    _TOP_SPAN.scalar_subquery().label("top"),
)
# A linked row whose end moved later (the recorder's progress and close writes): whether the camera has
# other unlinked live rows, and any other span the row now reaches, in one statement.
_GROWN_PROBE = select(
    _UNLINKED_OTHER.scalar_subquery().label("unlinked"),
    _RIGHT_SPANS.where(Segment.span_id > NOT_LIVE, Segment.span_id != bindparam("own"))
    .limit(1)
    .scalar_subquery()
    .label("other"),
)


def has_unlinked(session: Session, *, camera_id: str, excluding: int | None = None) -> bool:
    """Whether a live row of ``camera_id`` has no span id (then span ids of that camera are not trusted)."""
    if excluding is None:
        found = session.execute(_UNLINKED, {"camera_id": camera_id})
    else:
        found = session.execute(_UNLINKED_OTHER, {"camera_id": camera_id, "excluding": excluding})
    return found.first() is not None


def chains(rows: Sequence[tuple[int, datetime, datetime]], tolerance: timedelta) -> list[list[int]]:
    """Ids of ``(id, start, end)`` rows grouped into spans (pure; rows in ``(start, id)`` order)."""
    groups: list[list[int]] = []
    reach: datetime | None = None
    for row_id, start, end in rows:
        if reach is not None and start <= reach + tolerance:
            groups[-1].append(row_id)
            reach = max(reach, end)
        else:
            groups.append([row_id])
            reach = end
    return groups


def relink_camera(session: Session, *, camera_id: str) -> int:
    """Re-derive every span id of ``camera_id`` from scratch (repair, bulk loads); returns the span count."""
    session.flush()
    session.execute(
        update(Segment)
        .where(Segment.camera_id == camera_id, Segment.status.not_in(_LIVE))
        .values(span_id=NOT_LIVE)
        .execution_options(synchronize_session=False)
    )
    rows = session.execute(
        select(Segment.id, Segment.start_utc, Segment.end_utc)
        .where(Segment.camera_id == camera_id, Segment.status.in_(_LIVE))
        .order_by(Segment.start_utc, Segment.id)
    ).all()
    groups = chains([(r[0], r[1], r[2]) for r in rows], JOIN_TOLERANCE)
    params = [{"id": row_id, "span_id": span} for span, ids in enumerate(groups, 1) for row_id in ids]
    if params:
        session.execute(update(Segment), params)  # ORM bulk update by primary key
    session.expire_all()
    return len(groups)


def _fresh_span(session: Session, camera_id: str) -> int:
    top = session.execute(_TOP_SPAN, {"camera_id": camera_id}).scalar()
    return int(top or 0) + 1


def _span_reach(session: Session, camera_id: str, span: int) -> datetime | None:
    reach: datetime | None = session.execute(_SPAN_REACH, {"camera_id": camera_id, "span": span}).scalar()
    return reach


def _ensure_linked(session: Session, camera_id: str, *, excluding: int | None = None) -> bool:
    """Relink the camera when it has unlinked live rows (other than ``excluding``, a row being linked now);
    True when it did (nothing more to do then)."""
    if has_unlinked(session, camera_id=camera_id, excluding=excluding):
        relink_camera(session, camera_id=camera_id)
        return True
    return False


def link_grown(session: Session, segment: Segment, *, only_end_moved: bool = False) -> None:
    """``segment`` (live) is new or its end moved later: give it a span, merging the spans it now touches.

    ``only_end_moved``: the row was linked before and only its end moved later (the recorder's progress and
    close writes). What lies left of its unchanged start was joined when it was linked and cannot have
    changed since without that write joining it, so only the right side is looked at.
    """
    session.flush()
    camera_id = segment.camera_id
    own = segment.span_id or None
    if (
        own is not None
        and only_end_moved
        and end_grew_in_place(
            session,
            camera_id=camera_id,
            row_id=segment.id,
            start=segment.start_utc,
            end=segment.end_utc,
            span=own,
        )
    ):
        return  # the usual case, answered by one statement: nothing new touched, the row keeps its span
    if _ensure_linked(session, camera_id, excluding=segment.id):
        return
    start, end = segment.start_utc, segment.end_utc
    spans: set[int] = set() if own is None else {own}
    left: int | None = None
    if own is None or not only_end_moved:
        # the span left of it: the one of the latest live row starting at or before it (spans are disjoint)
        left = session.execute(
            _LEFT_SPAN, {"camera_id": camera_id, "start": start, "excluding": segment.id}
        ).scalar()
    if left is not None and left not in spans:
        reach = _span_reach(session, camera_id, left)
        if reach is not None and reach + JOIN_TOLERANCE >= start:
            spans.add(left)
    # the spans right of its start that it reaches (span ids filtered here: the start range is the index)
    right = session.scalars(
        _RIGHT_SPANS,
        {"camera_id": camera_id, "start": start, "until": end + JOIN_TOLERANCE, "excluding": segment.id},
    ).all()
    spans.update(s for s in right if s)
    if not spans:
        segment.span_id = _fresh_span(session, camera_id)
        session.flush()
        return
    if spans == {own} and segment.span_id == own:
        return  # nothing new touched: the row keeps its span
    keep = left if left in spans else (own if own is not None else min(spans))
    _merge_spans(session, camera_id, keep, spans)
    segment.span_id = keep
    session.flush()


def _merge_spans(session: Session, camera_id: str, keep: int, spans: set[int]) -> None:
    """Give every row of ``spans`` other than ``keep`` the span id ``keep``."""
    others = sorted(spans - {keep})
    if others:
        session.execute(
            update(Segment)
            .where(Segment.camera_id == camera_id, Segment.span_id.in_(others))
            .values(span_id=keep)
            .execution_options(synchronize_session="fetch")
        )


def end_grew_in_place(
    session: Session, *, camera_id: str, row_id: int, start: datetime, end: datetime, span: int
) -> bool:
    """Whether live row ``row_id`` of span ``span``, whose end has just moved later to ``end``, keeps its
    span with nothing else to change: no unlinked live rows, and no other span within reach. One
    statement; when False, run :func:`link_grown` with ``only_end_moved`` on the row."""
    probe = (
        session.connection()
        .execute(
            _GROWN_PROBE,
            {
                "camera_id": camera_id,
                "start": start,
                "until": end + JOIN_TOLERANCE,
                "excluding": row_id,
                "own": span,
            },
        )
        .one()
    )
    return probe.unlinked is None and probe.other is None


def span_for_new_row(session: Session, *, camera_id: str, start: datetime, end: datetime) -> int | None:
    """The span id for a live row ``[start, end]`` of ``camera_id`` about to be inserted, merging the spans
    it will touch (as :func:`link_grown` does once it is in); None when the camera has unlinked live rows,
    and then the caller relinks the camera after inserting it.

    Two statements where inserting first and linking after took five and an update: this runs for every
    file the recorder opens.
    """
    session.flush()
    connection = session.connection()
    probe = connection.execute(_NEW_ROW_PROBE, {"camera_id": camera_id, "start": start}).one()
    if probe.unlinked is not None:
        return None
    spans: set[int] = set()
    left: int | None = probe.left
    if left is not None and probe.reach is not None and probe.reach + JOIN_TOLERANCE >= start:
        spans.add(left)
    right = (
        connection.execute(_RIGHT_OF, {"camera_id": camera_id, "start": start, "until": end + JOIN_TOLERANCE})
        .scalars()
        .all()
    )
    spans.update(s for s in right if s)
    if not spans:
        return int(probe.top or 0) + 1
    keep = left if left in spans else min(spans)
    _merge_spans(session, camera_id, keep, spans)
    return keep


def link_shrunk(
    session: Session,
    *,
    segment: Segment,
    span: int | None,
    old_end: datetime,
) -> None:
    """``segment`` left the live set or its end moved earlier (from ``old_end``): split its old span
    ``span`` where the rows after it no longer reach each other.

    Only rows of the span that start after the segment and no later than ``old_end + tolerance`` can lose
    their link (a later row was linked through one of them or through an earlier row): walk those from the
    reach of everything before them; re-derive the span only if one of them is now out of reach.
    """
    camera_id = segment.camera_id
    live = segment.status in _LIVE
    if not live:
        segment.span_id = NOT_LIVE
    session.flush()
    if _ensure_linked(session, camera_id):
        return
    if not span:
        if live:
            link_grown(session, segment)
        return
    after_key = or_(
        Segment.start_utc > segment.start_utc,
        (Segment.start_utc == segment.start_utc) & (Segment.id > segment.id),
    )
    after = session.execute(
        select(Segment.start_utc, Segment.end_utc)
        .where(
            Segment.camera_id == camera_id,
            Segment.span_id == span,
            Segment.id != segment.id,
            after_key,
            Segment.start_utc <= old_end + JOIN_TOLERANCE,
        )
        .order_by(Segment.start_utc, Segment.id)
    ).all()
    if not after:
        return
    reach: datetime | None = session.execute(
        select(func.max(Segment.end_utc)).where(
            Segment.camera_id == camera_id,
            Segment.span_id == span,
            Segment.id != segment.id,
            ~after_key,
        )
    ).scalar()
    if live:
        reach = segment.end_utc if reach is None else max(reach, segment.end_utc)
    for start, end in after:
        if reach is not None and start > reach + JOIN_TOLERANCE:
            _split(session, camera_id, span)
            return
        reach = end if reach is None else max(reach, end)


def _split(session: Session, camera_id: str, span: int) -> None:
    """Re-derive span ``span`` of ``camera_id``: its first part keeps the id, later parts get fresh ones."""
    rows = session.execute(
        select(Segment.id, Segment.start_utc, Segment.end_utc)
        .where(Segment.camera_id == camera_id, Segment.span_id == span)
        .order_by(Segment.start_utc, Segment.id)
    ).all()
    by_id: dict[int, Any] = {r[0]: r for r in rows}
    groups = chains([(r[0], r[1], r[2]) for r in rows], JOIN_TOLERANCE)
    fresh = _fresh_span(session, camera_id) + len(groups) - 2
    for group in reversed(groups[1:]):
        first = by_id[group[0]]
        session.execute(
            update(Segment)
            .where(
                Segment.camera_id == camera_id,
                Segment.span_id == span,
                or_(
                    Segment.start_utc > first[1],
                    (Segment.start_utc == first[1]) & (Segment.id >= first[0]),
                ),
            )
            .values(span_id=fresh)
            .execution_options(synchronize_session="fetch")
        )
        fresh -= 1
