"""Gaps: every span in which a camera put no footage on disk, with the reason.

At most one gap per camera is open (``end_utc`` NULL) at a time. Opening a gap while one is open keeps it when
the reason is the same (a camera that keeps failing to reconnect) and otherwise closes it where the new
one starts, so each stretch keeps the reason that explains it. The first footage of a new file closes the
open gap.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from storage.model import Gap, GapReason
from storage.segment import ensure_camera_row

DETAIL_MAX_CHARS = 2000


def find_open_gap(session: Session, *, camera_id: str) -> Gap | None:
    query = (
        select(Gap)
        .where(Gap.camera_id == camera_id, Gap.end_utc.is_(None))
        .order_by(Gap.start_utc.desc(), Gap.id.desc())
    )
    return session.scalars(query).first()


def open_gap(
    session: Session, *, camera_id: str, start_utc: datetime, reason: GapReason, detail: str | None = None
) -> Gap:
    """Open a gap for ``camera_id`` at ``start_utc`` (or keep the open one when it has the same reason)."""
    reason = GapReason(reason)
    ensure_camera_row(session, camera_id=camera_id)
    current = find_open_gap(session, camera_id=camera_id)
    if current is not None:
        if current.reason == reason.value:
            return current
        current.end_utc = max(start_utc, current.start_utc)
        start_utc = current.end_utc
    gap = Gap(
        camera_id=camera_id,
        start_utc=start_utc,
        end_utc=None,
        reason=reason.value,
        detail=None if detail is None else detail[:DETAIL_MAX_CHARS],
    )
    session.add(gap)
    session.flush()
    return gap


def close_gap(session: Session, *, camera_id: str, end_utc: datetime) -> Gap | None:
    """Close the camera's open gap(s) at ``end_utc`` (never before their start); returns the newest closed."""
    closed: Gap | None = None
    query = select(Gap).where(Gap.camera_id == camera_id, Gap.end_utc.is_(None)).order_by(Gap.start_utc)
    for gap in session.scalars(query):
        gap.end_utc = max(end_utc, gap.start_utc)
        closed = gap
    return closed


def move_gap_start(
    session: Session, *, camera_id: str, reason: GapReason, start_utc: datetime, new_start_utc: datetime
) -> Gap | None:
    """Move the start of ``camera_id``'s ``reason`` gap that starts at ``start_utc`` to ``new_start_utc``
    (earlier: a recorder opened the gap where its footage was muxed to, and the file saved after a disk
    error ends sooner); returns the gap, or None when there is none."""
    query = select(Gap).where(
        Gap.camera_id == camera_id, Gap.reason == GapReason(reason).value, Gap.start_utc == start_utc
    )
    gap = session.scalars(query.order_by(Gap.id.desc())).first()
    if gap is None:
        return None
    gap.start_utc = new_start_utc if gap.end_utc is None else min(new_start_utc, gap.end_utc)
    return gap


def add_gap(
    session: Session,
    *,
    camera_id: str,
    start_utc: datetime,
    end_utc: datetime,
    reason: GapReason,
    detail: str | None = None,
) -> Gap:
    """Record a gap that is already over (e.g. found at start-up)."""
    if end_utc < start_utc:
        raise ValueError(f"gap ends {end_utc.isoformat()} before it starts {start_utc.isoformat()}")
    ensure_camera_row(session, camera_id=camera_id)
    gap = Gap(
        camera_id=camera_id,
        start_utc=start_utc,
        end_utc=end_utc,
        reason=GapReason(reason).value,
        detail=None if detail is None else detail[:DETAIL_MAX_CHARS],
    )
    session.add(gap)
    session.flush()
    return gap


def gaps_overlapping(
    session: Session, *, camera_id: str, start_utc: datetime, end_utc: datetime
) -> Sequence[Gap]:
    """Gaps of ``camera_id`` touching ``[start_utc, end_utc)`` (open ones included), oldest first."""
    query = select(Gap).where(
        Gap.camera_id == camera_id,
        Gap.start_utc < end_utc,
        or_(Gap.end_utc.is_(None), Gap.end_utc > start_utc),
    )
    return session.scalars(query.order_by(Gap.start_utc, Gap.id)).all()


def gap_seconds(session: Session, *, since_utc: datetime, now_utc: datetime) -> dict[str, float]:
    """Seconds without footage per camera within ``[since_utc, now_utc]`` (open gaps count up to now).

    Cameras without gaps in the window are absent (0). Used by ``/metrics`` for the last hour and day.
    """
    query = select(Gap).where(Gap.start_utc < now_utc, or_(Gap.end_utc.is_(None), Gap.end_utc > since_utc))
    totals: dict[str, float] = {}
    for gap in session.scalars(query):
        start = max(gap.start_utc, since_utc)
        end = min(gap.end_utc if gap.end_utc is not None else now_utc, now_utc)
        if end > start:
            totals[gap.camera_id] = totals.get(gap.camera_id, 0.0) + (end - start).total_seconds()
    return totals
