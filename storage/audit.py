"""The append-only, hash-chained audit log.

Chain
    Each row stores the hash of the previous row and its own SHA-256 over a canonical encoding of all its
    fields (its id included), so a changed, inserted, deleted or reordered row breaks the chain at a precise
    place. Ids are consecutive from 1, so a deleted row also shows as a gap.

Anchor (truncation)
    A chain cannot show that its *last* rows were deleted: what is left is still a valid chain. The
    ``audit_anchor`` table holds one row with the id and hash of the newest row written, updated in the same
    transaction as that row. Verification requires the chain to reach the anchor's row with the anchor's
    hash, and reports rows that were removed after it (truncation) or added beyond it without going through
    :func:`append_audit`. A table was chosen over a file in the data dir because it commits atomically with
    the row: a crash, a rolled-back transaction or a second process (CLI and web console both append) can
    never leave the anchor out of step with the log, so verification never raises a false alarm, and it
    works unchanged when PostgreSQL runs on another host. New rows continue from the anchor, not from
    whatever row is last now, so a truncation stays visible as a gap after later appends. What the anchor
    cannot catch is someone rewriting the log *and* the anchor consistently; that needs a copy kept off the
    machine (an exported, signed ``station audit verify`` report).

Concurrency
    Appends are serialised: a self-conflicting table lock on PostgreSQL, the database write lock on SQLite
    (taken before the tail is read), so two writers can never fork the chain or reuse an id.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, func, select, text
from sqlalchemy.orm import Session

from storage.model import AuditAnchor, AuditEntry, utcnow

GENESIS_HASH = "0" * 64
ANCHOR_ID = 1


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"naive datetime {at!r} refused: audit times are timezone-aware UTC")
    return at.astimezone(UTC)


def entry_hash(entry: AuditEntry) -> str:
    """SHA-256 over the row's content, its id and the previous hash."""
    fields = {
        "id": entry.id,
        "at": _utc(entry.at).isoformat(timespec="microseconds"),
        "user_id": entry.user_id,
        "username": entry.username,
        "source": entry.source,
        "action": entry.action,
        "resource_type": entry.resource_type,
        "resource_id": entry.resource_id,
        "allowed": bool(entry.allowed),
        "reason": entry.reason,
        "detail": entry.detail,
        "prev_hash": entry.prev_hash,
    }
    return hashlib.sha256(_canonical(fields).encode("utf-8")).hexdigest()


def _lock_tail(session: Session) -> None:
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        # SHARE ROW EXCLUSIVE conflicts with itself but not with readers: appends queue, reads go on.
        session.execute(text("LOCK TABLE audit_log IN SHARE ROW EXCLUSIVE MODE"))
    elif bind.dialect.name == "sqlite":
        # A write statement (even one that matches nothing) takes the database write lock now, so reading
        # the tail and appending are one step.
        session.execute(text("UPDATE audit_anchor SET id = id WHERE 0"))


@dataclass(frozen=True, slots=True)
class Anchor:
    """The id and hash of the newest row written through :func:`append_audit`."""

    last_id: int
    last_hash: str


def read_anchor(session: Session) -> Anchor | None:
    row = session.execute(
        select(AuditAnchor.last_id, AuditAnchor.last_hash).where(AuditAnchor.id == ANCHOR_ID)
    ).first()
    return None if row is None else Anchor(int(row.last_id), str(row.last_hash))


def _tail(session: Session) -> tuple[int, str]:
    """(id, prev_hash) for the next row: continue from the anchor so a truncation stays a visible gap."""
    last_row = session.execute(
        select(AuditEntry.id, AuditEntry.row_hash).order_by(AuditEntry.id.desc()).limit(1)
    ).first()
    anchor = read_anchor(session)
    if anchor is None:
        return (last_row.id + 1, last_row.row_hash) if last_row else (1, GENESIS_HASH)
    # Rows beyond the anchor were not written here: skip their ids (no collision, the station keeps
    # logging) but chain to the anchor, so verification keeps reporting them.
    last_id = max(anchor.last_id, last_row.id if last_row else 0)
    return last_id + 1, anchor.last_hash


def append_audit(
    session: Session,
    *,
    action: str,
    allowed: bool,
    user_id: int | None = None,
    username: str | None = None,
    source: str | None = None,
    resource_type: str | None = None,
    resource_id: str | None = None,
    reason: str | None = None,
    detail: Mapping[str, Any] | None = None,
    at: datetime | None = None,
) -> AuditEntry:
    """Append one row (and move the anchor) in the caller's transaction; the caller commits.

    The append lock is held until that commit, so keep the transaction short.
    """
    when = utcnow() if at is None else _utc(at)
    _lock_tail(session)
    next_id, prev_hash = _tail(session)
    entry = AuditEntry(
        id=next_id,
        at=when,
        user_id=user_id,
        username=username,
        source=source,
        action=action,
        resource_type=resource_type,
        resource_id=None if resource_id is None else str(resource_id),
        allowed=allowed,
        reason=reason,
        detail=None if detail is None else _canonical(dict(detail)),
        prev_hash=prev_hash,
    )
    entry.row_hash = entry_hash(entry)
    session.add(entry)
    anchor = session.get(AuditAnchor, ANCHOR_ID, populate_existing=True)
    if anchor is None:
        session.add(AuditAnchor(id=ANCHOR_ID, last_id=entry.id, last_hash=entry.row_hash, updated_at=when))
    else:
        anchor.last_id = entry.id
        anchor.last_hash = entry.row_hash
        anchor.updated_at = when
    session.flush()
    return entry


def latest_audit(session: Session, *, limit: int = 20) -> list[AuditEntry]:
    """The newest ``limit`` rows, oldest first."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    rows = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)).all()
    return list(reversed(rows))


def count_audit(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(AuditEntry)) or 0)


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """Where verification failed and why."""

    entry_id: int
    message: str

    def __str__(self) -> str:
        return f"audit row {self.entry_id}: {self.message}"


def _missing(first: int, last: int) -> str:
    return f"row {first} is missing" if first == last else f"rows {first}..{last} are missing"


def verify_entries(entries: Iterable[AuditEntry]) -> list[ChainBreak]:
    """Pure check of a sequence of rows in id order; returns every break found."""
    breaks: list[ChainBreak] = []
    expected_prev = GENESIS_HASH
    expected_id = 1
    for entry in entries:
        if entry.id != expected_id:
            breaks.append(
                ChainBreak(entry.id, f"{_missing(expected_id, entry.id - 1)} (deleted?)")
                if entry.id > expected_id
                else ChainBreak(entry.id, "row id out of order")
            )
        if entry.prev_hash != expected_prev:
            breaks.append(
                ChainBreak(
                    entry.id, "previous-hash link broken (a row before it was changed, removed or inserted)"
                )
            )
        if entry_hash(entry) != entry.row_hash:
            breaks.append(ChainBreak(entry.id, "content does not match its hash (row was changed)"))
        expected_prev = entry.row_hash
        expected_id = entry.id + 1
    return breaks


def verify_anchor(
    *, before: Anchor | None, after: Anchor | None, last_id: int | None, hash_at_anchor: str | None
) -> list[ChainBreak]:
    """Pure check of the log's end against the anchor.

    ``before`` is the anchor read before the rows were read and ``after`` the one read after, so rows
    appended while verifying are neither a truncation nor unaccounted rows. ``last_id`` is the newest row
    read and ``hash_at_anchor`` the hash of row ``before.last_id`` (None when that row was not found).
    """
    if before is None and after is None:
        if last_id is None:
            return []
        return [ChainBreak(last_id, "the audit anchor is missing: deleted newest rows cannot be ruled out")]
    breaks: list[ChainBreak] = []
    if before is not None:
        if last_id is None or last_id < before.last_id:
            first_missing = 1 if last_id is None else last_id + 1
            breaks.append(
                ChainBreak(
                    before.last_id,
                    f"{_missing(first_missing, before.last_id)}: the log was truncated "
                    f"(the anchor records row {before.last_id}, hash {before.last_hash[:12]}…)",
                )
            )
        elif hash_at_anchor is None:
            breaks.append(ChainBreak(before.last_id, "the row recorded by the audit anchor is missing"))
        elif hash_at_anchor != before.last_hash:
            breaks.append(
                ChainBreak(before.last_id, "hash differs from the one the audit anchor recorded (rewritten)")
            )
    limit = after.last_id if after is not None else None
    if limit is not None and last_id is not None and last_id > limit:
        breaks.append(
            ChainBreak(
                last_id,
                f"rows after {limit} were not written through the station (the anchor ends at {limit})",
            )
        )
    return breaks


@dataclass(frozen=True, slots=True)
class ChainReport:
    """Result of :func:`check_audit_chain`."""

    rows: int
    last_id: int | None
    breaks: list[ChainBreak]

    @property
    def ok(self) -> bool:
        return not self.breaks


def check_audit_chain(session: Session, *, batch: int = 5000) -> ChainReport:
    """Verify the whole log and its anchor, streaming in id order. Safe while others append."""
    before = read_anchor(session)
    rows = session.execute(select(AuditEntry).order_by(AuditEntry.id).execution_options(yield_per=batch))
    count = 0
    last_id: int | None = None
    hash_at_anchor: str | None = None

    def _tracked() -> Iterator[AuditEntry]:
        nonlocal count, last_id, hash_at_anchor
        for entry in rows.scalars():
            count += 1
            last_id = entry.id
            if before is not None and entry.id == before.last_id:
                hash_at_anchor = entry.row_hash
            yield entry

    breaks = verify_entries(_tracked())
    after = read_anchor(session)
    breaks += verify_anchor(before=before, after=after, last_id=last_id, hash_at_anchor=hash_at_anchor)
    breaks.sort(key=lambda b: b.entry_id)
    return ChainReport(rows=count, last_id=last_id, breaks=breaks)


def verify_audit_chain(session: Session, *, batch: int = 5000) -> tuple[int, list[ChainBreak]]:
    """Verify the whole log and its anchor; returns (rows checked, breaks)."""
    report = check_audit_chain(session, batch=batch)
    return report.rows, report.breaks


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Filters of the audit-log viewer; None means any.

    ``username`` matches part of the user name (case-insensitive), ``action`` an action or its prefix
    (``auth.`` for every sign-in row), ``resource_type`` and ``resource_id`` exactly; ``start``/``end`` bound
    ``at`` as ``[start, end)``.
    """

    username: str | None = None
    action: str | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    allowed: bool | None = None
    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True, slots=True)
class AuditPage:
    items: list[AuditEntry]
    total: int


def _filtered(where: AuditFilter) -> Select[AuditEntry]:
    query = select(AuditEntry)
    if where.username:
        query = query.where(func.lower(AuditEntry.username).contains(where.username.lower(), autoescape=True))
    if where.action:
        query = query.where(AuditEntry.action.startswith(where.action, autoescape=True))
    if where.resource_type:
        query = query.where(AuditEntry.resource_type == where.resource_type)
    if where.resource_id:
        query = query.where(AuditEntry.resource_id == where.resource_id)
    if where.allowed is not None:
        query = query.where(AuditEntry.allowed.is_(where.allowed))
    if where.start is not None:
        query = query.where(AuditEntry.at >= _utc(where.start))
    if where.end is not None:
        query = query.where(AuditEntry.at < _utc(where.end))
    return query


def list_audit(session: Session, *, where: AuditFilter, limit: int = 50, offset: int = 0) -> AuditPage:
    """One page of matching rows, newest first, and how many match in all."""
    if limit < 1 or offset < 0:
        raise ValueError(f"limit must be at least 1 and offset at least 0, got {limit} and {offset}")
    query = _filtered(where)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit).offset(offset)).all()
    return AuditPage(items=list(rows), total=int(total))


def iter_audit(session: Session, *, where: AuditFilter, batch: int = 1000) -> Iterator[AuditEntry]:
    """Every matching row, oldest first, streamed in batches (for an export)."""
    rows = session.execute(_filtered(where).order_by(AuditEntry.id).execution_options(yield_per=batch))
    yield from rows.scalars()


def audit_actions(session: Session) -> list[str]:
    """Every action the log holds, sorted (suggestions for the viewer's action filter)."""
    return sorted(session.scalars(select(AuditEntry.action).distinct()).all())
