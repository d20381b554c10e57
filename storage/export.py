"""The database side of exporting footage: which segments cover a range, where the holes are, export rows.

Errors (each also a built-in, so callers can catch broadly)::

    ExportError
     ├── ExportRangeError(ValueError)        naive times, end <= start, window in the future, too long
     ├── InvalidCameraIdError(ValueError)    not a slug: never reaches a path
     ├── UnknownCameraError(LookupError)     no such camera in the index
     ├── NoFootageError(LookupError)         nothing recorded in the range; carries the gaps
     └── SegmentChangedError(ValueError)     a segment file no longer matches its indexed SHA-256
                                             (or is missing); the export is aborted

Pure decisions (``check_export_range``, ``plan_gaps``) are separate from the queries so they have their own
tests.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from config.schema import is_slug
from storage.model import Camera, Export, Gap, Segment, SegmentStatus

logger = logging.getLogger(__name__)

EXPORTABLE_STATUSES = (SegmentStatus.CLOSED.value, SegmentStatus.RECOVERED.value)
MAX_EXPORT_SPAN = timedelta(hours=72)
FUTURE_SKEW = timedelta(seconds=5)
GAP_TOLERANCE = timedelta(seconds=1)  # holes shorter than this between segments are recorder rounding
HASH_CHUNK_BYTES = 1 << 20


class ExportError(Exception):
    """Base of every export failure."""


class ExportRangeError(ExportError, ValueError):
    """The requested time range cannot be exported as given."""


class InvalidCameraIdError(ExportError, ValueError):
    """A camera id that is not a slug; refused before it can reach a file path."""


class UnknownCameraError(ExportError, LookupError):
    """The camera is not known to this station."""


@dataclass(frozen=True)
class FootageGap:
    """A span inside the requested range with no exportable footage."""

    start_utc: datetime
    end_utc: datetime
    reason: str | None = None  # a storage.model.GapReason value where the recorder logged one

    @property
    def seconds(self) -> float:
        return (self.end_utc - self.start_utc).total_seconds()

    def describe(self) -> str:
        why = f" ({self.reason})" if self.reason else ""
        return f"{self.start_utc.isoformat()} .. {self.end_utc.isoformat()} [{self.seconds:.1f} s]{why}"


class NoFootageError(ExportError, LookupError):
    """Nothing was recorded for the camera in the range; ``gaps`` lists the empty spans."""

    def __init__(self, camera_id: str, start_utc: datetime, end_utc: datetime, gaps: Sequence[FootageGap]):
        self.camera_id = camera_id
        self.start_utc = start_utc
        self.end_utc = end_utc
        self.gaps = tuple(gaps)
        spans = "; ".join(gap.describe() for gap in self.gaps) or "(none)"
        super().__init__(
            f"{camera_id}: no recordings between {start_utc.isoformat()} and {end_utc.isoformat()}; "
            f"empty spans: {spans}"
        )


class SegmentChangedError(ExportError, ValueError):
    """A source segment differs from the index: the footage may have been altered, so nothing is exported."""

    def __init__(self, path: str, expected_sha256: str | None, actual_sha256: str | None, detail: str = ""):
        self.path = path
        self.expected_sha256 = expected_sha256
        self.actual_sha256 = actual_sha256
        if actual_sha256 is None and detail:
            expected = f"; expected SHA-256 {expected_sha256}" if expected_sha256 else ""
            message = f"segment {path} cannot be read: {detail}{expected}"
        elif expected_sha256 is None:
            message = (
                f"segment {path} cannot be vouched for: the index has no SHA-256 for it "
                "(still being written?)"
            )
        elif actual_sha256 is None:
            message = f"segment {path} cannot be read; expected SHA-256 {expected_sha256}"
        else:
            message = (
                f"segment {path} does not match the index: expected SHA-256 {expected_sha256}, "
                f"file has {actual_sha256}; export aborted"
            )
        super().__init__(message)


@dataclass(frozen=True)
class SegmentRef:
    """A segment as an export needs it: the absolute file and what the index says about it."""

    id: int
    camera_id: str
    path: Path  # absolute
    relative_path: str
    start_utc: datetime
    end_utc: datetime
    sha256: str | None
    bytes: int
    # still being written (streams.live_segment): only the first ``bytes`` bytes of ``path`` are footage; the
    # index has no hash for them yet, so the export hashes exactly those bytes as it copies them
    growing: bool = False


def check_camera_id(camera_id: str) -> str:
    """Return ``camera_id`` when it is a slug; raise :class:`InvalidCameraIdError` otherwise."""
    if not isinstance(camera_id, str) or not is_slug(camera_id):
        raise InvalidCameraIdError(
            f"invalid camera id {camera_id!r}: expected 1-32 of a-z, 0-9, '-', '_' starting with a-z or 0-9"
        )
    return camera_id


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ExportRangeError(f"{name} {value.isoformat()} has no time zone: give an aware UTC time")


def check_export_range(
    start_utc: datetime, end_utc: datetime, *, now: datetime, max_span: timedelta = MAX_EXPORT_SPAN
) -> tuple[datetime, datetime]:
    """Validate a requested range (pure); returns it converted to UTC."""
    _require_aware(start_utc, "start")
    _require_aware(end_utc, "end")
    start, end = start_utc.astimezone(UTC), end_utc.astimezone(UTC)
    if end <= start:
        raise ExportRangeError(f"end {end.isoformat()} is not after start {start.isoformat()}")
    if start > now:
        raise ExportRangeError(f"start {start.isoformat()} is in the future (now {now.isoformat()})")
    if end > now + FUTURE_SKEW:
        raise ExportRangeError(
            f"end {end.isoformat()} is in the future (now {now.isoformat()}); export up to now at most"
        )
    if end - start > max_span:
        hours = max_span.total_seconds() / 3600
        raise ExportRangeError(
            f"range of {(end - start).total_seconds() / 3600:.1f} h is longer than the {hours:g} h an "
            "export may span; split it"
        )
    return start, end


def plan_gaps(
    spans: Sequence[tuple[datetime, datetime]],
    start_utc: datetime,
    end_utc: datetime,
    *,
    tolerance: timedelta = GAP_TOLERANCE,
) -> list[tuple[datetime, datetime]]:
    """The parts of [start, end) that no span covers, ignoring holes shorter than ``tolerance`` (pure)."""
    gaps: list[tuple[datetime, datetime]] = []
    cursor = start_utc
    for span_start, span_end in sorted(spans):
        if span_end <= cursor:
            continue
        if span_start >= end_utc:
            break
        if span_start - cursor >= tolerance:
            gaps.append((cursor, span_start))
        cursor = max(cursor, span_end)
        if cursor >= end_utc:
            break
    if end_utc - cursor >= tolerance:
        gaps.append((cursor, end_utc))
    return gaps


def require_camera(session: Session, camera_id: str) -> Camera:
    camera = session.get(Camera, check_camera_id(camera_id))
    if camera is None:
        raise UnknownCameraError(f"unknown camera {camera_id!r}")
    return camera


def find_segments(
    session: Session, *, camera_id: str, start_utc: datetime, end_utc: datetime, recordings_dir: Path
) -> list[SegmentRef]:
    """Exportable segments of the main stream overlapping [start, end), ordered by start."""
    rows = session.scalars(
        select(Segment)
        .where(
            Segment.camera_id == check_camera_id(camera_id),
            Segment.stream == "main",
            Segment.status.in_(EXPORTABLE_STATUSES),
            Segment.start_utc < end_utc,
            Segment.end_utc > start_utc,
        )
        .order_by(Segment.start_utc, Segment.id)
    ).all()
    return [_segment_ref(row, recordings_dir) for row in rows]


def _segment_ref(row: Segment, recordings_dir: Path) -> SegmentRef:
    path = resolve_recording_path(recordings_dir, row.path)
    return SegmentRef(
        id=row.id,
        camera_id=row.camera_id,
        path=path,
        relative_path=row.path,
        start_utc=row.start_utc,
        end_utc=row.end_utc,
        sha256=row.sha256,
        bytes=row.bytes,
    )


def resolve_recording_path(recordings_dir: Path, relative: str) -> Path:
    """Join an indexed relative path to the recordings root, refusing anything that escapes it."""
    root = recordings_dir.resolve()
    candidate = Path(relative)
    if candidate.is_absolute() or ".." in candidate.parts:
        raise SegmentChangedError(relative, None, None, "path in the index escapes the recordings directory")
    path = (root / candidate).resolve()
    if not path.is_relative_to(root):
        raise SegmentChangedError(relative, None, None, "path in the index escapes the recordings directory")
    return path


def find_gaps(
    session: Session,
    *,
    camera_id: str,
    start_utc: datetime,
    end_utc: datetime,
    segments: Sequence[SegmentRef],
    tolerance: timedelta = GAP_TOLERANCE,
) -> list[FootageGap]:
    """Holes in [start, end) not covered by ``segments``, with the recorder's reason where it logged one, plus
    the closed gaps the recorder logged inside a file (frames missing within a segment it did not cut)."""
    holes = plan_gaps([(s.start_utc, s.end_utc) for s in segments], start_utc, end_utc, tolerance=tolerance)
    logged = session.scalars(
        select(Gap)
        .where(Gap.camera_id == camera_id, Gap.start_utc < end_utc)
        .where((Gap.end_utc.is_(None)) | (Gap.end_utc > start_utc))
        .order_by(Gap.start_utc)
    ).all()
    result: list[FootageGap] = []
    for hole_start, hole_end in holes:
        reasons = [
            gap.reason
            for gap in logged
            if gap.start_utc < hole_end and (gap.end_utc is None or gap.end_utc > hole_start)
        ]
        result.append(FootageGap(hole_start, hole_end, ", ".join(dict.fromkeys(reasons)) or None))
    for gap in logged:
        if gap.end_utc is None:
            continue
        begin, end = max(gap.start_utc, start_utc), min(gap.end_utc, end_utc)
        if end - begin < tolerance or any(h[0] < end and h[1] > begin for h in holes):
            continue
        result.append(FootageGap(begin, end, gap.reason))
    return sorted(result, key=lambda gap: gap.start_utc)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def verify_segment_file(segment: SegmentRef) -> str:
    """The segment's SHA-256 when the file still matches the index; :class:`SegmentChangedError` if not."""
    if segment.sha256 is None:
        raise SegmentChangedError(segment.relative_path, None, None)
    try:
        actual = file_sha256(segment.path)
    except OSError as exc:
        raise SegmentChangedError(segment.relative_path, segment.sha256, None, str(exc)) from exc
    if actual != segment.sha256:
        raise SegmentChangedError(segment.relative_path, segment.sha256, actual)
    return actual


def create_export(
    session: Session, *, created_by: int, reason: str, complaint_id: int | None = None
) -> Export:
    """A pending export row (flushed so it has an id)."""
    if not reason.strip():
        raise ExportRangeError("an export needs a reason or a complaint")
    export = Export(created_by=created_by, reason=reason.strip(), complaint_id=complaint_id, status="pending")
    session.add(export)
    session.flush()
    return export


def finish_export(
    session: Session, export_id: int, *, path: str, sha256: str | None, size: int, manifest: str
) -> Export:
    """Mark the export ready. ``sha256`` (of the whole package file) may follow later, see
    :func:`set_export_sha256`."""
    export = session.get_one(Export, export_id)
    export.path, export.sha256, export.bytes, export.manifest = path, sha256, size, manifest
    export.status = "ready"
    session.flush()
    return export


def set_export_sha256(session: Session, export_id: int, sha256: str) -> Export:
    """Record the package file's SHA-256 once it is known (it never changes once set)."""
    export = session.get_one(Export, export_id)
    if export.sha256 not in (None, "", sha256):
        raise ValueError(f"export {export_id} already has SHA-256 {export.sha256}, not {sha256}")
    export.sha256 = sha256
    session.flush()
    return export


def record_export_sha256(session: Session, export_id: int, sha256: str) -> bool:
    """Record the package file's SHA-256 unless it is recorded already; True when this call recorded it.
    One conditional UPDATE, so two fingerprints of the same package at once (the background task and a
    first download) record and audit it once."""
    result = session.execute(
        update(Export).where(Export.id == export_id, Export.sha256.is_(None)).values(sha256=sha256)
    )
    if result.rowcount == 1:  # type: ignore[attr-defined]
        return True
    set_export_sha256(session, export_id, sha256)  # already set: the same hash, or a ValueError
    return False


def fail_export(session: Session, export_id: int, detail: str) -> Export:
    """Mark the export failed (its files are gone); ``detail`` is logged, the audit entry keeps it."""
    logger.warning("export %d failed: %s", export_id, detail)
    export = session.get_one(Export, export_id)
    export.status = "failed"
    export.manifest = None
    export.path = None
    session.flush()
    return export
