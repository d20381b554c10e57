"""Evidence locks: footage of a camera between two instants that retention must not delete.

A lock holds until it is released or its ``expires_at`` (set when the case closes) has passed. Retention reads
locks as plain :class:`LockSpan` values so its decision stays a pure function.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from storage.model import EvidenceLock
from storage.segment import ensure_camera_row


class LockNotFoundError(LookupError):
    """No evidence lock with this id."""


@dataclass(frozen=True, slots=True)
class LockSpan:
    """One evidence lock as retention sees it."""

    lock_id: int
    camera_id: str
    start_utc: datetime
    end_utc: datetime
    expires_at: datetime | None = None
    released_at: datetime | None = None

    def is_active(self, now: datetime) -> bool:
        return self.released_at is None and (self.expires_at is None or self.expires_at > now)

    def covers(self, camera_id: str, start_utc: datetime, end_utc: datetime) -> bool:
        """Whether this lock protects any instant of ``camera_id`` in ``[start_utc, end_utc]``."""
        return camera_id == self.camera_id and self.start_utc <= end_utc and self.end_utc >= start_utc


def is_protected(
    locks: Iterable[LockSpan], *, camera_id: str, start_utc: datetime, end_utc: datetime, now: datetime
) -> bool:
    return any(lock.is_active(now) and lock.covers(camera_id, start_utc, end_utc) for lock in locks)


def create_lock(
    session: Session,
    *,
    camera_id: str,
    start_utc: datetime,
    end_utc: datetime,
    reason: str,
    complaint_id: int | None = None,
    created_by: int | None = None,
    expires_at: datetime | None = None,
) -> EvidenceLock:
    if end_utc <= start_utc:
        raise ValueError(
            f"evidence lock range is empty: end {end_utc.isoformat()} is not after {start_utc.isoformat()}"
        )
    if not reason.strip():
        raise ValueError("an evidence lock needs a reason")
    ensure_camera_row(session, camera_id=camera_id)
    lock = EvidenceLock(
        camera_id=camera_id,
        start_utc=start_utc,
        end_utc=end_utc,
        reason=reason.strip(),
        complaint_id=complaint_id,
        created_by=created_by,
        expires_at=expires_at,
    )
    session.add(lock)
    session.flush()
    return lock


def release_lock(session: Session, *, lock_id: int, at: datetime, released_by: int | None = None) -> None:
    """Release a lock (idempotent: a released lock keeps its first release time)."""
    lock = session.get(EvidenceLock, lock_id)
    if lock is None:
        raise LockNotFoundError(f"no evidence lock with id {lock_id}")
    if lock.released_at is None:
        lock.released_at = at
        lock.released_by = released_by


def set_lock_expiry(session: Session, *, lock_id: int, expires_at: datetime | None) -> None:
    lock = session.get(EvidenceLock, lock_id)
    if lock is None:
        raise LockNotFoundError(f"no evidence lock with id {lock_id}")
    lock.expires_at = expires_at


def active_locks(session: Session, *, now: datetime, camera_id: str | None = None) -> Sequence[LockSpan]:
    """Locks that hold at ``now`` (not released, not expired)."""
    query = select(EvidenceLock).where(
        EvidenceLock.released_at.is_(None),
        or_(EvidenceLock.expires_at.is_(None), EvidenceLock.expires_at > now),
    )
    if camera_id is not None:
        query = query.where(EvidenceLock.camera_id == camera_id)
    return [_span(lock) for lock in session.scalars(query.order_by(EvidenceLock.start_utc))]


def locks_covering(
    session: Session, *, camera_id: str, start_utc: datetime, end_utc: datetime, now: datetime
) -> Sequence[LockSpan]:
    """Active locks of ``camera_id`` that protect some instant of ``[start_utc, end_utc]``."""
    query = select(EvidenceLock).where(
        EvidenceLock.camera_id == camera_id,
        EvidenceLock.start_utc <= end_utc,
        EvidenceLock.end_utc >= start_utc,
        EvidenceLock.released_at.is_(None),
        or_(EvidenceLock.expires_at.is_(None), EvidenceLock.expires_at > now),
    )
    return [_span(lock) for lock in session.scalars(query)]


def _span(lock: EvidenceLock) -> LockSpan:
    return LockSpan(
        lock_id=lock.id,
        camera_id=lock.camera_id,
        start_utc=lock.start_utc,
        end_utc=lock.end_utc,
        expires_at=lock.expires_at,
        released_at=lock.released_at,
    )
