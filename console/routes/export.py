"""Evidence packages: build one for a complaint (``POST /api/complaints/{id}/export``) or for chosen
cameras and a range (``POST /api/exports``), and download it.

Building goes through :mod:`console.export` (media access for every camera, purpose ``export``) and runs
the cut in a worker thread. Downloading needs ``exports.create``, the package must be ready, and the
file is found only through the ``exports`` row (relative path, :func:`storage.layout.resolve_relative`).
Every download is audited (``evidence.download``); the file is offered as ``complaint-<number>-<time>.zip``
when the package is filed under a complaint (:func:`package_download_name`).

``GET /api/exports`` lists packages newest first for the exports page (``/exports``): who built each, when,
for which complaint, cameras and ranges, its state and SHA-256 fingerprint. Builders see their own by
default; ``scope=all`` lists everyone's, for the roles of
:data:`console.permission.EXPORT_LIST_ALL_PERMISSIONS`.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from anyio import to_thread
from fastapi import APIRouter, BackgroundTasks, Query, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from console.deps import (
    CurrentUser,
    Principal,
    SessionDep,
    StationDep,
    audit_as,
    audit_route_denied,
    require,
    role_name,
)
from console.error import ApiError
from console.export import (
    MAX_EXPORT_CAMERAS,
    ExportPlan,
    exports_dir,
    fingerprint_export,
    plan_complaint_export,
    plan_range_export,
    run_export,
)
from console.i18n import Message
from console.permission import EXPORT_LIST_ALL_PERMISSIONS, EXPORT_LIST_PERMISSIONS, Permission
from console.request_types import NUL_FREE, DbId, DbOffset, UtcDatetime
from console.response_types import IsoDatetime
from storage.complaint import get_complaint
from storage.export import (
    ExportError,
    ExportRangeError,
    InvalidCameraIdError,
    NoFootageError,
    SegmentChangedError,
    UnknownCameraError,
    check_export_range,
)
from storage.export_list import ExportFilter, ExportRow, list_exports
from storage.layout import SegmentPathError, resolve_relative
from storage.model import Complaint, Export, utcnow

router = APIRouter(tags=["exports"])
Exporter = Annotated[Principal, require(Permission.EXPORTS_CREATE)]
NO_FOOTAGE_ATTACHED = "camera {camera} recorded nothing in the attached time range"
NO_FOOTAGE_IN_RANGE = "camera {camera} recorded nothing in the requested time range"
MAX_PAGE = 200
_UNSAFE_IN_NAME = re.compile(r"[^A-Za-z0-9_-]+")


class ExportCreated(BaseModel):
    """A package that was built."""

    export_id: int
    sha256: str | None = Field(
        description="SHA-256 of the package file: null in this answer; GET url shows it a moment later"
    )
    bytes: int
    url: str = Field(description="this package's state: GET it")
    download_url: str
    gaps: dict[str, list[str]] = Field(description="per camera, the spans of the range with no recording")


class ExportState(BaseModel):
    """A package's state and fingerprint."""

    export_id: int
    status: str = Field(description="pending, ready, failed or expired")
    created_at: IsoDatetime
    complaint_id: int | None
    reason: str
    bytes: int | None
    sha256: str | None = Field(description="SHA-256 of the package file once it is known")
    download_url: str | None = Field(description="set while the package is ready")


class ExportCreate(BaseModel):
    reason: str | None = Field(default=None, max_length=500)


class RangeExportCreate(BaseModel):
    cameras: list[str] = Field(
        min_length=1, max_length=MAX_EXPORT_CAMERAS, description="camera ids, one clip each"
    )
    start: UtcDatetime
    end: UtcDatetime
    reason: str | None = Field(default=None, max_length=500, description="why (required without complaint)")
    complaint: str | None = Field(
        default=None, max_length=32, description="complaint number to file the package under"
    )


def export_failure(exc: ExportError) -> Message:
    """What the officer reads when the export job refuses (the job's English text goes in ``cause``)."""
    if isinstance(exc, SegmentChangedError):
        return Message(
            "recorded segment {path} does not match the index; the package was not built", path=exc.path
        )
    if isinstance(exc, UnknownCameraError | InvalidCameraIdError):
        return Message("an attached camera is not known to this station")
    if isinstance(exc, ExportRangeError):
        return Message("the attached time range cannot be exported")
    return Message("the evidence package could not be built")


@router.post("/api/complaints/{complaint_id}/export", status_code=201, summary="Build the evidence package")
async def post_complaint_export(
    complaint_id: DbId, body: ExportCreate, station: StationDep, user: Exporter, background: BackgroundTasks
) -> ExportCreated:
    def plan() -> Any:
        with station.database.session() as session:
            complaint = get_complaint(session, complaint_id=complaint_id)
            return plan_complaint_export(session, station, user, complaint, body.reason)

    export_plan = await to_thread.run_sync(plan)
    return await _build(station, user, export_plan, NO_FOOTAGE_ATTACHED, background)


@router.post("/api/exports", status_code=201, summary="Build an evidence package of cameras and a range")
async def post_range_export(
    body: RangeExportCreate, station: StationDep, user: Exporter, background: BackgroundTasks
) -> ExportCreated:
    cameras = tuple(body.cameras)
    if len(set(cameras)) != len(cameras):
        raise ApiError(422, "camera_twice", "a camera is listed twice")
    try:
        start, end = check_export_range(body.start, body.end, now=utcnow())
    except ExportRangeError as exc:
        raise ApiError(422, "invalid_range", _range_message(body.start, body.end), cause=str(exc)) from exc

    def plan() -> ExportPlan:
        with station.database.session() as session:
            return plan_range_export(
                session,
                station,
                user,
                camera_ids=cameras,
                start_utc=start,
                end_utc=end,
                reason=body.reason,
                complaint_number=body.complaint,
            )

    export_plan = await to_thread.run_sync(plan)
    return await _build(station, user, export_plan, NO_FOOTAGE_IN_RANGE, background)


def _range_message(start: datetime, end: datetime) -> Message:
    if end <= start:
        return Message("end must be after start")
    if start > utcnow():
        return Message("the range starts in the future")
    return Message("the range cannot be exported (in the future, or longer than 72 hours: split it)")


async def _build(
    station: StationDep,
    user: Principal,
    export_plan: ExportPlan,
    no_footage: str,
    background: BackgroundTasks,
) -> ExportCreated:
    """Build the package and answer; its file's SHA-256 follows as a background task (``sha256`` is null in
    the answer and appears on ``GET /api/exports/{id}`` and in the audit log a moment later)."""
    try:
        outcome = await to_thread.run_sync(run_export, station, user, export_plan)
    except NoFootageError as exc:
        raise ApiError(
            409,
            "no_footage",
            no_footage,
            params={"camera": exc.camera_id},
            cause=str(exc),
            extra={"gaps": [g.describe() for g in exc.gaps]},
        ) from exc
    except ExportError as exc:  # range, camera or changed-segment errors
        raise ApiError(422, "export_failed", export_failure(exc), cause=str(exc)) from exc
    background.add_task(fingerprint_export, station, user, outcome.export_id, outcome.package.path)
    return ExportCreated(
        export_id=outcome.export_id,
        sha256=outcome.package.sha256,
        bytes=outcome.package.size,
        url=f"/api/exports/{outcome.export_id}",
        download_url=f"/api/exports/{outcome.export_id}/download",
        gaps={camera: [g.describe() for g in gaps] for camera, gaps in outcome.gaps.items()},
    )


@router.get("/api/exports/{export_id}", summary="An evidence package's state and fingerprint")
def get_export(export_id: DbId, session: SessionDep, user: Exporter) -> ExportState:
    export = session.get(Export, export_id)
    if export is None:
        raise ApiError(
            404, "export_not_found", "no evidence package {export_id}", params={"export_id": export_id}
        )
    return ExportState(
        export_id=export.id,
        status=export.status,
        created_at=export.created_at,
        complaint_id=export.complaint_id,
        reason=export.reason,
        bytes=export.bytes,
        sha256=export.sha256 or None,
        download_url=f"/api/exports/{export.id}/download" if export.status == "ready" else None,
    )


@router.get("/api/exports/{export_id}/download", summary="Download a ready evidence package (ZIP)")
def get_export_download(
    export_id: DbId, session: SessionDep, station: StationDep, user: Exporter
) -> FileResponse:
    export = session.get(Export, export_id)
    if export is None or export.status != "ready" or not export.path:
        raise ApiError(
            404, "export_not_found", "no ready evidence package {export_id}", params={"export_id": export_id}
        )
    try:
        path = resolve_relative(exports_dir(station), export.path)
    except SegmentPathError as exc:
        raise ApiError(
            404,
            "export_not_found",
            "evidence package {export_id} is not available",
            params={"export_id": export_id},
        ) from exc
    if not path.is_file():
        raise ApiError(
            404,
            "export_missing",
            "the file of evidence package {export_id} is missing",
            params={"export_id": export_id},
        )
    sha256 = export.sha256
    if not sha256:  # its background fingerprint never ran (the station stopped right after the export)
        sha256 = fingerprint_export(station, user, export.id, path)
    audit_as(
        session,
        user,
        action="evidence.download",
        resource_type="export",
        resource_id=str(export_id),
        detail={"sha256": sha256, "complaint_id": export.complaint_id},
    )
    complaint = session.get(Complaint, export.complaint_id) if export.complaint_id else None
    name = package_download_name(complaint.number if complaint else None, export.created_at, path.name)
    return FileResponse(path, media_type="application/zip", filename=name)


def package_download_name(complaint_number: str | None, created_at: datetime, file_name: str) -> str:
    """The name a downloaded package is offered under (pure): ``complaint-<number>-<UTC time>.zip`` when it
    is filed under a complaint, else its file's own name. Only ``A-Z a-z 0-9 _ -`` survive from the number,
    so the name is safe on every file system."""
    safe = _UNSAFE_IN_NAME.sub("-", complaint_number or "").strip("-")[:32]
    if not safe:
        return file_name
    return f"complaint-{safe}-{created_at:%Y%m%dT%H%M%SZ}.zip"


class ExportClipPublic(BaseModel):
    camera: str
    start: datetime | None
    end: datetime | None


class ExportPublic(BaseModel):
    export_id: int
    created_at: datetime = Field(description="when it was built (UTC)")
    created_by: str = Field(description="display name of the user who built it")
    username: str
    complaint_id: int | None
    complaint_number: str | None
    reason: str
    clips: list[ExportClipPublic] = Field(description="cameras and requested ranges (empty once failed)")
    status: str = Field(description="pending, ready, failed or expired")
    bytes: int | None
    sha256: str | None = Field(description="SHA-256 of the package file")
    expires_at: datetime | None = Field(description="when a ready package's file is deleted (UTC)")
    download_url: str | None


class ExportPagePublic(BaseModel):
    items: list[ExportPublic]
    total: int
    limit: int
    offset: int
    scope: Literal["mine", "all"]


def manifest_clips(manifest: str | None) -> list[ExportClipPublic]:
    """The cameras and requested ranges of a package's manifest; empty when there is none or it is not
    readable as expected."""
    try:
        clips = json.loads(manifest or "{}").get("clips") or []
        return [
            ExportClipPublic(
                camera=str(clip["camera"]["id"]),
                start=clip.get("requested", {}).get("start_utc"),
                end=clip.get("requested", {}).get("end_utc"),
            )
            for clip in clips
        ]
    except (ValueError, TypeError, KeyError, AttributeError):
        return []


def _export_public(row: ExportRow, retention: timedelta, can_download: bool) -> ExportPublic:
    export = row.export
    ready = export.status == "ready"
    return ExportPublic(
        export_id=export.id,
        created_at=export.created_at,
        created_by=row.display_name or row.username,
        username=row.username,
        complaint_id=export.complaint_id,
        complaint_number=row.complaint_number,
        reason=export.reason,
        clips=manifest_clips(export.manifest),
        status=export.status,
        bytes=export.bytes,
        sha256=export.sha256 or None,
        expires_at=export.created_at + retention if ready else None,
        download_url=f"/api/exports/{export.id}/download" if ready and can_download else None,
    )


@router.get("/api/exports", summary="Evidence packages, newest first")
def list_export_packages(
    request: Request,
    session: SessionDep,
    station: StationDep,
    user: CurrentUser,
    scope: Literal["mine", "all"] = "mine",
    complaint: Annotated[str | None, Query(max_length=32, description="complaint number"), NUL_FREE] = None,
    start: UtcDatetime | None = None,
    end: UtcDatetime | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    offset: Annotated[DbOffset, Query()] = 0,
) -> ExportPagePublic:
    wanted = EXPORT_LIST_ALL_PERMISSIONS if scope == "all" else EXPORT_LIST_PERMISSIONS
    if not wanted & user.permissions:
        audit_route_denied(session, request, user, f"may not list evidence packages (scope {scope})")
        raise ApiError(
            403,
            "forbidden",
            "the {role} role may not list these evidence packages",
            params={"role": role_name(user.role)},
        )
    if start is not None and end is not None and end <= start:
        raise ApiError(422, "invalid_range", "end must be after start")
    where = ExportFilter(
        created_by=user.user_id if scope == "mine" else None,
        complaint_number=complaint.strip() if complaint and complaint.strip() else None,
        start=start,
        end=end,
    )
    page = list_exports(session, where=where, limit=limit, offset=offset)
    retention = timedelta(days=station.settings.config.console.export_retention_days)
    can_download = user.can(Permission.EXPORTS_CREATE)
    items = [_export_public(row, retention, can_download) for row in page.items]
    return ExportPagePublic(items=items, total=page.total, limit=limit, offset=offset, scope=scope)
