"""Is every second of a camera's history footage or a gap row with its reason? Read from the index."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from storage.database import Database
from storage.model import Gap, Segment

#: spans closer than this count as touching (timestamps are frame-accurate; 25 fps frames are 40 ms)
TOUCHING = timedelta(milliseconds=100)


@dataclass(frozen=True, slots=True)
class Span:
    start_utc: datetime
    end_utc: datetime

    @property
    def seconds(self) -> float:
        return (self.end_utc - self.start_utc).total_seconds()


def camera_segments(database: Database, camera_id: str) -> list[Segment]:
    with database.session() as session:
        query = select(Segment).where(Segment.camera_id == camera_id).order_by(Segment.start_utc)
        return list(session.scalars(query))


def camera_gaps(database: Database, camera_id: str) -> list[Gap]:
    with database.session() as session:
        query = select(Gap).where(Gap.camera_id == camera_id).order_by(Gap.start_utc)
        return list(session.scalars(query))


def unexplained_holes(segments: list[Segment], gaps: list[Gap], until: datetime) -> list[Span]:
    """Spans between the first footage and ``until`` covered neither by a segment row nor by a gap row (an
    open gap counts up to ``until``); pure."""
    spans = sorted(
        [(s.start_utc, s.end_utc) for s in segments] + [(g.start_utc, g.end_utc or until) for g in gaps]
    )
    holes: list[Span] = []
    if not spans:
        return holes
    covered = spans[0][1]
    for start, end in spans[1:]:
        if start > min(covered, until) + TOUCHING:
            holes.append(Span(covered, min(start, until)))
        covered = max(covered, end)
    return [hole for hole in holes if hole.start_utc < until]
