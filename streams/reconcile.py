"""Start-up reconcile: make the disk and the segment index agree again after a crash or power loss.

Run once before the recorders start. For every camera folder under the recordings root:

- ``.partial`` files (a recorder was killed mid-file) are finalised: cut to the last complete fragment,
  probed with PyAV, hashed, renamed to ``.mp4``, and their row is closed as ``recovered`` (or created);
- closed ``.mp4`` files without a row (the database was unreachable) are probed, hashed and indexed;
- rows still ``open`` whose file was already renamed are closed from the file;
- rows whose file is missing are reported, never deleted;
- a ``.partial`` that holds no complete fragment (header only: provably no footage) is removed and logged;
  anything that is not ours (foreign names) is reported and left alone;
- a camera whose last run did not end with an open gap (the station was killed) gets a ``station_stopped``
  gap from the end of its newest footage, left open for its recorder to close on the first keyframe.

Only the recent part of the archive is scanned by default (from an hour before each camera's newest indexed
footage); ``full_scan=True`` checks everything.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from config.schema import is_slug
from storage.database import Database
from storage.gap import find_open_gap, open_gap
from storage.layout import (
    PARTIAL_SUFFIX,
    SegmentPathError,
    iter_segment_files,
    parse_segment_path,
    resolve_relative,
)
from storage.model import GapReason, Segment, SegmentStatus, utcnow
from storage.segment import (
    LIVE_STATUSES,
    SegmentClose,
    add_finished_segment,
    close_segment,
    discard_segment,
    find_segment,
    newest_segment,
)
from streams.segment_file import FinishedFile, SegmentFileError, describe_file, recover_partial

logger = logging.getLogger(__name__)

SCAN_MARGIN = timedelta(hours=1)
HEADER_ONLY_MAX_BYTES = 64 * 1024  # a partial without a complete fragment this small is a lone header


@dataclass
class ReconcileReport:
    recovered: list[str] = field(default_factory=list)  # .partial finalised (row closed or created)
    orphans_indexed: list[str] = field(default_factory=list)  # closed files that had no row
    open_rows_closed: list[str] = field(default_factory=list)  # open rows whose file was complete
    missing_files: list[str] = field(default_factory=list)  # rows whose file is gone (reported only)
    garbage_removed: list[str] = field(default_factory=list)  # header-only partials (no footage)
    foreign_files: list[str] = field(default_factory=list)  # not ours: left alone
    conflicts: list[str] = field(default_factory=list)  # .partial next to an existing .mp4: left alone
    errors: list[str] = field(default_factory=list)
    gaps_opened: list[str] = field(default_factory=list)  # cameras given a station_stopped gap
    bytes_cut: int = 0  # incomplete tails removed (less than one fragment per recovered file)

    @property
    def clean(self) -> bool:
        return not (self.missing_files or self.conflicts or self.errors)


def reconcile_recordings(
    db: Database,
    root: Path,
    *,
    camera_ids: Iterable[str] = (),
    now: datetime | None = None,
    full_scan: bool = False,
) -> ReconcileReport:
    """Reconcile ``root`` with the index for ``camera_ids`` plus every camera folder found on disk."""
    report = ReconcileReport()
    moment = now or utcnow()
    cameras = set(camera_ids) | _camera_folders(root, report)
    for camera_id in sorted(cameras):
        _reconcile_camera(db, root, camera_id, report, full_scan=full_scan)
        _open_station_stopped_gap(db, camera_id, report, now=moment)
    for name in report.missing_files:
        logger.error("segment file missing (row kept): %s", name)
    logger.info(
        "reconcile: %d recovered, %d orphans indexed, %d open rows closed, %d missing, %d garbage removed",
        len(report.recovered),
        len(report.orphans_indexed),
        len(report.open_rows_closed),
        len(report.missing_files),
        len(report.garbage_removed),
    )
    return report


def _camera_folders(root: Path, report: ReconcileReport) -> set[str]:
    found: set[str] = set()
    if not root.is_dir():
        return found
    for entry in root.iterdir():
        if entry.is_dir() and is_slug(entry.name):
            found.add(entry.name)
        elif entry.is_dir():
            report.foreign_files.append(str(entry))
    return found


def _scan_since(db: Database, camera_id: str, full_scan: bool) -> datetime | None:
    if full_scan:
        return None
    with db.session() as session:
        newest = newest_segment(session, camera_id=camera_id)
        oldest_open = session.scalars(
            select(Segment.start_utc)
            .where(Segment.camera_id == camera_id, Segment.status == SegmentStatus.OPEN.value)
            .order_by(Segment.start_utc)
            .limit(1)
        ).first()
    if newest is None:
        return None
    since = newest.start_utc if oldest_open is None else min(oldest_open, newest.start_utc)
    return since - SCAN_MARGIN


def _reconcile_camera(
    db: Database, root: Path, camera_id: str, report: ReconcileReport, *, full_scan: bool
) -> None:
    since = _scan_since(db, camera_id, full_scan)
    for path in iter_segment_files(root, camera_id, since_utc=since):
        try:
            info = parse_segment_path(root, path)
        except SegmentPathError:
            report.foreign_files.append(str(path))
            continue
        try:
            if info.partial:
                _reconcile_partial(db, root, path, info.relative, info.camera_id, info.start_utc, report)
            else:
                _reconcile_closed(db, path, info.relative, info.camera_id, info.start_utc, report)
        except (OSError, SegmentFileError) as exc:
            logger.error("%s: cannot reconcile %s: %s", camera_id, path, exc)
            report.errors.append(f"{path}: {exc}")
    _check_rows(db, root, camera_id, since, report)


def _close_from_file(finished: FinishedFile, start: datetime) -> SegmentClose:
    return SegmentClose(
        end_utc=start + timedelta(seconds=finished.probe.duration_s),
        duration_s=finished.probe.duration_s,
        bytes=finished.bytes,
        sha256=finished.sha256,
        keyframes=finished.probe.keyframes,
    )


def _reconcile_partial(
    db: Database,
    root: Path,
    path: Path,
    relative: str,
    camera_id: str,
    start: datetime,
    report: ReconcileReport,
) -> None:
    if (root / relative).exists() or path.with_name(path.name.removesuffix(PARTIAL_SUFFIX)).exists():
        report.conflicts.append(str(path))
        return
    try:
        finished = recover_partial(path)
    except SegmentFileError as exc:
        if path.stat().st_size <= HEADER_ONLY_MAX_BYTES:
            path.unlink()
            logger.warning("%s: removed %s: %s", camera_id, path.name, exc)
            report.garbage_removed.append(relative + PARTIAL_SUFFIX)
            with db.session() as session:
                if find_segment(session, path=relative) is not None:
                    discard_segment(session, path=relative, at=utcnow())
            return
        raise
    close = _close_from_file(finished, start)
    with db.session() as session:
        _upsert_finished(session, camera_id, relative, start, finished, close, SegmentStatus.RECOVERED)
    report.recovered.append(relative)
    report.bytes_cut += finished.cut_bytes
    logger.warning(
        "%s: recovered %s after a crash (%.1f s kept, %d incomplete bytes cut)",
        camera_id,
        relative,
        finished.probe.duration_s,
        finished.cut_bytes,
    )


def _reconcile_closed(
    db: Database, path: Path, relative: str, camera_id: str, start: datetime, report: ReconcileReport
) -> None:
    with db.session() as session:
        row = find_segment(session, path=relative)
        if row is not None and row.status != SegmentStatus.OPEN.value:
            return  # indexed (closed, recovered; or deleted while the unlink failed: retention retries)
    finished = describe_file(path)
    close = _close_from_file(finished, start)
    with db.session() as session:
        was_open = _upsert_finished(
            session, camera_id, relative, start, finished, close, SegmentStatus.CLOSED
        )
    (report.open_rows_closed if was_open else report.orphans_indexed).append(relative)


def _upsert_finished(
    session: Session,
    camera_id: str,
    relative: str,
    start: datetime,
    finished: FinishedFile,
    close: SegmentClose,
    status: SegmentStatus,
) -> bool:
    """Close the row of ``relative`` (True) or add one (False)."""
    row = find_segment(session, path=relative)
    if row is not None:
        close_segment(session, path=relative, close=close, status=status)
        return True
    add_finished_segment(
        session,
        camera_id=camera_id,
        path=relative,
        start_utc=start,
        close=close,
        status=status,
        codec=finished.probe.codec,
        width=finished.probe.width,
        height=finished.probe.height,
    )
    return False


def _check_rows(
    db: Database, root: Path, camera_id: str, since: datetime | None, report: ReconcileReport
) -> None:
    with db.session() as session:
        query = select(Segment).where(Segment.camera_id == camera_id, Segment.status.in_(LIVE_STATUSES))
        if since is not None:
            query = query.where((Segment.end_utc >= since) | (Segment.status == SegmentStatus.OPEN.value))
        rows = session.scalars(query).all()
        for row in rows:
            try:
                path = resolve_relative(root, row.path)
            except SegmentPathError as exc:
                report.errors.append(f"row {row.id}: {exc}")
                continue
            if not path.exists() and not path.with_name(path.name + PARTIAL_SUFFIX).exists():
                report.missing_files.append(row.path)


def _open_station_stopped_gap(
    db: Database, camera_id: str, report: ReconcileReport, *, now: datetime
) -> None:
    with db.session() as session:
        if find_open_gap(session, camera_id=camera_id) is not None:
            return
        newest = newest_segment(session, camera_id=camera_id)
        if newest is None:
            return
        start = min(newest.end_utc, now)
        open_gap(
            session,
            camera_id=camera_id,
            start_utc=start,
            reason=GapReason.STATION_STOPPED,
            detail="station stopped without closing this camera's recording (crash or power loss)",
        )
    report.gaps_opened.append(camera_id)
