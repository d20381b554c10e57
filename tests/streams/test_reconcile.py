"""Start-up reconcile after crashes: truncated fragments, kill -9, orphans, missing files, garbage."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from storage.database import Database
from storage.layout import partial_path, resolve_relative, segment_path, segment_relative_path
from storage.model import Gap, Segment, SegmentStatus
from storage.segment import SegmentClose, add_finished_segment
from streams.reconcile import reconcile_recordings
from streams.recorder import RecorderSettings, SegmentRecorder
from streams.segment_file import scan_fragments
from streams.segment_writer import SegmentWriter
from tests.support.mp4 import DemuxOptions, demux_packets, probe_file
from tests.support.paths import REPO_ROOT, shared_file

T0 = datetime(2025, 5, 1, 8, 0, tzinfo=UTC)
SQLITE_ONLY = pytest.mark.parametrize("database", ["sqlite"], indirect=True)


@pytest.fixture(scope="module")
def pets() -> Path:
    return shared_file("media", "pets09_s2l1_campus.mp4")


def rows(db: Database) -> list[Segment]:
    with db.session() as session:
        return list(session.scalars(select(Segment).order_by(Segment.start_utc)))


def test_partial_truncated_mid_fragment_is_recovered(database: Database, tmp_path: Path, pets: Path) -> None:
    root = tmp_path / "rec"
    items = list(demux_packets(pets, start_utc=T0))[:64]  # 6.4 s received
    recorder = SegmentRecorder(
        camera_id="cam-1", db=database, root=root, settings=RecorderSettings(segment_seconds=60, fsync=False)
    )
    for item in items:
        recorder.process(item)
    # the station dies here: no close, no rename. Tear the last fragment as a power cut would.
    (open_row,) = rows(database)
    partial = partial_path(resolve_relative(root, open_row.path))
    scan = scan_fragments(partial)
    torn = scan.file_size - 3000
    os.truncate(partial, torn)
    assert open_row.status == "open"

    report = reconcile_recordings(database, root, camera_ids=["cam-1"], now=T0 + timedelta(minutes=5))
    assert report.recovered == [open_row.path] and report.clean
    assert report.bytes_cut > 0
    (row,) = rows(database)
    final = resolve_relative(root, row.path)
    assert not partial.exists() and final.exists()
    probed = probe_file(final)
    assert probed.first_is_keyframe and probed.monotonic and probed.decoded_frames == probed.packets
    assert row.status == "recovered" and row.sha256 == probed.sha256 and row.bytes == final.stat().st_size
    assert 6.4 - row.duration_s <= 2.0, f"lost {6.4 - row.duration_s:.1f} s"
    assert row.end_utc == T0 + timedelta(seconds=row.duration_s)
    # the crash left no open gap: one is opened from the end of the footage for the recorder to close
    with database.session() as session:
        (gap,) = session.scalars(select(Gap)).all()
        assert (gap.reason, gap.start_utc, gap.end_utc) == ("station_stopped", row.end_utc, None)
    # a second run finds nothing to do
    again = reconcile_recordings(database, root, camera_ids=["cam-1"], now=T0 + timedelta(minutes=6))
    assert not (again.recovered or again.orphans_indexed or again.gaps_opened or again.garbage_removed)


CHILD = """
import sys, time
from datetime import UTC, datetime
from pathlib import Path
from storage.database import Database
from streams.recorder import RecorderSettings, SegmentRecorder
from tests.support.mp4 import demux_packets

db = Database(sys.argv[1])
root = Path(sys.argv[2])
start = datetime.fromisoformat(sys.argv[4])
recorder = SegmentRecorder(camera_id="cam-1", db=db, root=root, settings=RecorderSettings(segment_seconds=60))
began = time.monotonic()
for packet in demux_packets(Path(sys.argv[3]), start_utc=start):
    offset = (packet.ts_utc - start).total_seconds()
    time.sleep(max(0.0, began + offset / 4 - time.monotonic()))  # 4x real time
    recorder.process(packet)
    print(f"{offset:.3f}", flush=True)
"""


@SQLITE_ONLY
@pytest.mark.timeout(60)
def test_kill_9_mid_segment_loses_at_most_about_one_fragment(
    database: Database, tmp_path: Path, pets: Path
) -> None:
    root = tmp_path / "rec"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, database.url, str(root), str(pets), T0.isoformat()],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO_ROOT,
    )
    received = 0.0
    assert child.stdout is not None
    try:
        for line in child.stdout:
            received = float(line)
            if received >= 7.45:
                break
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    assert received >= 7.45, "the child recorder did not get going"
    time.sleep(0.1)
    report = reconcile_recordings(database, root, camera_ids=["cam-1"], now=T0 + timedelta(minutes=1))
    assert len(report.recovered) == 1 and report.clean
    (row,) = rows(database)
    final = resolve_relative(root, row.path)
    probed = probe_file(final)
    assert probed.first_is_keyframe and probed.decoded_frames == probed.packets
    assert row.status == "recovered" and row.sha256 == probed.sha256
    footage_received = received + 0.1  # the last packet's own duration
    assert footage_received - row.duration_s <= 2.0, f"kill -9 lost {footage_received - row.duration_s:.2f} s"
    assert list(root.rglob("*.partial")) == []


@SQLITE_ONLY
def test_orphans_missing_rows_garbage_and_foreign_files(
    database: Database, tmp_path: Path, pets: Path
) -> None:
    root = tmp_path / "rec"
    items = list(demux_packets(pets, start_utc=T0, options=DemuxOptions(camera_id="cam-2")))[:30]
    # 1. a closed file whose row never made it (database was down)
    orphan = segment_path(root, "cam-2", T0)
    writer = SegmentWriter(path=orphan, stream_format=items[0].format, fsync=False)
    base = items[0].dts or 0
    for item in items:
        writer.write(item, pts=(item.pts or 0) - base, dts=(item.dts or 0) - base)
    writer.close()
    # 2. a row whose file is gone
    gone_start = T0 - timedelta(minutes=2)
    with database.session() as session:
        add_finished_segment(
            session,
            camera_id="cam-2",
            path=segment_relative_path("cam-2", gone_start),
            start_utc=gone_start,
            close=SegmentClose(gone_start + timedelta(minutes=1), 60.0, 1234, "0" * 64, 60),
            status=SegmentStatus.CLOSED,
        )
    # 3. a header-only partial (killed before the first fragment) and 4. files that are not ours
    header_only = partial_path(segment_path(root, "cam-2", T0 + timedelta(minutes=1)))
    header_only.write_bytes(orphan.read_bytes()[:700])
    stray = orphan.parent / "operator-notes.txt"
    stray.write_text("do not delete")
    empty_camera_dir = root / "Not A Camera"
    empty_camera_dir.mkdir()

    report = reconcile_recordings(database, root, now=T0 + timedelta(minutes=10))
    assert report.orphans_indexed == [segment_relative_path("cam-2", T0)]
    assert report.missing_files == [segment_relative_path("cam-2", gone_start)]
    assert report.garbage_removed == [segment_relative_path("cam-2", T0 + timedelta(minutes=1)) + ".partial"]
    assert str(stray) in report.foreign_files and str(empty_camera_dir) in report.foreign_files
    assert stray.exists() and not header_only.exists()
    by_path = {r.path: r for r in rows(database)}
    indexed = by_path[segment_relative_path("cam-2", T0)]
    assert indexed.status == "closed" and indexed.sha256 == probe_file(orphan, decode=False).sha256
    assert indexed.duration_s == pytest.approx(3.0)
    assert by_path[segment_relative_path("cam-2", gone_start)].status == "closed"  # reported, not deleted
    assert report.gaps_opened == ["cam-2"]
