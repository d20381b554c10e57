"""Listing evidence packages for the exports page: who built what and when, newest first.

One query (:func:`list_exports`) with the page's filters (:class:`ExportFilter`); each row carries the
export, its author's names and the complaint number it is filed under, so the console needs no further
look-ups per row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from storage.model import Complaint, Export, User


@dataclass(frozen=True, slots=True)
class ExportFilter:
    """What the list is narrowed to; ``None`` leaves a field open."""

    created_by: int | None = None
    complaint_number: str | None = None
    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True, slots=True)
class ExportRow:
    export: Export
    username: str
    display_name: str | None
    complaint_number: str | None


@dataclass(frozen=True, slots=True)
class ExportPage:
    items: Sequence[ExportRow]
    total: int


_Query = Select[Export, str, str | None, str]


def _filtered(where: ExportFilter) -> _Query:
    query = (
        select(Export, User.username, User.display_name, Complaint.number)
        .join(User, User.id == Export.created_by)
        .outerjoin(Complaint, Complaint.id == Export.complaint_id)
    )
    if where.created_by is not None:
        query = query.where(Export.created_by == where.created_by)
    if where.complaint_number is not None:
        query = query.where(Complaint.number == where.complaint_number)
    if where.start is not None:
        query = query.where(Export.created_at >= where.start)
    if where.end is not None:
        query = query.where(Export.created_at < where.end)
    return query


def list_exports(session: Session, *, where: ExportFilter, limit: int, offset: int) -> ExportPage:
    """Exports matching ``where``, newest first, with the total count."""
    base = _filtered(where)
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    rows = session.execute(
        base.order_by(Export.created_at.desc(), Export.id.desc()).limit(limit).offset(offset)
    )
    items = [
        ExportRow(export=row[0], username=row[1], display_name=row[2], complaint_number=row[3])
        for row in rows
    ]
    return ExportPage(items=items, total=total)
