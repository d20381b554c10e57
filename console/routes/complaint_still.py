"""Still frames attached to a complaint: ``POST /api/complaints/{id}/stills`` extracts, on the station, the
frame a camera's recording shows at an instant (:mod:`console.still_frame`, PyAV) and stores it as JPEG with
its SHA-256 (:mod:`storage.still`); ``GET .../stills/{still_id}`` serves it.

Who may attach a still follows the rules for attaching footage (:mod:`console.complaint`): an editor of an
open complaint; officers only around the reported incident and within their own playback horizon (older
footage is attached by a supervisor). Refusals of the user's right are audited, and so is every still
attached (``complaint.still_attach``: camera, instant, frame time, the JPEG's and the segment file's
hashes) and every still served (``complaint.still_view``). The frame is decoded from the recorded file,
never taken from the browser, so the hash proves what the station recorded.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from console import complaint as rules
from console.complaint_access import Editor, Reader, audit_complaint, refuse_change
from console.complaint_presenter import present_still, user_names
from console.complaint_schema import StillPublic
from console.deps import Principal, SessionDep, StationDep
from console.error import ApiError
from console.permission import Permission
from console.request_types import DbId, UtcDatetime
from console.station import Station
from console.still_frame import DecodedStill, StillError, decode_still, decode_still_bytes
from storage.complaint import get_complaint
from storage.layout import SegmentPathError, resolve_relative
from storage.model import Camera, Complaint, Segment, SegmentStatus, utcnow
from storage.segment import FINISHED_STATUSES, find_segment, segments_overlapping
from storage.still import (
    StillFrame,
    StillNotFoundError,
    StillPathError,
    add_still,
    get_still,
    resolve_still,
    still_relative_path,
    write_still_file,
)
from streams.live_segment import LiveFootage, open_footage

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api/complaints", tags=["complaints"])

#: The instant is one frame wide for the range rules (officer's incident window, horizon).
FRAME_SPAN = timedelta(milliseconds=1)


class StillCreate(BaseModel):
    camera_id: str = Field(min_length=1, max_length=32)
    at: UtcDatetime = Field(description="the instant whose frame is wanted (aware ISO 8601)")


def stills_root(station: Station) -> Path:
    return station.settings.data_dir / "stills"


def _check_right(
    session: Session, complaint: Complaint, body: StillCreate, user: Principal, station: Station
) -> Camera:
    """The refusals an attach of footage has, for the one instant of the still."""
    now = utcnow()
    if rules.is_closed(complaint.status):
        raise ApiError(409, "complaint_closed", "reopen the complaint before attaching footage")
    if body.at > now:
        raise ApiError(422, "still_in_future", "there is no footage yet at this time: it lies in the future")
    camera = session.get(Camera, body.camera_id)
    if camera is None:
        raise ApiError(
            422, "unknown_camera", "no camera {camera} on this station", params={"camera": body.camera_id}
        )
    attempt = {"camera": camera.id, "at": body.at.isoformat()}
    if not rules.may_attach_range(
        user.permissions,
        incident_start=complaint.incident_start,
        incident_end=complaint.incident_end,
        start_utc=body.at,
        end_utc=body.at + FRAME_SPAN,
    ):
        error = ApiError(
            403,
            "outside_incident_window",
            "officers attach footage within {hours} hour(s) of the reported incident; "
            "ask an investigator otherwise",
            params={"hours": int(rules.ATTACH_MARGIN.total_seconds() // 3600)},
        )
        raise refuse_change(session, user, "complaint.still_attach", complaint, error, **attempt)
    horizon_days = station.settings.config.console.officer_recording_days
    if rules.attach_needs_supervisor(user.permissions, start_utc=body.at, now=now, horizon_days=horizon_days):
        error = ApiError(
            403,
            "attach_needs_supervisor",
            "footage older than {days} day(s) is attached by a supervisor: attaching it would widen "
            "your own access to recordings",
            params={"days": horizon_days},
        )
        raise refuse_change(session, user, "complaint.still_attach", complaint, error, **attempt)
    return camera


def _no_footage(camera_id: str) -> ApiError:
    return ApiError(
        422,
        "no_recording_at",
        "camera {camera} recorded nothing at this time: there is no frame to attach",
        params={"camera": camera_id},
    )


def _source_at(
    session: Session, station: Station, camera_id: str, at: datetime
) -> tuple[Segment, LiveFootage | None]:
    """The segment holding ``at``: the file a recorder still writes, when its readable footage reaches
    there (its row's end lags), else a closed file. The live footage is looked up before the query, so a
    file closed in between is found closed."""
    for footage in station.recording.live_footage(camera_id):
        if footage.start_utc <= at < footage.end_utc:
            row = find_segment(session, path=footage.relative_path)
            if row is not None and row.status == SegmentStatus.OPEN.value:
                return row, footage
    closed = [
        s
        for s in segments_overlapping(session, camera_id=camera_id, start_utc=at, end_utc=at + FRAME_SPAN)
        if s.status in FINISHED_STATUSES
    ]
    if not closed:
        raise _no_footage(camera_id)
    return closed[-1], None


def _decode_at(
    station: Station, segment: Segment, footage: LiveFootage | None, at: datetime
) -> tuple[DecodedStill, str | None]:
    """The frame of ``segment`` at ``at``, from the readable part of the file its recorder still writes or
    from its closed file; with the closed file's hash (None for a file being written)."""
    offset_s = (at - segment.start_utc).total_seconds()
    if footage is not None:
        with open_footage(footage) as handle:
            data = handle.read(footage.bytes)
        return decode_still_bytes(data, offset_s=offset_s), None
    try:
        path = resolve_relative(station.settings.recordings_dir, segment.path)
    except SegmentPathError as exc:
        logger.error("%s: segment %d has an unsafe stored path: %s", segment.camera_id, segment.id, exc)
        raise _no_footage(segment.camera_id) from exc
    if not path.is_file():
        raise _no_footage(segment.camera_id)
    return decode_still(path, offset_s=offset_s), segment.sha256


def _extract(session: Session, station: Station, camera_id: str, at: datetime) -> StillFrame:
    segment, footage = _source_at(session, station, camera_id, at)
    try:
        decoded, source_sha256 = _decode_at(station, segment, footage, at)
    except (StillError, FileNotFoundError) as exc:
        raise ApiError(
            422,
            "still_failed",
            "no still can be made from camera {camera}'s footage at this time",
            params={"camera": camera_id},
            cause=str(exc),
        ) from exc
    return StillFrame(
        camera_id=camera_id,
        requested_utc=at,
        frame_utc=segment.start_utc + timedelta(seconds=decoded.offset_s),
        jpeg=decoded.jpeg,
        sha256=decoded.sha256,
        width=decoded.width,
        height=decoded.height,
        source_sha256=source_sha256,
    )


@router.post(
    "/{complaint_id}/stills",
    status_code=201,
    summary="Attach a still of a camera's recorded frame at an instant (extracted on the station, hashed)",
)
def post_still(
    complaint_id: DbId, body: StillCreate, session: SessionDep, station: StationDep, user: Editor
) -> StillPublic:
    complaint = get_complaint(session, complaint_id=complaint_id)
    camera = _check_right(session, complaint, body, user, station)
    frame = _extract(session, station, camera.id, body.at)
    relative = still_relative_path(complaint.number, frame.sha256)
    write_still_file(stills_root(station), relative, frame.jpeg)
    still = add_still(
        session,
        complaint=complaint,
        frame=frame,
        path=relative,
        user_id=user.user_id,
        now=utcnow(),
        actor_name=user.label,
    )
    audit_complaint(
        session,
        user,
        "complaint.still_attach",
        complaint,
        still_id=still.id,
        camera=camera.id,
        at=body.at.isoformat(),
        frame_at=frame.frame_utc.isoformat(),
        sha256=frame.sha256,
        source_sha256=frame.source_sha256,
    )
    return present_still(still, user_names(session, {still.added_by}))


@router.get(
    "/{complaint_id}/stills/{still_id}",
    summary="The JPEG of an attached still (its SHA-256 in the X-Content-SHA256 header)",
    response_class=Response,
)
def get_still_image(
    complaint_id: DbId, still_id: DbId, session: SessionDep, station: StationDep, user: Reader
) -> Response:
    complaint = get_complaint(session, complaint_id=complaint_id)
    if not ({Permission.COMPLAINTS_EDIT, Permission.RECORDINGS_VIEW} & frozenset(user.permissions)):
        raise ApiError(403, "forbidden", "your role may not see footage attached to complaints")
    try:
        still = get_still(session, complaint=complaint, still_id=still_id)
        data = resolve_still(stills_root(station), still.path).read_bytes()
    except (StillNotFoundError, StillPathError, FileNotFoundError) as exc:
        raise ApiError(
            404, "still_not_found", "no still {still_id} on this complaint", params={"still_id": still_id}
        ) from exc
    audit_complaint(session, user, "complaint.still_view", complaint, still_id=still.id, sha256=still.sha256)
    return Response(
        data,
        media_type="image/jpeg",
        headers={"Cache-Control": "private, no-store", "X-Content-SHA256": still.sha256},
    )
