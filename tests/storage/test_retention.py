"""Retention: the pure plan, its application on real files and a real database, and the worker."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from storage.database import Database
from storage.disk import DiskUsage
from storage.layout import segment_path, segment_relative_path
from storage.lock import LockSpan, create_lock, release_lock
from storage.model import GapReason, Segment, SegmentStatus
from storage.retention import (
    RetentionSettings,
    RetentionWorker,
    SegmentInfo,
    apply_plan,
    archive_depth_text,
    early_deletion_message,
    plan_deletions,
)
from storage.segment import SegmentClose, add_finished_segment

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
MB = 1_000_000


def seg(segment_id: int, camera: str, days_ago: float, *, size: int = MB, minutes: int = 1) -> SegmentInfo:
    start = NOW - timedelta(days=days_ago)
    return SegmentInfo(
        segment_id, camera, start, start + timedelta(minutes=minutes), size, f"{camera}/{segment_id}"
    )


def lock(camera: str, start: datetime, end: datetime, **kwargs: datetime | None) -> LockSpan:
    return LockSpan(lock_id=1, camera_id=camera, start_utc=start, end_utc=end, **kwargs)


def ids(plan_deletions_result: object) -> list[int]:
    return [d.segment.segment_id for d in plan_deletions_result.deletions]  # type: ignore[attr-defined]


def test_age_deletes_only_past_each_cameras_retention() -> None:
    segments = [seg(1, "a", 40), seg(2, "a", 20), seg(3, "b", 20), seg(4, "b", 5), seg(5, "c", 400)]
    plan = plan_deletions(segments, [], NOW, {"a": 30, "b": 7}, 0)
    assert ids(plan) == [1, 3]
    assert {d.why for d in plan.deletions} == {"age"}
    assert plan.stop_reason is None and plan.shortfall_bytes == 0
    with_default = plan_deletions(segments, [], NOW, {"a": 30, "b": 7}, 0, default_retention_days=365)
    assert ids(with_default) == [5, 1, 3]


def test_space_deletes_oldest_unprotected_first_until_enough() -> None:
    segments = [seg(i, "a" if i % 2 else "b", 10 - i) for i in range(1, 10)]
    plan = plan_deletions(segments, [], NOW, {"a": 30, "b": 30}, int(2.5 * MB))
    assert ids(plan) == [1, 2, 3]
    assert plan.bytes_freed == 3 * MB
    assert plan.early_deletions() == {"a": 2, "b": 1}
    assert early_deletion_message(plan.early_deletions()).startswith(
        "3 segment(s) of 2 camera(s) deleted before their retention period to keep free space (a: 2, b: 1)"
    )


def test_early_deletions_make_one_alarm_line_naming_the_cameras_that_lost_most() -> None:
    counts = {f"cam-{n:02d}": n for n in range(1, 33)}  # 32 cameras, cam-32 lost most
    message = early_deletion_message(counts)
    assert message.startswith(
        "528 segment(s) of 32 camera(s) deleted before their retention period to keep free space "
        "(cam-32: 32, cam-31: 31, cam-30: 30, cam-29: 29, cam-28: 28, 27 more camera(s): 378)"
    )
    assert "cam-27" not in message
    # ties are named in camera order, so the line does not flicker between passes
    assert "(a: 1, b: 1)" in early_deletion_message({"b": 1, "a": 1})


def test_early_deletion_says_how_much_footage_each_camera_keeps_against_its_retention() -> None:
    # a: four one-minute files 10, 9, 8 and 7 days old; b: one 9.5 days old and one 3 hours old; a lock
    # keeps a's oldest file. Space needs three files: a's 9- and 8-day files and b's 9.5-day one go.
    segments = [seg(1, "a", 10), seg(2, "a", 9), seg(3, "a", 8), seg(4, "a", 7), seg(5, "b", 9.5)]
    segments.append(seg(6, "b", 0.125))
    held = [lock("a", NOW - timedelta(days=10, minutes=1), NOW - timedelta(days=9, hours=12))]
    plan = plan_deletions(segments, held, NOW, {"a": 30, "b": 14}, int(2.5 * MB))
    assert ids(plan) == [5, 2, 3]
    kept = plan.early_deletion_kept(NOW)
    # from the end of the newest file deleted early: a keeps 8 days less a minute, b 9.5 days less a minute
    assert kept == {"a": timedelta(days=8, minutes=-1), "b": timedelta(days=9.5, minutes=-1)}
    message = early_deletion_message(plan.early_deletions(), kept, {"a": 30, "b": 14})
    assert message.endswith(
        "the disk holds less than the retention days configured: footage kept a 8.0 days of 30 day(s), "
        "b 9.5 days of 14 day(s)"
    )
    # under two days in hours; a camera with no retention days has no target
    short = early_deletion_message({"c": 1}, {"c": timedelta(hours=30, minutes=6)}, {"c": None})
    assert short.endswith("footage kept c 30.1 h")


def test_archive_depth_reads_in_hours_then_days() -> None:
    assert archive_depth_text(timedelta(0)) == "0.0 h"
    assert archive_depth_text(timedelta(hours=47, minutes=54)) == "47.9 h"
    assert archive_depth_text(timedelta(days=2)) == "2.0 days"
    assert archive_depth_text(timedelta(days=30, hours=6)) == "30.2 days"


def test_locked_footage_is_never_planned() -> None:
    segments = [seg(1, "a", 40), seg(2, "a", 39), seg(3, "a", 1)]
    locked = lock(
        "a", segments[0].start_utc + timedelta(seconds=30), segments[0].end_utc + timedelta(hours=1)
    )
    plan = plan_deletions(segments, [locked], NOW, {"a": 30}, 10 * MB)
    assert ids(plan) == [2, 3]
    assert plan.protected_bytes == MB
    assert plan.shortfall_bytes == 8 * MB
    assert plan.stop_reason is GapReason.EVIDENCE_ONLY_LEFT


def test_lock_of_another_camera_does_not_protect() -> None:
    segments = [seg(1, "a", 40)]
    plan = plan_deletions(segments, [lock("b", NOW - timedelta(days=50), NOW)], NOW, {"a": 30}, 0)
    assert ids(plan) == [1]


def test_released_or_expired_locks_do_not_protect() -> None:
    segments = [seg(1, "a", 40), seg(2, "a", 40)]
    spans = [
        lock("a", NOW - timedelta(days=50), NOW, released_at=NOW - timedelta(days=1)),
        lock("a", NOW - timedelta(days=50), NOW, expires_at=NOW - timedelta(seconds=1)),
    ]
    assert ids(plan_deletions(segments, spans, NOW, {"a": 30}, 0)) == [1, 2]
    future = lock("a", NOW - timedelta(days=50), NOW, expires_at=NOW + timedelta(days=1))
    assert ids(plan_deletions(segments, [future], NOW, {"a": 30}, 0)) == []


def test_lock_touching_a_segment_edge_protects_it() -> None:
    segments = [seg(1, "a", 40)]
    edge = lock("a", segments[0].end_utc, segments[0].end_utc + timedelta(minutes=5))
    assert ids(plan_deletions(segments, [edge], NOW, {"a": 30}, 0)) == []


def test_nothing_left_to_delete_means_disk_full() -> None:
    plan = plan_deletions([], [], NOW, {"a": 30}, MB)
    assert plan.stop_reason is GapReason.DISK_FULL and plan.shortfall_bytes == MB


def test_headroom_deletes_beyond_the_floor_but_only_the_floor_stops_recording() -> None:
    segments = [seg(1, "a", 3), seg(2, "a", 2), seg(3, "a", 1)]
    # 1.5 MB to reach the floor plus its headroom; free space itself is still above the floor
    plan = plan_deletions(segments, [], NOW, {"a": 30}, int(1.5 * MB), bytes_below_floor=0)
    assert ids(plan) == [1, 2] and plan.stop_reason is None and plan.shortfall_bytes == 0
    # only evidence is left: the headroom is not freed, and that is no reason to stop recording
    locked = lock("a", NOW - timedelta(days=4), NOW)
    plan = plan_deletions(segments, [locked], NOW, {"a": 30}, int(1.5 * MB), bytes_below_floor=0)
    assert ids(plan) == [] and plan.stop_reason is None and plan.shortfall_bytes == 0
    # below the floor itself with only evidence left: stop, short by the floor's bytes, not the headroom's
    plan = plan_deletions(segments, [locked], NOW, {"a": 30}, int(1.5 * MB), bytes_below_floor=MB // 2)
    assert plan.stop_reason is GapReason.EVIDENCE_ONLY_LEFT and plan.shortfall_bytes == MB // 2


@pytest.mark.parametrize("seed", range(20))
def test_random_plans_never_touch_locked_footage(seed: int) -> None:
    rng = random.Random(seed)
    cameras = ["a", "b", "c"]
    segments = [
        seg(i, rng.choice(cameras), rng.uniform(0, 60), size=rng.randint(1, 5) * MB) for i in range(200)
    ]
    spans = []
    for _ in range(rng.randint(0, 6)):
        start = NOW - timedelta(days=rng.uniform(0, 60))
        spans.append(lock(rng.choice(cameras), start, start + timedelta(hours=rng.uniform(0.1, 48))))
    plan = plan_deletions(
        segments, spans, NOW, {c: rng.randint(1, 30) for c in cameras}, rng.randint(0, 900) * MB
    )
    for deletion in plan.deletions:
        s = deletion.segment
        assert not any(sp.covers(s.camera_id, s.start_utc, s.end_utc) for sp in spans)
    unprotected = sum(
        s.bytes for s in segments if not any(sp.covers(s.camera_id, s.start_utc, s.end_utc) for sp in spans)
    )
    assert plan.bytes_freed <= unprotected
    assert (plan.shortfall_bytes > 0) == (plan.stop_reason is not None)


# --------------------------------------------------------------------------- real files, real database


def _store_segments(db: Database, root: Path, camera: str, starts: list[datetime], size: int) -> list[Path]:
    paths = []
    with db.session() as session:
        for start in starts:
            path = segment_path(root, camera, start)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"\0" * size)
            end = start + timedelta(minutes=1)
            add_finished_segment(
                session,
                camera_id=camera,
                path=segment_relative_path(camera, start),
                start_utc=start,
                close=SegmentClose(end, 60.0, size, "0" * 64, 60),
                status=SegmentStatus.CLOSED,
            )
            paths.append(path)
    return paths


def test_apply_plan_deletes_files_marks_rows_and_rechecks_locks(database: Database, tmp_path: Path) -> None:
    starts = [NOW - timedelta(days=40, minutes=m) for m in (3, 2, 1)]
    paths = _store_segments(database, tmp_path, "cam-1", starts, 1000)
    with database.session() as session:
        rows = session.scalars(select(Segment).order_by(Segment.start_utc)).all()
        infos = [SegmentInfo(r.id, r.camera_id, r.start_utc, r.end_utc, r.bytes, r.path) for r in rows]
    plan = plan_deletions(infos, [], NOW, {"cam-1": 30}, 0)
    assert len(plan.deletions) == 3
    # a lock created after planning, and a file already gone: the lock wins, the missing file is reported
    with database.session() as session:
        create_lock(
            session,
            camera_id="cam-1",
            start_utc=starts[1] + timedelta(seconds=10),
            end_utc=starts[1] + timedelta(seconds=20),
            reason="case 17",
        )
    paths[2].unlink()
    result = apply_plan(database, plan, root=tmp_path, now=NOW)
    assert [s.path for s in result.skipped_locked] == [infos[1].path]
    assert result.missing_files == (infos[2].path,)
    assert not paths[0].exists() and paths[1].exists()
    with database.session() as session:
        statuses = {r.path: r.status for r in session.scalars(select(Segment))}
        deleted = session.scalars(select(Segment).where(Segment.status == "deleted")).all()
    assert statuses == {infos[0].path: "deleted", infos[1].path: "closed", infos[2].path: "deleted"}
    assert all(r.deleted_at == NOW for r in deleted)


@dataclass
class FakeDisk:
    """The free-space seam: a disk of ``total`` bytes whose usage is what the test's files take."""

    root: Path
    total: int
    other_used: int = 0

    def __call__(self, path: Path) -> DiskUsage:
        used = self.other_used + sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file())
        return DiskUsage(total_bytes=self.total, used_bytes=used, free_bytes=self.total - used)


@dataclass
class FakeControl:
    """Records what retention asks of a recorder (the RecordingControl seam)."""

    calls: list[str] = field(default_factory=list)

    def pause_recording(self, reason: GapReason, detail: str) -> None:
        self.calls.append(f"pause:{reason.value}")

    def resume_recording(self) -> None:
        self.calls.append("resume")


def _worker(
    database: Database,
    root: Path,
    disk: FakeDisk,
    control: FakeControl,
    *,
    min_free_bytes: int,
    clock: Callable[[], datetime] = lambda: NOW,
) -> RetentionWorker:
    """cam-1 kept 30 days, a floor of ``min_free_bytes`` on ``disk``, recording controlled by ``control``."""
    return RetentionWorker(
        db=database,
        root=root,
        settings=RetentionSettings({"cam-1": 30}, min_free_bytes=min_free_bytes, min_free_percent=0),
        controls={"cam-1": control},
        disk_usage=disk,
        clock=clock,
    )


def test_worker_frees_space_oldest_first_and_never_deletes_evidence(
    database: Database, tmp_path: Path
) -> None:
    tmp_path = tmp_path / "recordings"  # the database file lives in tmp_path: keep it off the fake disk
    starts = [NOW - timedelta(hours=10 - h) for h in range(10)]  # all young: only space pressure deletes
    paths = _store_segments(database, tmp_path, "cam-1", starts, 10_000)
    with database.session() as session:
        evidence = create_lock(
            session,
            camera_id="cam-1",
            start_utc=starts[0],
            end_utc=starts[1] + timedelta(seconds=1),
            reason="case 1",
        )
        evidence_id = evidence.id
    disk = FakeDisk(tmp_path, total=150_000)  # 100 kB used, 50 kB free; floor 75 kB -> free 25 kB
    control = FakeControl()
    clock = [NOW]
    worker = _worker(database, tmp_path, disk, control, min_free_bytes=75_000, clock=lambda: clock[0])
    status = worker.run_once()
    # 25 kB to get back to the floor, plus the headroom: two passes (2 x 60 s) of the camera's 10 kB a minute
    assert status.headroom_bytes == 20_000 and status.bytes_needed == 45_000
    assert status.last_deleted_segments == 5
    assert [p.exists() for p in paths] == [True, True] + [False] * 5 + [True] * 3
    assert status.recording_stopped is False and control.calls == []
    assert [(a.code, a.camera_id) for a in status.alarms] == [("footage_deleted_early", None)]
    assert status.alarms[0].message.startswith("5 segment(s) of 1 camera(s) deleted before their retention")
    # the newest file deleted early started 4 h ago and lasted a minute: 3 h 59 min kept of 30 days
    assert status.alarms[0].message.endswith("footage kept cam-1 4.0 h of 30 day(s)")
    assert status.forecast is not None and status.forecast.days_left is not None

    # the disk fills up (something else takes space): everything unlocked goes, then recording stops
    disk.other_used = 100_000
    status = worker.run_once()
    assert [p.exists() for p in paths] == [True, True] + [False] * 8
    assert status.recording_stopped and status.stop_reason is GapReason.EVIDENCE_ONLY_LEFT
    assert "evidence_only_left" in [a.code for a in status.alarms]
    assert control.calls == ["pause:evidence_only_left"]

    # still short: evidence kept, recording stays stopped
    worker.run_once()
    assert paths[0].exists() and paths[1].exists()

    # the case closes, the lock is released and space is back: recording resumes; the released footage is
    # young and no longer needed for space, so it simply stays until its retention ends
    with database.session() as session:
        release_lock(session, lock_id=evidence_id, at=NOW)
    disk.other_used = 20_000  # free 110 kB: above the floor (75 kB) and its headroom (20 kB)
    clock[0] = NOW + timedelta(minutes=1)
    status = worker.run_once()
    assert not status.recording_stopped
    assert control.calls == ["pause:evidence_only_left", "pause:evidence_only_left", "resume"]
    assert status.deleted_segments_total == 8 and paths[0].exists()


def test_worker_reports_database_errors_without_raising(tmp_path: Path) -> None:
    broken = Database(f"sqlite:///{tmp_path / 'absent-dir' / 'x.db'}")
    worker = RetentionWorker(
        db=broken,
        root=tmp_path,
        settings=RetentionSettings({}, min_free_bytes=0, min_free_percent=0),
        disk_usage=FakeDisk(tmp_path, total=10**9),
    )
    status = worker.run_once()
    assert status.last_error and status.alarms[0].code == "retention_error"
    broken.dispose()


def test_worker_keeps_the_floor_while_the_camera_writes_between_passes(
    database: Database, tmp_path: Path
) -> None:
    """The camera writes 10 kB a minute. One pass frees the floor and two minutes' headroom; a minute of
    writing later, free space is still above the floor (without headroom it would be 10 kB below)."""
    root = tmp_path / "recordings"
    starts = [NOW - timedelta(minutes=10 - m) for m in range(10)]
    _store_segments(database, root, "cam-1", starts, 10_000)
    disk = FakeDisk(root, total=150_000)  # 100 kB used, 50 kB free; floor 60 kB
    control = FakeControl()
    worker = _worker(database, root, disk, control, min_free_bytes=60_000)
    status = worker.run_once()
    assert status.headroom_bytes == 20_000 and status.bytes_needed == 30_000
    assert status.disk_free_bytes == 80_000 and control.calls == []
    disk.other_used += 10_000  # the next minute of footage
    assert status.floor_bytes == 60_000 and disk(root).free_bytes >= 60_000

    # the footage is evidence: the headroom cannot be freed, and recording goes on while above the floor
    with database.session() as session:
        create_lock(
            session, camera_id="cam-1", start_utc=NOW - timedelta(hours=1), end_utc=NOW, reason="case"
        )
    disk.other_used += 5_000  # free 65 kB: above the floor, inside its headroom
    status = worker.run_once()
    assert status.last_deleted_segments == 0 and not status.recording_stopped and control.calls == []
    assert [a.code for a in status.alarms] == []
