"""Evidence package of a complaint: build it (``POST /api/complaints/{id}/export``) and download it.

Building goes through :mod:`console.export` (media access for every attached camera, purpose ``export``)
and runs the cut in a worker thread. Downloading needs ``exports.create``, the package must be ready, and the
file is found only through the ``exports`` row (relative path, :func:`storage.layout.resolve_relative`).
Every download is audited (``evidence.download``).
"""

from __future__ import annotations

from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from console.deps import Principal, SessionDep, StationDep, audit_as, require
from console.error import ApiError
from console.export import NothingToExportError, exports_dir, plan_complaint_export, run_complaint_export
from console.i18n import Message
from console.permission import Permission
from storage.complaint import ComplaintNotFoundError, get_complaint
from storage.export import (
    ExportError,
    ExportRangeError,
    InvalidCameraIdError,
    NoFootageError,
    SegmentChangedError,
    UnknownCameraError,
)
from storage.layout import SegmentPathError, resolve_relative
from storage.model import Export

router = APIRouter(tags=["exports"])
Exporter = Annotated[Principal, require(Permission.EXPORTS_CREATE)]


class ExportCreate(BaseModel):
    reason: str | None = Field(default=None, max_length=500)


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
    complaint_id: int, body: ExportCreate, station: StationDep, user: Exporter
) -> dict[str, Any]:
    def plan() -> Any:
        with station.database.session() as session:
            try:
                complaint = get_complaint(session, complaint_id=complaint_id)
            except ComplaintNotFoundError as exc:
                raise ApiError(
                    404,
                    "complaint_not_found",
                    "no complaint {complaint_id}",
                    params={"complaint_id": complaint_id},
                ) from exc
            try:
                return plan_complaint_export(session, station, user, complaint, body.reason)
            except NothingToExportError as exc:
                raise ApiError(
                    409,
                    "nothing_to_export",
                    "complaint {complaint} has no attached footage",
                    params={"complaint": complaint.number},
                ) from exc

    export_plan = await to_thread.run_sync(plan)
    try:
        outcome = await to_thread.run_sync(run_complaint_export, station, user, complaint_id, export_plan)
    except NoFootageError as exc:
        raise ApiError(
            409,
            "no_footage",
            "camera {camera} recorded nothing in the attached time range",
            params={"camera": exc.camera_id},
            cause=str(exc),
        ) from exc
    except ExportError as exc:  # range, camera or changed-segment errors
        raise ApiError(422, "export_failed", export_failure(exc), cause=str(exc)) from exc
    return {
        "export_id": outcome.export_id,
        "sha256": outcome.package.sha256,
        "bytes": outcome.package.size,
        "download_url": f"/api/exports/{outcome.export_id}/download",
        "gaps": {camera: [g.describe() for g in gaps] for camera, gaps in outcome.gaps.items()},
    }


@router.get("/api/exports/{export_id}/download", summary="Download a ready evidence package (ZIP)")
def get_export_download(
    export_id: int, session: SessionDep, station: StationDep, user: Exporter
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
    audit_as(
        session,
        user,
        action="evidence.download",
        resource_type="export",
        resource_id=str(export_id),
        detail={"sha256": export.sha256, "complaint_id": export.complaint_id},
    )
    return FileResponse(path, media_type="application/zip", filename=path.name)
