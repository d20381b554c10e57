"""Mirror the configured cameras into the ``cameras`` table, which segments, events and evidence reference.

Rows are never deleted: a camera taken out of the config keeps its row (``in_config=False``) so its footage,
events and evidence stay attributable. Putting it back in the config revives the same row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from config.schema import CameraConfig
from storage.lock import active_locks
from storage.model import Camera, Complaint, ComplaintEvidence, ComplaintStatus, Segment


@dataclass(frozen=True, slots=True)
class CameraSync:
    """What :func:`sync_cameras` changed, by camera id."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def camera_values(camera: CameraConfig) -> dict[str, object]:
    """The columns of a ``cameras`` row that come from the config."""
    location = camera.location
    return {
        "name": camera.name,
        "building": location.building,
        "entrance": location.entrance,
        "floor": location.floor,
        "area": location.area,
        "enabled": camera.enabled,
        "in_config": True,
    }


def sync_cameras(session: Session, cameras: Sequence[CameraConfig]) -> CameraSync:
    """Insert new cameras, update changed ones, mark missing ones ``in_config=False``. The caller commits."""
    ids = [camera.id for camera in cameras]
    if len(set(ids)) != len(ids):
        raise ValueError("camera ids must be unique")
    existing = {row.id: row for row in session.scalars(select(Camera)).all()}
    result = CameraSync()
    for camera in cameras:
        values = camera_values(camera)
        row = existing.get(camera.id)
        if row is None:
            session.add(Camera(id=camera.id, **values))
            result.added.append(camera.id)
            continue
        changed = {key: value for key, value in values.items() if getattr(row, key) != value}
        for key, value in changed.items():
            setattr(row, key, value)
        (result.updated if changed else result.unchanged).append(camera.id)
    configured = set(ids)
    for camera_id, row in sorted(existing.items()):
        if camera_id not in configured and row.in_config:
            row.in_config = False
            result.removed.append(camera_id)
    session.flush()
    return result


@dataclass(frozen=True, slots=True)
class CameraRecords:
    """What the station keeps of a camera, whether or not it stays in the config: shown before an admin
    removes it (nothing of it is deleted; retention and evidence locks apply as before)."""

    segments: int
    active_locks: int
    open_complaints: int


def camera_records(session: Session, *, camera_id: str, now: datetime) -> CameraRecords:
    """Count ``camera_id``'s indexed segments, its evidence locks in force at ``now`` and the open complaints
    (new or in progress) with footage of it attached."""
    segments = session.scalar(select(func.count()).select_from(Segment).where(Segment.camera_id == camera_id))
    complaints = session.scalar(
        select(func.count(func.distinct(Complaint.id)))
        .join(ComplaintEvidence, ComplaintEvidence.complaint_id == Complaint.id)
        .where(
            ComplaintEvidence.camera_id == camera_id,
            Complaint.status.in_((ComplaintStatus.NEW.value, ComplaintStatus.IN_PROGRESS.value)),
        )
    )
    return CameraRecords(
        segments=segments or 0,
        active_locks=len(active_locks(session, now=now, camera_id=camera_id)),
        open_complaints=complaints or 0,
    )
