"""The audit log for the auditor: the filtered list, the chain verification and the CSV export.

``GET /api/audit`` lists rows newest first with filters (user, action, resource, allowed or refused, period);
``GET /api/audit/verify`` checks the whole hash chain and its anchor (:func:`storage.audit.check_audit_chain`,
the same check as ``station audit verify``); ``GET /api/audit.csv`` streams the matching rows, oldest first,
as CSV. Reading the log is itself audited (``audit.view``, ``audit.verify``, ``audit.export``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from console.deps import Principal, SessionDep, StationDep, audit_as, require
from console.error import ApiError
from console.permission import Permission
from console.request_types import NUL_FREE, DbOffset, UtcDatetime
from console.station import Station
from storage.audit import AuditFilter, check_audit_chain, iter_audit, list_audit
from storage.model import AuditEntry, utcnow

router = APIRouter(prefix="/api", tags=["audit"])
Auditor = Annotated[Principal, require(Permission.AUDIT_VIEW)]
MAX_PAGE = 200
CSV_COLUMNS = (
    "id",
    "at",
    "user_id",
    "username",
    "source",
    "action",
    "resource_type",
    "resource_id",
    "allowed",
    "reason",
    "detail",
    "prev_hash",
    "row_hash",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class AuditEntryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    user_id: int | None
    username: str | None
    source: str | None = Field(description="the client's address, or 'cli'")
    action: str
    resource_type: str | None
    resource_id: str | None
    allowed: bool
    reason: str | None
    detail: str | None = Field(description="canonical JSON, as hashed")
    row_hash: str


class AuditPagePublic(BaseModel):
    items: list[AuditEntryPublic]
    total: int
    limit: int
    offset: int


class ChainBreakPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    entry_id: int
    message: str


class ChainReportPublic(BaseModel):
    ok: bool
    rows: int = Field(description="rows checked")
    last_id: int | None
    first_break: ChainBreakPublic | None = Field(description="the first broken row, None when intact")
    breaks: list[ChainBreakPublic]


def audit_filter(
    user: Annotated[str | None, Query(max_length=64, description="part of the user name"), NUL_FREE] = None,
    action: Annotated[
        str | None, Query(max_length=64, description="an action or its prefix (auth.)"), NUL_FREE
    ] = None,
    resource_type: Annotated[str | None, Query(max_length=32), NUL_FREE] = None,
    resource_id: Annotated[str | None, Query(max_length=128), NUL_FREE] = None,
    allowed: bool | None = None,
    start: UtcDatetime | None = None,
    end: UtcDatetime | None = None,
) -> AuditFilter:
    if start is not None and end is not None and end <= start:
        raise ApiError(422, "invalid_range", "end must be after start")
    return AuditFilter(
        username=user or None,
        action=action or None,
        resource_type=resource_type or None,
        resource_id=resource_id or None,
        allowed=allowed,
        start=start,
        end=end,
    )


FilterDep = Annotated[AuditFilter, Depends(audit_filter)]


def filter_detail(where: AuditFilter) -> dict[str, Any]:
    """The filters that were set, for the audit row of a view or an export."""
    values = {
        "user": where.username,
        "action": where.action,
        "resource_type": where.resource_type,
        "resource_id": where.resource_id,
        "allowed": where.allowed,
        "start": where.start,
        "end": where.end,
    }
    return {key: value for key, value in values.items() if value is not None}


@router.get("/audit", summary="Audit-log rows, newest first")
def get_audit(
    session: SessionDep,
    user: Auditor,
    where: FilterDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    offset: Annotated[DbOffset, Query()] = 0,
) -> AuditPagePublic:
    page = list_audit(session, where=where, limit=limit, offset=offset)
    items = [AuditEntryPublic.model_validate(entry) for entry in page.items]
    audit_as(
        session,
        user,
        action="audit.view",
        resource_type="audit_log",
        resource_id="list",
        detail={**filter_detail(where), "offset": offset, "shown": len(items)},
    )
    return AuditPagePublic(items=items, total=page.total, limit=limit, offset=offset)


@router.get("/audit/verify", summary="Verify the audit log's hash chain and its anchor")
def get_audit_verify(session: SessionDep, user: Auditor) -> ChainReportPublic:
    report = check_audit_chain(session)
    breaks = [ChainBreakPublic.model_validate(found) for found in report.breaks]
    audit_as(
        session,
        user,
        action="audit.verify",
        resource_type="audit_log",
        resource_id="chain",
        detail={
            "rows": report.rows,
            "breaks": len(breaks),
            "first_break": breaks[0].entry_id if breaks else None,
        },
    )
    return ChainReportPublic(
        ok=report.ok,
        rows=report.rows,
        last_id=report.last_id,
        first_break=breaks[0] if breaks else None,
        breaks=breaks,
    )


def csv_cell(value: object) -> str:
    """One CSV cell; text a spreadsheet would run as a formula is prefixed with an apostrophe."""
    text = "" if value is None else value.isoformat() if isinstance(value, datetime) else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_row(entry: AuditEntry) -> list[str]:
    return [csv_cell(getattr(entry, column)) for column in CSV_COLUMNS]


def csv_lines(station: Station, where: AuditFilter, *, batch: int = 500) -> Iterator[str]:
    """The CSV text in chunks, read through a session of its own (the request's has ended by then)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    with station.database.sessions() as session:
        for count, entry in enumerate(iter_audit(session, where=where, batch=batch), start=1):
            writer.writerow(csv_row(entry))
            if count % batch == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
    yield buffer.getvalue()


@router.get(
    "/audit.csv",
    summary="The matching audit-log rows as CSV, oldest first",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}},
)
def get_audit_csv(
    session: SessionDep, station: StationDep, user: Auditor, where: FilterDep
) -> StreamingResponse:
    audit_as(
        session,
        user,
        action="audit.export",
        resource_type="audit_log",
        resource_id="csv",
        detail=filter_detail(where),
    )
    session.commit()  # on record before the first byte leaves, and the write lock released for the stream
    name = f"audit-{utcnow():%Y%m%dT%H%M%SZ}.csv"
    return StreamingResponse(
        csv_lines(station, where),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )
