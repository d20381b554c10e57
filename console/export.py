"""Evidence packages: what the console asks of :func:`streams.export_job.export_evidence`.

Two ways in, one plan shape (:class:`ExportPlan`):

- a complaint's package (:func:`plan_complaint_export`) holds one clip per camera and stretch of attached
  footage (:func:`plan_evidence_clips`: overlapping attachments of a camera merge, separate ones stay
  separate, so two attachments hours apart are two short clips, not hours of video);
- an investigator's package of chosen cameras and one range (:func:`plan_range_export`), optionally filed
  under a complaint number.

Before anything is cut, every camera and range passes :func:`console.media_access.check_media_access` with
purpose ``export`` (``exports.create``, reason required: the complaint number, the user's own reason, or
both). The job itself writes the ``exports`` row and the ``evidence.export`` audit entry.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from console.deps import Principal
from console.error import ApiError
from console.export_error import NothingToExportError as NothingToExportError  # re-exported
from console.export_retention import check_package_quota
from console.export_retention import exports_dir as exports_dir  # re-exported for routes
from console.media_access import MediaPolicy, MediaPurpose, MediaRequest, check_media_access
from console.station import Station
from storage.complaint import find_complaint_by_number, list_evidence
from storage.model import Complaint
from storage.signing import ensure_station_key
from streams.export_job import ExportOutcome, ExportRequest, export_evidence, fingerprint_package

logger = logging.getLogger(__name__)
MAX_EXPORT_CAMERAS = 16


@dataclass(frozen=True, slots=True)
class ExportPlan:
    camera_ids: tuple[str, ...]
    start_utc: datetime
    end_utc: datetime
    reason: str
    complaint_id: int | None = None
    clip_ranges: tuple[tuple[str, datetime, datetime], ...] = ()  # empty: every camera over start..end


def plan_evidence_clips(
    ranges: Sequence[tuple[str, datetime, datetime]],
) -> tuple[tuple[str, datetime, datetime], ...]:
    """One clip per camera and stretch of attached footage: overlapping or touching ranges of a camera are
    merged, separate ones stay separate (two attachments hours apart are two clips, not hours of video);
    pure."""
    merged: list[tuple[str, datetime, datetime]] = []
    for camera_id, start, end in sorted(ranges):
        if merged and merged[-1][0] == camera_id and start <= merged[-1][2]:
            merged[-1] = (camera_id, merged[-1][1], max(merged[-1][2], end))
        else:
            merged.append((camera_id, start, end))
    return tuple(merged)


def plan_complaint_export(
    session: Session, station: Station, principal: Principal, complaint: Complaint, reason: str | None
) -> ExportPlan:
    """Check access for every attached camera and return what to export (raises ApiError when refused)."""
    attached = [item.evidence for item in list_evidence(session, complaint_id=complaint.id)]
    if not attached:
        raise NothingToExportError(complaint.number)
    start = min(e.start_utc for e in attached)
    end = max(e.end_utc for e in attached)
    cameras = tuple(sorted({e.camera_id for e in attached}))
    full_reason = f"complaint {complaint.number}" + (
        f": {reason.strip()}" if reason and reason.strip() else ""
    )
    clip_ranges = plan_evidence_clips([(e.camera_id, e.start_utc, e.end_utc) for e in attached])
    _check_ranges(session, station, principal, clip_ranges, full_reason, complaint.number)
    return ExportPlan(
        camera_ids=cameras,
        start_utc=start,
        end_utc=end,
        reason=full_reason,
        complaint_id=complaint.id,
        clip_ranges=clip_ranges,
    )


def plan_range_export(
    session: Session,
    station: Station,
    principal: Principal,
    *,
    camera_ids: tuple[str, ...],
    start_utc: datetime,
    end_utc: datetime,
    reason: str | None,
    complaint_number: str | None,
) -> ExportPlan:
    """Check access for every chosen camera over one range (raises ApiError when refused).

    A complaint number, when given, must exist (media access refuses an unknown one) and files the package
    under that complaint; the reason is then "complaint N", plus the user's own words when given."""
    number = complaint_number.strip() if complaint_number else None
    own = reason.strip() if reason else ""
    full_reason = (f"complaint {number}" + (f": {own}" if own else "")) if number else own
    complaint_id = None
    ranges = [(camera_id, start_utc, end_utc) for camera_id in camera_ids]
    _check_ranges(session, station, principal, ranges, full_reason or None, number)
    if number:
        complaint = find_complaint_by_number(session, number=number)
        complaint_id = complaint.id if complaint is not None else None
    return ExportPlan(
        camera_ids=camera_ids,
        start_utc=start_utc,
        end_utc=end_utc,
        reason=full_reason,
        complaint_id=complaint_id,
    )


def _check_ranges(
    session: Session,
    station: Station,
    principal: Principal,
    ranges: Sequence[tuple[str, datetime, datetime]],
    reason: str | None,
    complaint_number: str | None,
) -> None:
    """Every camera's range is checked, so a refusal is audited for each camera it concerns (not only the
    first); the first refusal is raised."""
    policy = MediaPolicy.of(station.settings.config.console)
    refused: ApiError | None = None
    for camera_id, start, end in ranges:
        try:
            check_media_access(
                session,
                principal,
                MediaRequest(
                    camera_id=camera_id,
                    start_utc=start,
                    end_utc=end,
                    purpose=MediaPurpose.EXPORT,
                    reason=reason,
                    complaint_number=complaint_number,
                ),
                policy=policy,
            )
        except ApiError as exc:
            refused = refused or exc
    if refused is not None:
        raise refused


def run_export(station: Station, principal: Principal, plan: ExportPlan) -> ExportOutcome:
    """Cut and sign the package (blocking: call it in a worker thread). The package file's own SHA-256 is
    left to :func:`fingerprint_export`, run after the answer has gone out. Refused (409 ``export_quota``)
    while the user's packages take their quota (:mod:`console.export_retention`)."""
    check_package_quota(station, principal)
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
            complaint_id=plan.complaint_id,
            source=principal.source,
            clip_ranges=plan.clip_ranges,
        ),
        recordings_dir=station.settings.recordings_dir,
        exports_dir=exports_dir(station),
        hash_package=False,
        live=station.recording.live_footage,
    )


def fingerprint_export(station: Station, principal: Principal, export_id: int, path: Path) -> str | None:
    """SHA-256 of a finished package on its row and in the audit log (blocking): the background task after
    an export, and the first download of a package whose task never ran. None when it could not be made."""
    try:
        return fingerprint_package(
            station.database, export_id=export_id, path=path, user_id=principal.user_id
        )
    except (OSError, SQLAlchemyError, ValueError):
        logger.exception("export %d: the package could not be fingerprinted", export_id)
        return None
