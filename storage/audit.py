"""The append-only, hash-chained audit log.

Each row stores the hash of the previous row and its own hash over a canonical encoding of its fields, so a
changed, inserted or deleted row breaks the chain at a precise place. Appends are serialised (a row lock on
PostgreSQL, the database write lock on SQLite) so two writers cannot fork the chain.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from storage.model import AuditEntry, utcnow

GENESIS_HASH = "0" * 64


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def entry_hash(entry: AuditEntry) -> str:
    """SHA-256 over the row's content and the previous hash (never over its id alone)."""
    fields = {
        "id": entry.id,
        "at": entry.at.isoformat(timespec="microseconds"),
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
        session.execute(text("LOCK TABLE audit_log IN SHARE ROW EXCLUSIVE MODE"))
    elif bind.dialect.name == "sqlite":
        # Take the write lock now so reading the tail and appending are one step.
        session.execute(text("UPDATE audit_log SET id = id WHERE 0"))


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
    """Append one row in the caller's transaction; the caller commits."""
    _lock_tail(session)
    tail = session.execute(select(AuditEntry.id, AuditEntry.row_hash).order_by(AuditEntry.id.desc()).limit(1))
    last = tail.first()
    entry = AuditEntry(
        id=(last.id + 1) if last else 1,
        at=at or utcnow(),
        user_id=user_id,
        username=username,
        source=source,
        action=action,
        resource_type=resource_type,
        resource_id=None if resource_id is None else str(resource_id),
        allowed=allowed,
        reason=reason,
        detail=None if detail is None else _canonical(dict(detail)),
        prev_hash=last.row_hash if last else GENESIS_HASH,
    )
    entry.row_hash = entry_hash(entry)
    session.add(entry)
    session.flush()
    return entry


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """Where verification failed and why."""

    entry_id: int
    message: str

    def __str__(self) -> str:
        return f"audit row {self.entry_id}: {self.message}"


def verify_entries(entries: Iterable[AuditEntry]) -> list[ChainBreak]:
    """Pure check of a sequence of rows in id order; returns every break found."""
    breaks: list[ChainBreak] = []
    expected_prev = GENESIS_HASH
    expected_id = 1
    for entry in entries:
        if entry.id != expected_id:
            breaks.append(
                ChainBreak(entry.id, f"rows {expected_id}..{entry.id - 1} are missing (deleted?)")
                if entry.id > expected_id
                else ChainBreak(entry.id, "row id out of order")
            )
        if entry.prev_hash != expected_prev:
            breaks.append(
                ChainBreak(entry.id, "previous-hash link broken (a row before it was changed or removed)")
            )
        if entry_hash(entry) != entry.row_hash:
            breaks.append(ChainBreak(entry.id, "content does not match its hash (row was changed)"))
        expected_prev = entry.row_hash
        expected_id = entry.id + 1
    return breaks


def verify_audit_chain(session: Session, *, batch: int = 5000) -> tuple[int, list[ChainBreak]]:
    """Verify the whole log, streaming in id order; returns (rows checked, breaks)."""
    rows = session.execute(select(AuditEntry).order_by(AuditEntry.id).execution_options(yield_per=batch))
    count = 0

    def _counted() -> Iterable[AuditEntry]:
        nonlocal count
        for entry in rows.scalars():
            count += 1
            yield entry

    breaks = verify_entries(_counted())
    return count, breaks
