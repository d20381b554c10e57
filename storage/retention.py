"""Retention: which footage to delete, decided by a pure function, applied by a thin one.

:func:`plan_deletions` deletes (1) unprotected segments older than their camera's retention and (2) when
the disk is below its free-space floor, more unprotected segments, oldest first, until enough is freed.
Footage that overlaps an active evidence lock is never planned. When only protected footage is left and space
is still needed, the plan says so (``shortfall_bytes``, ``stop_reason``): recording stops rather than
deleting evidence.

:func:`apply_plan` marks each row ``deleting`` before its file goes and ``deleted`` after it, so a pass killed
at any point leaves no row that claims a deleted file; :func:`finish_interrupted_deletions` completes such a
pass when the station starts again.

:class:`RetentionWorker` runs the plan periodically in its own thread, applies it, pauses recording through
the :class:`RecordingControl` seam when the plan says so, resumes it when space is back, and reports a
status.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from config.schema import StationConfig
from storage.database import Database
from storage.disk import (
    DiskUsageReader,
    Forecast,
    bytes_to_free,
    forecast_days_left,
    free_floor_bytes,
    headroom_bytes,
    read_disk_usage,
)
from storage.layout import SegmentPathError, resolve_relative
from storage.lock import LockSpan, active_locks, is_protected, locks_covering
from storage.model import GapReason, Segment, utcnow
from storage.segment import (
    FINISHED_STATUSES,
    mark_segment_deleted,
    mark_segment_deleting,
    recording_rates,
    segments_being_deleted,
)

logger = logging.getLogger(__name__)

CANDIDATE_PAGE = 2000
FORECAST_WINDOW = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class SegmentInfo:
    """A finished segment as retention sees it."""

    segment_id: int
    camera_id: str
    start_utc: datetime
    end_utc: datetime
    bytes: int
    path: str


@dataclass(frozen=True, slots=True)
class Deletion:
    segment: SegmentInfo
    why: str  # "age" or "space"


@dataclass(frozen=True, slots=True)
class Plan:
    deletions: tuple[Deletion, ...]
    bytes_freed: int
    bytes_needed: int
    protected_bytes: int  # bytes of candidate footage kept because of evidence locks
    shortfall_bytes: int  # still needed after every unprotected candidate is deleted
    stop_reason: GapReason | None  # set when recording must stop: evidence_only_left or disk_full

    @property
    def stop_recording(self) -> bool:
        return self.stop_reason is not None

    def early_deletions(self) -> dict[str, int]:
        """Per camera, how many segments go before their retention period is over (space pressure)."""
        counts: dict[str, int] = {}
        for deletion in self.deletions:
            if deletion.why == "space":
                counts[deletion.segment.camera_id] = counts.get(deletion.segment.camera_id, 0) + 1
        return counts

    def early_deletion_kept(self, now: datetime) -> dict[str, timedelta]:
        """Per camera that loses footage early, how much it keeps: from the end of its newest segment deleted
        for space up to ``now``. That is how deep its archive really is on this disk, against the retention
        days configured (footage under an evidence lock may reach further back); pure."""
        newest: dict[str, datetime] = {}
        for deletion in self.deletions:
            if deletion.why == "space":
                camera_id, end = deletion.segment.camera_id, deletion.segment.end_utc
                if camera_id not in newest or end > newest[camera_id]:
                    newest[camera_id] = end
        return {camera_id: max(timedelta(0), now - end) for camera_id, end in newest.items()}


def plan_deletions(
    segments: Iterable[SegmentInfo],
    locks: Iterable[LockSpan],
    now: datetime,
    retention_days_by_camera: Mapping[str, int],
    bytes_to_free: int,
    *,
    default_retention_days: int | None = None,
    bytes_below_floor: int | None = None,
) -> Plan:
    """Decide what to delete; pure. Segments of cameras with no retention (and no default) age out never.

    Unprotected footage is deleted, oldest first, until ``bytes_to_free`` (the way back above the floor plus
    the headroom, see :func:`storage.disk.headroom_bytes`) is freed. Recording stops only when even the floor
    itself cannot be reached: ``bytes_below_floor`` (default ``bytes_to_free``) is how far free space is
    below the floor; a headroom that only evidence could free is no reason to stop."""
    lock_list = [lock for lock in locks if lock.is_active(now)]
    ordered = sorted(segments, key=lambda s: (s.start_utc, s.segment_id))
    deletions: list[Deletion] = []
    kept: list[SegmentInfo] = []
    protected_bytes = 0
    freed = 0
    for segment in ordered:
        if is_protected(
            lock_list,
            camera_id=segment.camera_id,
            start_utc=segment.start_utc,
            end_utc=segment.end_utc,
            now=now,
        ):
            protected_bytes += segment.bytes
            continue
        days = retention_days_by_camera.get(segment.camera_id, default_retention_days)
        if days is not None and segment.end_utc <= now - timedelta(days=days):
            deletions.append(Deletion(segment, "age"))
            freed += segment.bytes
        else:
            kept.append(segment)
    for segment in kept:
        if freed >= bytes_to_free:
            break
        deletions.append(Deletion(segment, "space"))
        freed += segment.bytes
    must_free = bytes_to_free if bytes_below_floor is None else min(bytes_below_floor, bytes_to_free)
    shortfall = max(0, must_free - freed)
    stop_reason: GapReason | None = None
    if shortfall > 0:
        stop_reason = GapReason.EVIDENCE_ONLY_LEFT if protected_bytes > 0 else GapReason.DISK_FULL
    return Plan(
        deletions=tuple(deletions),
        bytes_freed=freed,
        bytes_needed=bytes_to_free,
        protected_bytes=protected_bytes,
        shortfall_bytes=shortfall,
        stop_reason=stop_reason,
    )


@dataclass(frozen=True, slots=True)
class ApplyResult:
    deleted: tuple[SegmentInfo, ...]
    bytes_freed: int
    skipped_locked: tuple[SegmentInfo, ...]  # a lock appeared between planning and deleting
    missing_files: tuple[str, ...]  # already gone from disk; row marked deleted anyway
    errors: tuple[str, ...]


def apply_plan(db: Database, plan: Plan, *, root: Path, now: datetime) -> ApplyResult:
    """Delete the planned files and mark their rows ``deleted``; re-checks locks right before each file.

    Each deletion is three steps, so that a station killed at any point leaves nothing half-done: the row
    is marked ``deleting`` (after the lock check, in the same transaction), the file is unlinked, the row
    is marked ``deleted``. A crash before the first commit leaves the segment as it was; after it, start-up
    (:func:`finish_interrupted_deletions`) unlinks the file if it is still there and marks the row. Never a
    row that claims footage whose file is gone: playback and export would fail on it, reconcile would
    report it missing, and a pass with enough free space would not come back to it.
    """
    deleted: list[SegmentInfo] = []
    skipped: list[SegmentInfo] = []
    missing: list[str] = []
    errors: list[str] = []
    freed = 0
    for deletion in plan.deletions:
        segment = deletion.segment
        try:
            path = resolve_relative(root, segment.path)
            with db.session() as session:
                if not _still_deletable(session, segment, now):
                    skipped.append(segment)
                    continue
                mark_segment_deleting(session, segment_id=segment.segment_id)
            if not _unlink(path):
                missing.append(segment.path)
            with db.session() as session:
                mark_segment_deleted(session, segment_id=segment.segment_id, at=now)
        except (OSError, SQLAlchemyError, SegmentPathError) as exc:
            logger.error("%s: could not delete segment %s: %s", segment.camera_id, segment.path, exc)
            errors.append(f"{segment.path}: {exc}")
            continue
        logger.info(
            "%s: deleted segment %s (%s, %d bytes)",
            segment.camera_id,
            segment.path,
            deletion.why,
            segment.bytes,
        )
        deleted.append(segment)
        freed += segment.bytes
    return ApplyResult(
        deleted=tuple(deleted),
        bytes_freed=freed,
        skipped_locked=tuple(skipped),
        missing_files=tuple(missing),
        errors=tuple(errors),
    )


def _unlink(path: Path) -> bool:
    """Remove ``path``; False when it was already gone."""
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class FinishedDeletions:
    """What :func:`finish_interrupted_deletions` did."""

    finished: tuple[str, ...]  # rows marked deleted (their file removed, or already gone)
    errors: tuple[str, ...]  # rows left ``deleting``: the file could not be removed


def finish_interrupted_deletions(db: Database, *, root: Path, now: datetime) -> FinishedDeletions:
    """Finish the deletions a killed retention pass left between its two commits (rows ``deleting``):
    unlink the file if it is still there and mark the row ``deleted``. Run by the station at start-up,
    before the recorders and the retention worker start, and by a pass after one that failed to unlink
    (blocking). The decision was taken, and checked against the evidence locks, before the row was marked;
    a ``deleting`` row is no footage for playback or export any more."""
    finished: list[str] = []
    errors: list[str] = []
    with db.session() as session:
        pending = [(row.id, row.camera_id, row.path) for row in segments_being_deleted(session)]
    for segment_id, camera_id, relative in pending:
        try:
            removed = _unlink(resolve_relative(root, relative))
            with db.session() as session:
                mark_segment_deleted(session, segment_id=segment_id, at=now)
        except (OSError, SQLAlchemyError, SegmentPathError) as exc:
            logger.error("%s: could not finish deleting segment %s: %s", camera_id, relative, exc)
            errors.append(f"{relative}: {exc}")
            continue
        logger.warning(
            "%s: finished deleting segment %s, interrupted by a crash (%s)",
            camera_id,
            relative,
            "file removed" if removed else "file already gone",
        )
        finished.append(relative)
    return FinishedDeletions(finished=tuple(finished), errors=tuple(errors))


def _still_deletable(session: Session, segment: SegmentInfo, now: datetime) -> bool:
    row = session.get(Segment, segment.segment_id)
    if row is None or row.status not in FINISHED_STATUSES:
        return False
    locks = locks_covering(
        session, camera_id=segment.camera_id, start_utc=row.start_utc, end_utc=row.end_utc, now=now
    )
    return not locks


def load_candidates(
    session: Session,
    *,
    now: datetime,
    retention_days_by_camera: Mapping[str, int],
    default_retention_days: int | None,
    bytes_needed: int,
    locks: Sequence[LockSpan],
) -> list[SegmentInfo]:
    """The finished segments a plan may need: every expired one, plus enough of the oldest to free space.

    Reads oldest-first in pages and stops once the unprotected bytes read cover ``bytes_needed`` and every
    segment past the widest retention cut-off has been seen, so a large archive is not loaded whole.
    """
    days = [*retention_days_by_camera.values()]
    if default_retention_days is not None:
        days.append(default_retention_days)
    newest_cutoff = now - timedelta(days=min(days)) if days else None
    found: list[SegmentInfo] = []
    unprotected = 0
    last: tuple[datetime, int] | None = None
    while True:
        query = select(Segment).where(Segment.status.in_(FINISHED_STATUSES))
        if last is not None:
            query = query.where(
                (Segment.start_utc > last[0]) | ((Segment.start_utc == last[0]) & (Segment.id > last[1]))
            )
        rows = session.scalars(query.order_by(Segment.start_utc, Segment.id).limit(CANDIDATE_PAGE)).all()
        for row in rows:
            info = SegmentInfo(row.id, row.camera_id, row.start_utc, row.end_utc, row.bytes, row.path)
            found.append(info)
            if not is_protected(
                locks, camera_id=info.camera_id, start_utc=info.start_utc, end_utc=info.end_utc, now=now
            ):
                unprotected += info.bytes
        if len(rows) < CANDIDATE_PAGE:
            return found
        last = (rows[-1].start_utc, rows[-1].id)
        past_cutoff = newest_cutoff is None or rows[-1].start_utc > newest_cutoff
        if past_cutoff and unprotected >= bytes_needed:
            return found


class RecordingControl(Protocol):
    """What retention needs from a camera's recorder (``streams.recorder.SegmentRecorder`` implements it)."""

    def pause_recording(self, reason: GapReason, detail: str) -> None: ...

    def resume_recording(self) -> None: ...


@dataclass(frozen=True, slots=True)
class RetentionAlarm:
    code: str  # evidence_only_left | disk_full | footage_deleted_early | retention_error
    message: str
    camera_id: str | None = None


EARLY_ALARM_CAMERAS = 5  # cameras named in the one early-deletion alarm; the rest are counted


def archive_depth_text(kept: timedelta) -> str:
    """How much footage a camera keeps, for a person: hours under two days, days above; pure."""
    hours = kept.total_seconds() / 3600
    if hours < 48:
        return f"{hours:.1f} h"
    return f"{hours / 24:.1f} days"


def early_deletion_message(
    counts: Mapping[str, int],
    kept: Mapping[str, timedelta] | None = None,
    retention_days: Mapping[str, int | None] | None = None,
) -> str:
    """One line for a pass that deleted footage before its retention period: the total, then the cameras
    that lost most (at most ``EARLY_ALARM_CAMERAS`` named) and, where ``kept`` says, how much footage each
    of them still keeps against its retention days; pure.

    One alarm per pass, not one per camera: at 32 cameras on a full disk, every pass would otherwise list
    32 alarms on the officer's screen for the same cause.
    """
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    named = ", ".join(f"{camera_id}: {count}" for camera_id, count in ranked[:EARLY_ALARM_CAMERAS])
    rest = ranked[EARLY_ALARM_CAMERAS:]
    if rest:
        named += f", {len(rest)} more camera(s): {sum(count for _, count in rest)}"
    message = (
        f"{sum(counts.values())} segment(s) of {len(counts)} camera(s) deleted before their retention "
        f"period to keep free space ({named}); the disk holds less than the retention days configured"
    )
    depths = []
    for camera_id, _ in ranked[:EARLY_ALARM_CAMERAS]:
        if kept is None or camera_id not in kept:
            continue
        days = (retention_days or {}).get(camera_id)
        target = f" of {days} day(s)" if days is not None else ""
        depths.append(f"{camera_id} {archive_depth_text(kept[camera_id])}{target}")
    if depths:
        message += f": footage kept {', '.join(depths)}"
    return message


@dataclass(frozen=True, slots=True)
class RetentionStatus:
    """What ``/api/health`` and ``/metrics`` show about retention and disk space."""

    last_run_utc: datetime | None = None
    runs: int = 0
    disk_total_bytes: int | None = None
    disk_free_bytes: int | None = None
    floor_bytes: int | None = None
    headroom_bytes: int = 0  # freed beyond the floor: what the cameras write in two passes
    bytes_needed: int = 0
    deleted_segments_total: int = 0
    deleted_bytes_total: int = 0
    last_deleted_segments: int = 0
    protected_bytes: int = 0
    shortfall_bytes: int = 0
    recording_stopped: bool = False
    stop_reason: GapReason | None = None
    forecast: Forecast | None = None
    alarms: tuple[RetentionAlarm, ...] = ()
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class RetentionSettings:
    retention_days_by_camera: Mapping[str, int]
    min_free_bytes: int
    min_free_percent: float
    interval_s: float = 60.0
    default_retention_days: int | None = None  # cameras no longer configured

    @classmethod
    def from_config(cls, config: StationConfig, *, interval_s: float = 60.0) -> RetentionSettings:
        default = config.recording.retention_days
        return cls(
            retention_days_by_camera={
                camera.id: camera.recording.retention_days or default for camera in config.cameras
            },
            min_free_bytes=config.storage.min_free_bytes,
            min_free_percent=config.storage.min_free_percent,
            interval_s=interval_s,
            default_retention_days=default,
        )

    def days_for(self, camera_id: str) -> int | None:
        """The retention days of ``camera_id`` (the default for a camera no longer configured)."""
        return self.retention_days_by_camera.get(camera_id, self.default_retention_days)


class RetentionWorker:
    """Plans and applies retention for all cameras every ``interval_s`` in a thread named ``retention``."""

    def __init__(
        self,
        *,
        db: Database,
        root: Path,
        settings: RetentionSettings,
        controls: Mapping[str, RecordingControl] | None = None,
        disk_usage: DiskUsageReader = read_disk_usage,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.root = root
        self.settings = settings
        self.controls: dict[str, RecordingControl] = dict(controls or {})
        self._disk_usage = disk_usage
        self._clock = clock
        self._status = RetentionStatus()
        self._status_lock = threading.Lock()
        self._run_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._paused = False
        self._unfinished = False  # rows left ``deleting`` by a failed unlink: retried at the next pass

    def status(self) -> RetentionStatus:
        with self._status_lock:
            return self._status

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("retention worker already started")
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="retention", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.run_once()
            self._stop.wait(self.settings.interval_s)

    def run_once(self) -> RetentionStatus:
        """One pass: measure, plan, apply, pause or resume recording; never raises for disk or DB errors."""
        with self._run_lock:
            now = self._clock()
            try:
                status = self._run(now)
            except (OSError, SQLAlchemyError) as exc:
                logger.error("retention pass failed: %s", exc)
                previous = self.status()
                status = replace(
                    previous,
                    last_run_utc=now,
                    runs=previous.runs + 1,
                    last_error=str(exc),
                    alarms=(RetentionAlarm("retention_error", f"retention pass failed: {exc}"),),
                )
            with self._status_lock:
                self._status = status
            return status

    def _run(self, now: datetime) -> RetentionStatus:
        settings = self.settings
        usage = self._disk_usage(self.root)
        floor = free_floor_bytes(
            usage, min_free_bytes=settings.min_free_bytes, min_free_percent=settings.min_free_percent
        )
        with self.db.session() as session:
            recent = recording_rates(session, since_utc=now - FORECAST_WINDOW)
            locks = active_locks(session, now=now)
            rate = forecast_days_left(recent, free_bytes=usage.free_bytes, floor_bytes=floor).bytes_per_day
            headroom = headroom_bytes(rate, settings.interval_s)
            below_floor = bytes_to_free(
                usage, min_free_bytes=settings.min_free_bytes, min_free_percent=settings.min_free_percent
            )
            needed = bytes_to_free(
                usage,
                min_free_bytes=settings.min_free_bytes,
                min_free_percent=settings.min_free_percent,
                headroom_bytes=headroom,
            )
            candidates = load_candidates(
                session,
                now=now,
                retention_days_by_camera=settings.retention_days_by_camera,
                default_retention_days=settings.default_retention_days,
                bytes_needed=needed,
                locks=locks,
            )
        plan = plan_deletions(
            candidates,
            locks,
            now,
            settings.retention_days_by_camera,
            needed,
            default_retention_days=settings.default_retention_days,
            bytes_below_floor=below_floor,
        )
        if self._unfinished:  # the last pass could not unlink some files: their rows are still ``deleting``
            self._unfinished = bool(finish_interrupted_deletions(self.db, root=self.root, now=now).errors)
        result = apply_plan(self.db, plan, root=self.root, now=now)
        self._unfinished = self._unfinished or bool(result.errors)
        alarms = self._alarms(plan, result, now)
        self._control_recording(plan)
        free_after = usage.free_bytes + result.bytes_freed
        forecast = forecast_days_left(recent, free_bytes=free_after, floor_bytes=floor)
        previous = self.status()
        return RetentionStatus(
            last_run_utc=now,
            runs=previous.runs + 1,
            disk_total_bytes=usage.total_bytes,
            disk_free_bytes=free_after,
            floor_bytes=floor,
            headroom_bytes=headroom,
            bytes_needed=needed,
            deleted_segments_total=previous.deleted_segments_total + len(result.deleted),
            deleted_bytes_total=previous.deleted_bytes_total + result.bytes_freed,
            last_deleted_segments=len(result.deleted),
            protected_bytes=plan.protected_bytes,
            shortfall_bytes=plan.shortfall_bytes,
            recording_stopped=plan.stop_recording,
            stop_reason=plan.stop_reason,
            forecast=forecast,
            alarms=alarms,
            last_error=result.errors[-1] if result.errors else None,
        )

    def _alarms(self, plan: Plan, result: ApplyResult, now: datetime) -> tuple[RetentionAlarm, ...]:
        alarms: list[RetentionAlarm] = []
        if plan.stop_reason is GapReason.EVIDENCE_ONLY_LEFT:
            alarms.append(
                RetentionAlarm(
                    "evidence_only_left",
                    f"disk below its free-space floor and only evidence-locked footage is left "
                    f"({plan.shortfall_bytes} bytes short): recording stopped, evidence kept",
                )
            )
        elif plan.stop_reason is GapReason.DISK_FULL:
            alarms.append(
                RetentionAlarm(
                    "disk_full",
                    f"disk below its free-space floor with no footage left to delete "
                    f"({plan.shortfall_bytes} bytes short): recording stopped",
                )
            )
        early = plan.early_deletions()
        if early:
            days = {camera_id: self.settings.days_for(camera_id) for camera_id in early}
            message = early_deletion_message(early, plan.early_deletion_kept(now), days)
            alarms.append(RetentionAlarm("footage_deleted_early", message))
        alarms.extend(RetentionAlarm("retention_error", error) for error in result.errors)
        return tuple(alarms)

    def _control_recording(self, plan: Plan) -> None:
        if plan.stop_reason is not None:
            detail = (
                f"retention: {plan.shortfall_bytes} bytes below the free-space floor, "
                f"{plan.protected_bytes} bytes are evidence-locked"
            )
            for camera_id, control in self.controls.items():
                logger.warning("%s: recording stopped by retention (%s)", camera_id, plan.stop_reason.value)
                control.pause_recording(plan.stop_reason, detail)
            self._paused = True
        elif self._paused:
            for camera_id, control in self.controls.items():
                logger.info("%s: recording resumed: free space is back above the floor", camera_id)
                control.resume_recording()
            self._paused = False
