"""Still frames attached to complaints: where their JPEG files live, their rows, and their history entry.

Layout::

    STILLS_ROOT/<complaint number>/<sha256>.jpg

The stills root is outside the recordings tree, so retention never plans a still for deletion. A file is
written atomically (temp file then rename) before its row is added; its name is its content's SHA-256, so
the same frame attached twice is one file.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.complaint import add_history
from storage.model import Complaint, ComplaintStill

_NUMBER = re.compile(r"^[0-9A-Za-z][0-9A-Za-z-]{0,31}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class StillNotFoundError(LookupError):
    """No still with this id on this complaint."""


class StillPathError(ValueError):
    """A complaint number or hash that cannot name a still file."""


@dataclass(frozen=True, slots=True)
class StillFrame:
    """One extracted frame, ready to store: JPEG bytes and what they show."""

    camera_id: str
    requested_utc: datetime
    frame_utc: datetime
    jpeg: bytes
    sha256: str
    width: int
    height: int
    source_sha256: str | None


def still_relative_path(number: str, sha256: str) -> str:
    """``<number>/<sha256>.jpg`` (pure); refuses anything that is not a plain number or hash."""
    if not _NUMBER.fullmatch(number) or not _SHA256.fullmatch(sha256):
        raise StillPathError(f"no still path for complaint {number!r} and hash {sha256!r}")
    return f"{number}/{sha256}.jpg"


def resolve_still(root: Path, relative: str) -> Path:
    """``root / relative`` for a stored still path, refusing anything that would leave ``root``."""
    parts = relative.split("/")
    if len(parts) != 2 or not _NUMBER.fullmatch(parts[0]) or not re.fullmatch(r"[0-9a-f]{64}\.jpg", parts[1]):
        raise StillPathError(f"stored still path {relative!r} is not a still path")
    return root.joinpath(*parts)


def write_still_file(root: Path, relative: str, data: bytes) -> Path:
    """Write ``data`` at ``relative`` under ``root`` atomically; returns the path."""
    target = resolve_still(root, relative)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        Path(temp).replace(target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return target


def add_still(
    session: Session,
    *,
    complaint: Complaint,
    frame: StillFrame,
    path: str,
    user_id: int,
    now: datetime,
    actor_name: str | None = None,
) -> ComplaintStill:
    """The still's row and its history entry (``still_attached`` with camera, frame time and hash)."""
    still = ComplaintStill(
        complaint_id=complaint.id,
        camera_id=frame.camera_id,
        requested_utc=frame.requested_utc,
        frame_utc=frame.frame_utc,
        path=path,
        sha256=frame.sha256,
        bytes=len(frame.jpeg),
        width=frame.width,
        height=frame.height,
        source_sha256=frame.source_sha256,
        added_by=user_id,
        added_at=now,
    )
    session.add(still)
    complaint.updated_at = now
    session.flush()
    add_history(
        session,
        complaint=complaint,
        action="still_attached",
        at=now,
        user_id=user_id,
        actor_name=actor_name,
        detail={"camera": frame.camera_id, "at": frame.frame_utc.isoformat(), "sha256": frame.sha256},
    )
    return still


def list_stills(session: Session, *, complaint_id: int) -> Sequence[ComplaintStill]:
    query = select(ComplaintStill).where(ComplaintStill.complaint_id == complaint_id)
    return session.scalars(query.order_by(ComplaintStill.frame_utc, ComplaintStill.id)).all()


def get_still(session: Session, *, complaint: Complaint, still_id: int) -> ComplaintStill:
    still = session.get(ComplaintStill, still_id)
    if still is None or still.complaint_id != complaint.id:
        raise StillNotFoundError(f"no still {still_id} on complaint {complaint.number}")
    return still
