"""The SHA-256 of the recorded files behind a camera's time range, for the printed complaint card.

:func:`footage_hashes` lists the main-stream segments that overlap ``[start, end)`` (deleted ones too: the
card says which files the range was kept in), oldest first. A file still being written has no hash yet
(``sha256`` is None); the card says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.model import Segment


@dataclass(frozen=True, slots=True)
class SegmentHash:
    start_utc: datetime
    end_utc: datetime
    sha256: str | None
    status: str


def footage_hashes(
    session: Session, *, camera_id: str, start_utc: datetime, end_utc: datetime, limit: int = 500
) -> Sequence[SegmentHash]:
    """The main-stream segments of ``camera_id`` overlapping ``[start_utc, end_utc)``, by start."""
    rows = session.execute(
        select(Segment.start_utc, Segment.end_utc, Segment.sha256, Segment.status)
        .where(
            Segment.camera_id == camera_id,
            Segment.stream == "main",
            Segment.start_utc < end_utc,
            Segment.end_utc > start_utc,
        )
        .order_by(Segment.start_utc, Segment.id)
        .limit(limit)
    )
    return [SegmentHash(start, end, sha256, status) for start, end, sha256, status in rows]
