"""The ordered, bounded outbox of one recorder's index writes, written in batches, retried while the
database is unreachable.

A recorder never writes its index rows on the video path: it queues each change (:meth:`IndexQueue.put`, a
function of a :class:`~sqlalchemy.orm.Session` and a short description for the log) and a writer -- the
housekeeping thread, the recorder's own thread, its ``stop`` -- calls :meth:`IndexQueue.flush`. A flush
writes every queued change, in order:

- all of them in one transaction; when that one is refused (a constraint, a row that is gone), one at a
  time, so that only the refused change is dropped (logged, counted, reported to the listener);
- a transient error (connection lost, server down, SQLite locked: :func:`is_transient`) keeps everything
  queued, tells the listener the database is unreachable, and the next flush waits ``retry_s``;
- a change queued while a flush writes is never taken for one that flush wrote.

The queue is bounded (``max_pending``). Past it, room is made by dropping the oldest *droppable* change
first (``put(..., droppable=True)``: a segment's progress update, which its close supersedes; counted, one
warning per outage), and only when none is left the oldest change of any kind (logged as an error each,
counted). What that costs: a dropped segment row is indexed again by the start-up reconcile
(:mod:`streams.reconcile`) only within its scan window (from an hour before the camera's oldest open row or
newest row); a dropped gap row is lost (the footage is all there, only the reason for a gap is missing).

Thread safety: ``put`` from any thread; one flush at a time (a second caller returns at once unless it
passes ``wait=True``). On SQLite the flush also takes the database's write lock without waiting
(``wait=False``), so that the video path never waits for another recorder's transaction.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from storage.database import Database

logger = logging.getLogger(__name__)

DbOp = Callable[[Session], object]
#: queued changes per recorder. A segment queues an open, a close and progress updates (5 more at 60 s, 1 at
#: 10 s); the progress updates are dropped first when full, so the rows of 5,000 segments fit: 83 hours at
#: 60 s segments, 13.9 hours at 10 s (20.8 and 9.3 hours before any is dropped). About 740 bytes a change:
#: 7.4 MB a camera when full.
MAX_PENDING = 10_000
RETRY_S = 5.0
#: what :meth:`IndexQueue.flush` drops instead of retrying: the change is refused, not the database gone
REFUSED_ERRORS = (SQLAlchemyError, LookupError, ValueError)


def is_transient(exc: DBAPIError) -> bool:
    """Connection lost, server down, database locked: worth retrying (constraint violations are not); pure."""
    return isinstance(exc, OperationalError | InterfaceError) or exc.connection_invalidated


class IndexListener(Protocol):
    """Who hears how the writes go (the recorder: its alarm and last error)."""

    def on_index_unreachable(self, message: str) -> None:
        """A flush failed with a transient error: everything stays queued; ``message`` says why."""

    def on_index_refused(self, message: str) -> None:
        """One change was refused by the database and dropped."""

    def on_index_written(self) -> None:
        """A flush wrote at least one change: the database answers."""


@dataclass(frozen=True, slots=True)
class IndexQueueStats:
    """A snapshot of the queue for the recorder's status."""

    pending: int  # changes waiting for the database
    dropped_full: int  # changes dropped because the queue was full (oldest first): rows missing
    dropped_superseded: int  # droppable changes (progress updates) dropped to make room: nothing missing
    dropped_refused: int  # changes the database refused
    unreachable: bool  # the last flush found the database unreachable


@dataclass(frozen=True, slots=True)
class _Change:
    seq: int
    what: str
    op: DbOp
    droppable: bool = False


class IndexQueue:
    """One recorder's queued index changes (see the module text)."""

    def __init__(
        self,
        db: Database,
        *,
        owner: str,
        listener: IndexListener,
        max_pending: int = MAX_PENDING,
        retry_s: float = RETRY_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_pending < 1:
            raise ValueError("max_pending must be at least 1")
        if retry_s < 0:
            raise ValueError("retry_s must not be negative")
        self.db = db
        self.owner = owner  # log prefix: the camera id
        self.max_pending = max_pending
        self.retry_s = retry_s
        self._listener = listener
        self._monotonic = monotonic
        self._lock = threading.Lock()  # the deque and counters; never held across I/O
        self._flushing = threading.Lock()  # one writer at a time
        self._changes: deque[_Change] = deque()
        self._seq = itertools.count()
        self._retry_at = 0.0
        self._dropped_full = 0
        self._dropped_superseded = 0
        self._dropped_refused = 0
        self._full_warned = False  # the first droppable change dropped since the last write was logged
        self._unreachable = False

    def __len__(self) -> int:
        return len(self._changes)

    @property
    def pending(self) -> int:
        return len(self._changes)

    def stats(self) -> IndexQueueStats:
        with self._lock:
            return IndexQueueStats(
                pending=len(self._changes),
                dropped_full=self._dropped_full,
                dropped_superseded=self._dropped_superseded,
                dropped_refused=self._dropped_refused,
                unreachable=self._unreachable,
            )

    def put(self, what: str, op: DbOp, *, droppable: bool = False) -> None:
        """Queue ``op`` (described as ``what`` in the log). ``droppable``: a later change supersedes it (a
        progress update before the close), so it is the first to go when the queue is full."""
        with self._lock:
            dropped = self._make_room() if len(self._changes) >= self.max_pending else None
            self._changes.append(_Change(next(self._seq), what, op, droppable))
            warn = dropped is not None and dropped.droppable and not self._full_warned
            if warn:
                self._full_warned = True
        if dropped is None:
            return
        if not dropped.droppable:
            logger.error(
                "%s: index outbox full (%d), dropped %s (start-up reconcile re-indexes recent files without "
                "rows)",
                self.owner,
                self.max_pending,
                dropped.what,
            )
        elif warn:
            logger.warning(
                "%s: index outbox full (%d): dropping progress updates (their segments' closes follow)",
                self.owner,
                self.max_pending,
            )

    def _make_room(self) -> _Change:
        """Remove the oldest droppable change, else the oldest (caller holds the lock)."""
        for position, change in enumerate(self._changes):
            if change.droppable:
                del self._changes[position]
                self._dropped_superseded += 1
                return change
        self._dropped_full += 1
        return self._changes.popleft()

    def retry_now(self) -> None:
        """Forget the back-off: the next flush tries the database at once."""
        self._retry_at = 0.0

    def flush(self, *, wait: bool = False) -> None:
        """Write the queued changes in order (see the module text). ``wait=False`` (the video path): when
        another flush or, on SQLite, another recorder is writing, keep the changes for the next round."""
        if not self._changes or self._monotonic() < self._retry_at:
            return
        if not self._flushing.acquire(blocking=wait):
            return
        try:
            self._flush_locked(wait=wait)
        finally:
            self._flushing.release()

    def _flush_locked(self, *, wait: bool) -> None:
        lock = self.db.write_lock
        if lock is None:
            self._write_in_order()
            return
        if not lock.acquire(blocking=wait):
            return
        try:
            self._write_in_order()
        finally:
            lock.release()

    def _write_in_order(self) -> None:
        while self._changes and self._monotonic() >= self._retry_at:
            if len(self._changes) > 1:
                written = self._write_batch()
                if written is None:
                    return  # database unreachable: retry later
                if written:
                    continue
            if not self._write_first():
                return

    def _write_batch(self) -> bool | None:
        """Every queued change in one transaction: True when written, False when refused (the caller goes
        change by change), None when the database is unreachable."""
        with self._lock:
            batch = list(self._changes)
        try:
            with self.db.session() as session:
                for change in batch:
                    change.op(session)
        except DBAPIError as exc:
            if not is_transient(exc):
                return False
            self._unreachable_now(exc, f"{len(batch)} index writes failed")
            return None
        except REFUSED_ERRORS:
            return False
        self._written(batch[-1].seq)
        return True

    def _write_first(self) -> bool:
        """The oldest change alone: False when the database is unreachable."""
        with self._lock:
            if not self._changes:
                return True
            change = self._changes[0]
        try:
            with self.db.session() as session:
                change.op(session)
        except DBAPIError as exc:
            if is_transient(exc):
                self._unreachable_now(exc, f"index write '{change.what}' failed")
                return False
            self._drop_refused(change, exc)
            return True
        except REFUSED_ERRORS as exc:
            self._drop_refused(change, exc)
            return True
        self._written(change.seq)
        return True

    def _written(self, last_seq: int) -> None:
        """Remove what was written: every change up to ``last_seq`` (some may have been dropped meanwhile
        by a full queue; later ones were queued meanwhile and stay)."""
        with self._lock:
            while self._changes and self._changes[0].seq <= last_seq:
                self._changes.popleft()
            self._unreachable = False
            self._full_warned = False
        self._listener.on_index_written()

    def _unreachable_now(self, exc: DBAPIError, what: str) -> None:
        self._retry_at = self._monotonic() + self.retry_s
        with self._lock:
            self._unreachable = True
        self._listener.on_index_unreachable(f"database unreachable: {exc.orig or exc}")
        logger.warning("%s: %s, retry later: %s", self.owner, what, exc)

    def _drop_refused(self, change: _Change, exc: Exception) -> None:
        logger.error("%s: index write '%s' refused, dropped: %s", self.owner, change.what, exc)
        with self._lock:
            if self._changes and self._changes[0].seq == change.seq:
                self._changes.popleft()
            self._dropped_refused += 1
        self._listener.on_index_refused(f"index write '{change.what}' refused: {exc}")


__all__ = [
    "MAX_PENDING",
    "RETRY_S",
    "DbOp",
    "IndexListener",
    "IndexQueue",
    "IndexQueueStats",
    "is_transient",
]
