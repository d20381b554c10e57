"""Retention and recording together: only evidence left -> the camera stops recording, with an alarm."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from storage.database import Database
from storage.disk import DiskUsage
from storage.layout import resolve_relative
from storage.lock import create_lock
from storage.model import Gap, GapReason, Segment
from storage.retention import RetentionSettings, RetentionWorker
from streams.recorder import RecorderSettings, RecorderState, SegmentRecorder
from tests.support.mp4 import demux_packets, probe_file
from tests.support.paths import shared_file

T0 = datetime(2025, 5, 1, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_only_locked_footage_left_stops_recording_and_keeps_evidence(
    database: Database, tmp_path: Path
) -> None:
    root = tmp_path / "rec"
    items = list(demux_packets(shared_file("media", "pets09_s2l1_campus.mp4"), start_utc=T0))[:400]
    recorder = SegmentRecorder(
        camera_id="cam-1", db=database, root=root, settings=RecorderSettings(segment_seconds=10, fsync=False)
    )
    for item in items[:350]:
        recorder.process(item)
    with database.session() as session:
        create_lock(
            session, camera_id="cam-1", start_utc=T0, end_utc=T0 + timedelta(seconds=15), reason="case 7"
        )
    used = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    worker = RetentionWorker(
        db=database,
        root=root,
        settings=RetentionSettings({"cam-1": 30}, min_free_bytes=10**9, min_free_percent=0),
        controls={"cam-1": recorder},
        disk_usage=lambda _: DiskUsage(total_bytes=used + 1000, used_bytes=used, free_bytes=1000),
        clock=lambda: T0 + timedelta(minutes=1),
    )
    status = worker.run_once()
    assert status.stop_reason is GapReason.EVIDENCE_ONLY_LEFT and status.recording_stopped
    recorder.process(items[350])  # the recorder applies the request on its next item
    rec = recorder.status()
    assert rec.state is RecorderState.STOPPED_BY_RETENTION and rec.alarm == "evidence_only_left"
    for item in items[351:]:
        recorder.process(item)
    assert recorder.status().packets_dropped_not_recording == 50
    with database.session() as session:
        segments = session.scalars(select(Segment).order_by(Segment.start_utc)).all()
        gap = session.scalars(select(Gap)).one()
    kept = [s for s in segments if s.status == "closed"]
    assert [s.start_utc for s in kept] == [T0, T0 + timedelta(seconds=10), T0 + timedelta(seconds=30)]
    for segment in kept:
        assert probe_file(resolve_relative(root, segment.path), decode=False).sha256 == segment.sha256
    # the unlocked file went; the locked ones stay; the file open when recording stopped was closed, not lost
    assert [s.status for s in segments] == ["closed", "closed", "deleted", "closed"]
    assert (gap.reason, gap.end_utc) == ("evidence_only_left", None)
    recorder.stop()
