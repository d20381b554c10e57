"""Evidence packages of a complaint: what the console asks of :func:`streams.export_job.export_evidence`.

One package per request covers every camera attached to the complaint over the union of the attached
ranges (the export job cuts one range for all its cameras). Before anything is cut, every camera passes
:func:`console.media_access.check_media_access` with purpose ``export`` (``exports.create``, reason
required: the complaint number is always given, plus the user's own reason when there is one). The job
itself writes the ``exports`` row and the ``evidence.export`` audit entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from console.deps import Principal
from console.media_access import MediaPolicy, MediaPurpose, MediaRequest, check_media_access
from console.station import Station
from storage.complaint import list_evidence
from storage.model import Complaint
from storage.signing import ensure_station_key
from streams.export_job import ExportOutcome, ExportRequest, export_evidence


class NothingToExportError(LookupError):
    """The complaint has no attached footage."""


@dataclass(frozen=True, slots=True)
class ComplaintExportPlan:
    camera_ids: tuple[str, ...]
    start_utc: datetime
    end_utc: datetime
    reason: str


def exports_dir(station: Station) -> Path:
    return station.settings.data_dir / "exports"


def plan_complaint_export(
    session: Session, station: Station, principal: Principal, complaint: Complaint, reason: str | None
) -> ComplaintExportPlan:
    """Check access for every attached camera and return what to export (raises ApiError when refused)."""
    attached = [item.evidence for item in list_evidence(session, complaint_id=complaint.id)]
    if not attached:
        raise NothingToExportError(f"complaint {complaint.number} has no attached footage")
    start = min(e.start_utc for e in attached)
    end = max(e.end_utc for e in attached)
    cameras = tuple(sorted({e.camera_id for e in attached}))
    full_reason = f"complaint {complaint.number}" + (
        f": {reason.strip()}" if reason and reason.strip() else ""
    )
    policy = MediaPolicy.of(station.settings.config.console)
    for camera_id in cameras:
        check_media_access(
            session,
            principal,
            MediaRequest(
                camera_id=camera_id,
                start_utc=start,
                end_utc=end,
                purpose=MediaPurpose.EXPORT,
                reason=full_reason,
                complaint_number=complaint.number,
            ),
            policy=policy,
        )
    return ComplaintExportPlan(camera_ids=cameras, start_utc=start, end_utc=end, reason=full_reason)


def run_complaint_export(
    station: Station, principal: Principal, complaint_id: int, plan: ComplaintExportPlan
) -> ExportOutcome:
    """Cut and sign the package (blocking: call it in a worker thread)."""
    data_dir = station.settings.data_dir
    return export_evidence(
        station.database,
        station=station.settings.config.station,
        key=ensure_station_key(data_dir),
        request=ExportRequest(
            camera_ids=plan.camera_ids,
            start_utc=plan.start_utc,
            end_utc=plan.end_utc,
            user_id=principal.user_id,
            username=principal.username,
            reason=plan.reason,
            complaint_id=complaint_id,
            source=principal.source,
        ),
        recordings_dir=station.settings.recordings_dir,
        exports_dir=exports_dir(station),
    )
