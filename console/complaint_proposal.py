"""Camera and footage proposals for a complaint: the cameras that cover its place (pure matching in
:mod:`console.complaint`) and, per camera, the footage in the incident window (spans, gaps, segments,
events) only where the media-access rule lets the user see it (purpose ``timeline``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from console import complaint as rules
from console.complaint_schema import ComplaintProposals
from console.deps import Principal
from console.media_access import MediaPolicy, MediaPurpose, MediaRequest, media_decision
from storage.complaint import Attached, finished_segments, list_evidence
from storage.model import Camera, Complaint
from storage.timeline import camera_holes, events_overlapping, recorded_spans

MAX_PROPOSED_SEGMENTS: Final = 500
MAX_PROPOSED_EVENTS: Final = 200


def proposal_window(complaint: Complaint, now: datetime, margin: timedelta) -> tuple[datetime, datetime]:
    """The incident window widened by ``margin``, never past now (pure)."""
    return complaint.incident_start - margin, min(
        complaint.incident_end + margin, max(now, complaint.incident_end)
    )


def camera_places(session: Session) -> list[rules.CameraPlace]:
    return [
        rules.CameraPlace(
            camera_id=c.id,
            name=c.name,
            building=c.building,
            entrance=c.entrance,
            area=c.area,
            enabled=c.enabled,
        )
        for c in session.scalars(select(Camera).order_by(Camera.id))
        if c.in_config
    ]


def _footage(
    session: Session, camera_id: str, start: datetime, end: datetime, now: datetime
) -> dict[str, Any]:
    spans = recorded_spans(session, camera_id=camera_id, start_utc=start, end_utc=end)
    holes = camera_holes(session, camera_id=camera_id, spans=spans, start_utc=start, end_utc=end, now=now)
    segments = finished_segments(
        session, camera_id=camera_id, start_utc=start, end_utc=end, limit=MAX_PROPOSED_SEGMENTS
    )
    events = events_overlapping(
        session, camera_id=camera_id, start_utc=start, end_utc=end, limit=MAX_PROPOSED_EVENTS
    )
    return {
        "footage_hidden": None,
        "recorded_s": sum((s.end_utc - s.start_utc).total_seconds() for s in spans),
        "spans": [{"start": s.start_utc, "end": s.end_utc, "segments": s.segments} for s in spans],
        "gaps": [
            {"start": h.start_utc, "end": h.end_utc, "reasons": list(h.reasons), "open": h.open}
            for h in holes
        ],
        "segments": [{"id": sid, "start": s, "end": e} for sid, s, e in segments],
        "events": [
            {"id": ev.id, "kind": ev.kind, "start": ev.start_utc, "end": ev.end_utc, "review": ev.review}
            for ev in events
        ],
    }


def _entry(proposal: rules.CameraProposal, attached: Sequence[Attached]) -> dict[str, Any]:
    camera = proposal.camera
    return {
        "camera_id": camera.camera_id,
        "name": camera.name,
        "building": camera.building,
        "entrance": camera.entrance,
        "area": camera.area,
        "enabled": camera.enabled,
        "match": proposal.match,
        "score": proposal.score,
        "attached": [
            {"id": a.evidence.id, "start": a.evidence.start_utc, "end": a.evidence.end_utc}
            for a in attached
            if a.evidence.camera_id == camera.camera_id
        ],
    }


def propose_footage(
    session: Session,
    complaint: Complaint,
    user: Principal,
    *,
    policy: MediaPolicy,
    now: datetime,
    margin: timedelta,
) -> ComplaintProposals:
    start, end = proposal_window(complaint, now, margin)
    place = rules.Place(building=complaint.building, entrance=complaint.entrance, area=complaint.area)
    attached = list_evidence(session, complaint_id=complaint.id)
    result = []
    for proposal in rules.propose_cameras(place, camera_places(session)):
        entry = _entry(proposal, attached)
        request = MediaRequest(
            camera_id=proposal.camera.camera_id, start_utc=start, end_utc=end, purpose=MediaPurpose.TIMELINE
        )
        decision, _ = media_decision(session, user, request, policy=policy, now=now)
        if decision.allowed:
            entry |= _footage(session, proposal.camera.camera_id, start, end, now)
        else:
            entry |= {"footage_hidden": decision.code, "recorded_s": 0.0}
            entry |= {"spans": [], "gaps": [], "segments": [], "events": []}
        result.append(entry)
    return ComplaintProposals.model_validate(
        {"complaint": complaint.number, "window": {"start": start, "end": end}, "cameras": result}
    )
