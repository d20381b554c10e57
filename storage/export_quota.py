"""Evidence package retention and the per-user package quota.

A package is a copy: the footage it was cut from stays under retention and evidence locks, so its file can
go once it is ``retention_days`` old. The ``exports`` row and its audit entries stay (status ``expired``, no
path), so what was exported, by whom and why is never forgotten. The quota counts the bytes of a user's
packages that are still on disk.

Decisions are pure (:func:`plan_export_expiry`, :func:`is_over_quota`); :func:`apply_export_expiry` deletes
the files and marks the rows.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.audit import append_audit
from storage.layout import SegmentPathError, resolve_relative
from storage.model import Export

logger = logging.getLogger(__name__)

EXPIRED_STATUS = "expired"


@dataclass(frozen=True, slots=True)
class PackageAge:
    """A package on disk as retention sees it."""

    export_id: int
    created_at: datetime


def plan_export_expiry(packages: Sequence[PackageAge], *, now: datetime, retention_days: int) -> list[int]:
    """Ids of the packages at least ``retention_days`` old (pure)."""
    cutoff = now - timedelta(days=retention_days)
    return [p.export_id for p in packages if p.created_at <= cutoff]


def is_over_quota(used_bytes: int, quota_bytes: int) -> bool:
    """True when a user whose packages take ``used_bytes`` may not build another (pure)."""
    return used_bytes >= quota_bytes


def packages_on_disk(session: Session, *, created_before: datetime) -> list[PackageAge]:
    rows = session.execute(
        select(Export.id, Export.created_at).where(
            Export.status == "ready", Export.path.is_not(None), Export.created_at <= created_before
        )
    ).all()
    return [PackageAge(export_id=row.id, created_at=row.created_at) for row in rows]


def package_bytes_of(session: Session, *, user_id: int) -> int:
    """Bytes of the packages ``user_id`` built that are still on disk."""
    total = session.scalar(
        select(func.coalesce(func.sum(Export.bytes), 0)).where(
            Export.created_by == user_id, Export.status == "ready", Export.path.is_not(None)
        )
    )
    return int(total or 0)


def _remove_file(exports_dir: Path, relative: str, export_id: int) -> None:
    try:
        resolve_relative(exports_dir, relative).unlink(missing_ok=True)
    except SegmentPathError as exc:
        logger.error("export %d: unsafe stored path, file left alone: %s", export_id, exc)


def apply_export_expiry(
    session: Session, export_ids: Sequence[int], *, exports_dir: Path, now: datetime
) -> int:
    """Delete the files of ``export_ids``, mark them expired and audit each (``export.expire``); returns how
    many expired. The caller commits."""
    expired = 0
    for export_id in export_ids:
        export = session.get(Export, export_id)
        if export is None or export.status != "ready" or export.path is None:
            continue
        _remove_file(exports_dir, export.path, export_id)
        export.status, export.path = EXPIRED_STATUS, None
        append_audit(
            session,
            action="export.expire",
            allowed=True,
            source="station",
            resource_type="export",
            resource_id=str(export_id),
            reason="retention",
            detail={
                "created_at": export.created_at.isoformat(),
                "bytes": export.bytes,
                "at": now.isoformat(),
            },
        )
        expired += 1
    session.flush()
    return expired
