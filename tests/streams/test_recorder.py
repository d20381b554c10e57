"""SegmentRecorder with real H.264 packets (demuxed from real MP4 files), real files probed by PyAV and a real
database (SQLite and PostgreSQL)."""

from __future__ import annotations

import errno
import io
import itertools
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO, cast

import av
import pytest
from sqlalchemy import event, select

from storage.database import Database
from storage.layout import resolve_relative
from storage.model import Gap, GapReason, Segment
from streams.fanout import Fanout, PacketsDropped, StreamStarted, StreamStopped
from streams.packet import MediaPacket
from streams.recorder import (
    RecorderSettings,
    RecorderState,
    SegmentRecorder,
    gap_reason_for,
    plan_hole,
)
from tests.support.mp4 import DemuxOptions, demux_packets, probe_file
from tests.support.paths import shared_file

T0 = datetime(2025, 5, 1, 8, 0, tzinfo=UTC)
SQLITE_ONLY = pytest.mark.parametrize("database", ["sqlite"], indirect=True)


@pytest.fixture(scope="module")
def pets() -> Path:
    return shared_file("media", "pets09_s2l1_campus.mp4")  # 768x576, 10 fps, keyframe every 1 s, 79.5 s


def packets(path: Path, start: datetime = T0, **options: Any) -> list[MediaPacket]:
    return list(demux_packets(path, start_utc=start, options=DemuxOptions(**options)))


def settings(**overrides: float) -> RecorderSettings:
    values: dict[str, float] = {"segment_seconds": 10.0, "fsync": False}
    values.update(overrides)
    return RecorderSettings(**values)  # type: ignore[arg-type]


def segments(db: Database) -> list[Segment]:
    with db.session() as session:
        return list(session.scalars(select(Segment).order_by(Segment.start_utc)))


def gaps(db: Database) -> list[Gap]:
    with db.session() as session:
        return list(session.scalars(select(Gap).order_by(Gap.start_utc, Gap.id)))


def feed(recorder: SegmentRecorder, items: Sequence[object]) -> None:
    for item in items:
        recorder.process(item)  # type: ignore[arg-type]


def check_segment_files(
    db: Database, root: Path, target_s: float, gop_s: float, *, continuous: bool = True
) -> list[Segment]:
    """Every closed segment: on disk, playable from a keyframe, monotonic, hash and size as indexed."""
    rows = segments(db)
    assert rows, "nothing recorded"
    for row in rows:
        path = resolve_relative(root, row.path)
        probed = probe_file(path)
        assert row.status == "closed"
        assert probed.first_is_keyframe and probed.monotonic
        assert probed.decoded_frames == probed.packets
        assert probed.sha256 == row.sha256 and path.stat().st_size == row.bytes
        assert probed.keyframes == row.keyframes
        assert abs(probed.duration_s - row.duration_s) < 0.2
        assert not path.with_name(path.name + ".partial").exists()
    if continuous:
        for row in rows[:-1]:
            assert target_s <= row.duration_s <= target_s + gop_s + 0.01
        for previous, current in itertools.pairwise(rows):
            assert current.start_utc == previous.end_utc  # consecutive files touch: no hidden hole
    return rows


class HeldJobs:
    """File jobs that run only when the test says: a disk that has not yet taken a closed file."""

    def __init__(self) -> None:
        self.jobs: list[Callable[[], None]] = []

    def submit(self, job: Callable[[], None]) -> None:
        self.jobs.append(job)

    def run(self) -> None:
        while self.jobs:
            self.jobs.pop(0)()

    def wait_idle(self, timeout_s: float) -> bool:
        self.run()
        return True


@SQLITE_ONLY
def test_bytes_written_never_falls_back_while_closed_files_wait_for_the_disk(
    database: Database, tmp_path: Path, pets: Path
) -> None:
    jobs = HeldJobs()
    recorder = SegmentRecorder(camera_id="cam-1", db=database, root=tmp_path, settings=settings(), jobs=jobs)
    seen = []
    for item in packets(pets)[:250]:  # 25 s: two files close, and neither reaches the disk yet
        recorder.process(item)
        seen.append(recorder.status().bytes_written)
    assert recorder.status().segments_closed == 0 and seen[-1] > 0
    assert all(later >= earlier for earlier, later in itertools.pairwise(seen))
    jobs.run()  # the disk takes the two closed files: their sizes replace what the muxer had output
    recorder.stop()
    rows = segments(database)
    assert len(rows) == 3 and recorder.status().bytes_written == sum(r.bytes for r in rows)


def test_a_rolling_cut_keeps_one_span_without_merging_rows(
    database: Database, tmp_path: Path, pets: Path
) -> None:
    """As in the station, a file's row closes only after the next file's row opened (the close waits for the
    disk writer's hash): the rolling cut moves the old row's end to the cut first, so the new row joins its
    span at once and no span is ever merged (the ORM's slow path, most of the index CPU in the station)."""
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(" ".join(statement.split()))

    jobs = HeldJobs()
    recorder = SegmentRecorder(camera_id="cam-1", db=database, root=tmp_path, settings=settings(), jobs=jobs)
    event.listen(database.engine, "before_cursor_execute", count)
    try:
        items = packets(pets)[:450]  # 45 s: four rolling cuts
        for start in range(0, len(items), 25):
            feed(recorder, items[start : start + 25])  # the new file's row is written here...
            jobs.run()  # ...and the closed file's close is queued after it
        recorder.stop()
    finally:
        event.remove(database.engine, "before_cursor_execute", count)
    rows = check_segment_files(database, tmp_path, target_s=10.0, gop_s=1.0)
    assert len(rows) == 5 and {row.span_id for row in rows} == {1}
    assert not [s for s in statements if s.startswith("UPDATE segments SET span_id")], statements


@SQLITE_ONLY
@pytest.mark.parametrize(
    "options",
    [
        pytest.param({}, id="annexb-rtsp-like"),
        pytest.param({"annexb": False}, id="avcc-file-source"),
        pytest.param({"extradata": False}, id="no-extradata"),
    ],
)
def test_records_keyframe_aligned_segments(
    database: Database, tmp_path: Path, pets: Path, options: dict[str, Any]
) -> None:
    items = packets(pets, **options)[3:]  # join mid-GOP: 7 packets until the next keyframe
    recorder = SegmentRecorder(camera_id="cam-1", db=database, root=tmp_path, settings=settings())
    feed(recorder, items)
    recorder.stop()
    rows = check_segment_files(database, tmp_path, target_s=10.0, gop_s=1.0)
    status = recorder.status()
    assert status.packets_skipped_before_keyframe == 7
    assert status.packets_written == len(items) - 7
    assert len(rows) == 8 and rows[0].start_utc == T0 + timedelta(seconds=1)
    assert rows[-1].end_utc == T0 + timedelta(seconds=79.5)
    assert (
        sum(probe_file(resolve_relative(tmp_path, r.path), decode=False).packets for r in rows)
        == len(items) - 7
    )
    assert status.state is RecorderState.STOPPED and status.bytes_written == sum(r.bytes for r in rows)
    assert (rows[0].codec, rows[0].width, rows[0].height) == ("h264", 768, 576)
    # the avcC record is the camera's own (Main profile), not an encoder's
    with av.open(str(resolve_relative(tmp_path, rows[0].path))) as container:
        avcc = bytes(container.streams.video[0].codec_context.extradata or b"")
    with av.open(str(pets)) as source:
        assert avcc[1:4] == bytes(source.streams.video[0].codec_context.extradata or b"")[1:4]
    assert [g.reason for g in gaps(database)] == ["station_stopped"]


def test_stream_end_gap_and_resume_on_next_connection(database: Database, tmp_path: Path, pets: Path) -> None:
    first = packets(pets)[:45]  # 4.5 s
    second = packets(pets, start=T0 + timedelta(seconds=12), connection_id=2)[:30]
    fmt = first[0].format
    recorder = SegmentRecorder(camera_id="cam-1", db=database, root=tmp_path, settings=settings())
    feed(recorder, [StreamStarted(fmt, T0), *first])
    assert recorder.status().state is RecorderState.RECORDING
    feed(recorder, [StreamStopped(fmt, T0 + timedelta(seconds=9), "ended", first[-1].ts_utc)])
    status = recorder.status()
    assert status.state is RecorderState.NO_SIGNAL and status.gap_reason is GapReason.CAMERA_UNREACHABLE
    # the failing reconnects repeat the same reason: still one gap
    feed(
        recorder,
        [StreamStopped(fmt, T0 + timedelta(seconds=10), "connect_failed", None)],
    )
    feed(recorder, [StreamStarted(second[0].format, T0 + timedelta(seconds=12)), *second])
    recorder.stop()
    rows = check_segment_files(database, tmp_path, target_s=10.0, gop_s=1.0, continuous=False)
    assert [r.start_utc for r in rows] == [T0, T0 + timedelta(seconds=12)]
    assert rows[0].end_utc == T0 + timedelta(seconds=4.5)
    found = [(g.reason, g.start_utc, g.end_utc) for g in gaps(database)]
    assert found == [
        ("camera_unreachable", T0 + timedelta(seconds=4.5), T0 + timedelta(seconds=12)),
        ("station_stopped", T0 + timedelta(seconds=15), None),
    ]


@SQLITE_ONLY
def test_stall_and_lost_packets_and_jumps_become_gaps(database: Database, tmp_path: Path, pets: Path) -> None:
    items = packets(pets)[:100]
    recorder = SegmentRecorder(
        camera_id="cam-1", db=database, root=tmp_path, settings=settings(segment_seconds=60)
    )
    feed(recorder, items[:20])
    feed(recorder, [PacketsDropped(12, items[20].ts_utc, items[31].ts_utc)])  # recorder fell behind
    feed(recorder, items[32:60])  # resumes on the keyframe at 3.0 s? -> 32 is not one: waits for 4.0 s
    # a silence of 20 s inside one connection (no StreamStopped): cut, gap, resume
    later = packets(pets, start=T0 + timedelta(seconds=26))[60:80]
    later = [
        MediaPacket(items[0].format, p.data, p.pts, p.dts, p.duration, p.is_keyframe, p.ts_utc, p.arrival_utc)
        for p in later
    ]
    feed(
        recorder,
        [StreamStopped(items[0].format, T0 + timedelta(seconds=6), "stalled", items[59].ts_utc)],
    )
    feed(recorder, later)
    recorder.stop()
    reasons = [(g.reason, g.start_utc, g.end_utc) for g in gaps(database)]
    assert reasons[0] == ("recorder_error", T0 + timedelta(seconds=2), T0 + timedelta(seconds=4))
    assert reasons[1] == ("stream_stalled", T0 + timedelta(seconds=6), T0 + timedelta(seconds=32))
    assert reasons[2][0] == "station_stopped"
    assert recorder.status().packets_lost_upstream == 12
    check_segment_files(database, tmp_path, target_s=60.0, gop_s=1.0, continuous=False)


def test_frames_missing_inside_a_connection_become_a_gap_row_without_cutting_the_file(
    database: Database, tmp_path: Path, pets: Path
) -> None:
    items = packets(pets)[:90]  # 10 fps, keyframe every 10 packets
    recorder = SegmentRecorder(camera_id="cam-1", db=database, root=tmp_path, settings=settings())
    # the server drops 3.1 s .. 5.0 s (19 frames), then 6.5 s .. 6.9 s (4 frames: under the threshold)
    kept = [*items[:31], *items[50:65], *items[69:90]]
    feed(recorder, [StreamStarted(items[0].format, T0), *kept])
    status = recorder.status()
    assert status.state is RecorderState.RECORDING and status.timestamp_holes == 1
    recorder.stop()
    rows = check_segment_files(database, tmp_path, target_s=10.0, gop_s=1.0)
    assert len(rows) == 1 and rows[0].start_utc == T0  # one file over the hole: it plays
    assert probe_file(resolve_relative(tmp_path, rows[0].path), decode=False).packets == len(kept)
    found = [(g.reason, g.start_utc, g.end_utc, g.detail) for g in gaps(database)]
    assert found[0] == (
        "stream_error",
        T0 + timedelta(seconds=3.1),
        T0 + timedelta(seconds=5),
        "19 frames missing (timestamps jump 1.90 s)",
    )
    assert [g[0] for g in found[1:]] == ["station_stopped"]


@pytest.mark.parametrize(
    ("jump_s", "fps", "expected"),
    [
        (0.04, 25.0, None),  # the next frame
        (0.9, 25.0, None),  # under the 1 s floor
        (1.2, 25.0, 30),
        (2.5, 1.0, None),  # a 1 fps camera: 3 frame intervals
        (3.5, 1.0, 4),
    ],
)
def test_plan_hole(jump_s: float, fps: float, expected: int | None) -> None:
    hole = plan_hole(T0, T0 + timedelta(seconds=jump_s), frame_interval_s=1 / fps, threshold_s=1.0)
    assert (hole.missing_frames if hole is not None else None) == expected
    if hole is not None:
        assert (hole.start_utc, hole.end_utc) == (T0, T0 + timedelta(seconds=jump_s))


class SeamFile(io.RawIOBase):
    """The file-opening seam: a real file (created as the recorder's opener does) whose ``write`` a
    subclass makes misbehave like a failing disk."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self._raw = path.open("xb", buffering=0)

    def writable(self) -> bool:
        return True

    def write(self, data: object) -> int:
        return self._raw.write(data)  # type: ignore[arg-type]

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()

    def fileno(self) -> int:
        return self._raw.fileno()

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()


class FullDisk(SeamFile):
    """A real file that raises ENOSPC once ``limit`` bytes are written."""

    def __init__(self, path: Path, limit: int) -> None:
        super().__init__(path)
        self._limit = limit
        self._written = 0

    def write(self, data: object) -> int:
        view = memoryview(data).cast("B")  # type: ignore[arg-type]
        if self._written + len(view) > self._limit:
            raise OSError(errno.ENOSPC, "No space left on device")
        self._written += len(view)
        return super().write(view)


@SQLITE_ONLY
def test_disk_full_saves_what_is_complete_raises_alarm_and_retries(
    database: Database, tmp_path: Path, pets: Path
) -> None:
    items = packets(pets)[:120]
    full = [True]

    def opener(path: Path) -> BinaryIO:
        return cast(BinaryIO, FullDisk(path, 600_000 if full[0] else 10**12))

    recorder = SegmentRecorder(
        camera_id="cam-1", db=database, root=tmp_path, settings=settings(disk_retry_s=3600), opener=opener
    )
    feed(recorder, items[:60])
    status = recorder.status()
    assert status.state is RecorderState.DISK_ERROR and status.alarm == "disk_full"
    assert status.last_error is not None and "No space left" in status.last_error
    rows = segments(database)
    assert [r.status for r in rows] == ["recovered"]
    salvaged = probe_file(resolve_relative(tmp_path, rows[0].path))
    assert salvaged.first_is_keyframe and salvaged.decoded_frames == salvaged.packets > 0
    assert salvaged.sha256 == rows[0].sha256
    assert [(g.reason, g.end_utc) for g in gaps(database)] == [("disk_full", None)]
    assert gaps(database)[0].start_utc == rows[0].end_utc
    # space is back and the retry time has come: recording resumes at the next keyframe, the gap closes
    full[0] = False
    recorder.settings = settings(disk_retry_s=0)
    recorder._disk_retry_at = 0.0  # the retry deadline passed (monotonic clock not faked)
    feed(recorder, items[60:120])
    status = recorder.status()
    assert status.state is RecorderState.RECORDING and status.alarm is None
    recorder.stop()
    disk_gap = gaps(database)[0]
    assert disk_gap.reason == "disk_full" and disk_gap.end_utc == T0 + timedelta(seconds=6)


def test_retention_pause_stops_recording_with_alarm_then_resumes(
    database: Database, tmp_path: Path, pets: Path
) -> None:
    items = packets(pets)[:90]
    recorder = SegmentRecorder(camera_id="cam-1", db=database, root=tmp_path, settings=settings())
    feed(recorder, items[:30])
    recorder.pause_recording(GapReason.EVIDENCE_ONLY_LEFT, "only evidence left")
    feed(recorder, items[30:60])
    status = recorder.status()
    assert status.state is RecorderState.STOPPED_BY_RETENTION
    assert status.stop_reason is GapReason.EVIDENCE_ONLY_LEFT and status.alarm == "evidence_only_left"
    assert status.packets_dropped_not_recording == 30  # the request applies before the next packet
    recorder.resume_recording()
    feed(recorder, items[60:90])
    assert recorder.status().state is RecorderState.RECORDING
    recorder.stop()
    found = [(g.reason, g.start_utc, g.end_utc) for g in gaps(database)]
    assert found[0] == ("evidence_only_left", T0 + timedelta(seconds=3), T0 + timedelta(seconds=6))
    assert len(segments(database)) == 2


@SQLITE_ONLY
@pytest.mark.parametrize("wake_every", [1, 32])
def test_thread_consumes_a_fanout_subscription(
    database: Database, tmp_path: Path, pets: Path, wake_every: int
) -> None:
    items = packets(pets)[:50]
    fanout = Fanout("ingest-cam-1-main")
    subscription = fanout.subscribe("recorder", maxsize=1024, wake_every=wake_every)
    recorder = SegmentRecorder(camera_id="cam-1", db=database, root=tmp_path, settings=settings())
    recorder.start(subscription)
    fanout.publish(StreamStarted(items[0].format, T0))
    for item in items:
        fanout.publish(item)
    deadline = datetime.now(UTC) + timedelta(seconds=10)
    while wake_every == 1 and recorder.status().packets_written < 50 and datetime.now(UTC) < deadline:
        time.sleep(0.05)
    # batched: stop at once; what is still queued is written before the file closes
    assert recorder._thread is not None and recorder._thread.name == "recorder-cam-1"
    recorder.stop()
    assert recorder.status().packets_written == 50
    assert [r.duration_s for r in check_segment_files(database, tmp_path, 10.0, 1.0)] == [5.0]


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("ended", GapReason.CAMERA_UNREACHABLE),
        ("connect_failed", GapReason.CAMERA_UNREACHABLE),
        ("stalled", GapReason.STREAM_STALLED),
        ("unauthorized", GapReason.UNAUTHORIZED),
        ("timestamps_backwards", GapReason.STREAM_ERROR),
        ("stream_stalled", GapReason.STREAM_STALLED),
        ("disk_full", GapReason.DISK_FULL),
        ("whatever", GapReason.STREAM_ERROR),
    ],
)
def test_gap_reason_mapping(reason: str, expected: GapReason) -> None:
    assert gap_reason_for(reason) is expected


def test_a_batch_writes_its_index_changes_together_and_a_refused_one_drops_only_itself(
    database: Database, tmp_path: Path, pets: Path
) -> None:
    items = packets(pets)
    recorder = SegmentRecorder(camera_id="cam-1", db=database, root=tmp_path, settings=settings())
    first_part = [p for p in items if p.ts_utc < T0 + timedelta(seconds=5)]
    recorder.process_many(first_part)
    [opened] = segments(database)
    assert opened.status == "open"
    with database.session() as session:  # someone removes the open row behind the recorder's back
        session.delete(session.get(Segment, opened.id))
    recorder.process_many(items[len(first_part) :])  # close (refused: no row) + 7 opens and closes
    recorder.stop()
    rows = segments(database)
    assert len(rows) == 7 and all(r.status == "closed" for r in rows)
    assert rows[0].start_utc == T0 + timedelta(seconds=10)
    status = recorder.status()
    assert status.db_pending_ops == 0
    assert status.last_error is not None and "refused" in status.last_error


@SQLITE_ONLY
def test_video_never_waits_for_another_writer_of_the_sqlite_index(
    database: Database, tmp_path: Path, pets: Path
) -> None:
    lock = database.write_lock
    assert lock is not None
    recorder = SegmentRecorder(camera_id="cam-1", db=database, root=tmp_path, settings=settings())
    items = packets(pets)[:250]  # 25 s: two segments cut
    with lock:  # another recorder is writing
        began = time.monotonic()
        recorder.process_many(items)
        assert time.monotonic() - began < 5.0
        status = recorder.status()
        assert status.packets_written == 250 and status.db_pending_ops >= 3
        assert segments(database) == []
    recorder.tick()  # the next batch (or tick) writes what was queued
    assert recorder.status().db_pending_ops == 0
    assert [row.status for row in segments(database)] == ["closed", "closed", "open"]
    recorder.stop()


def test_a_segment_rollover_never_reads_as_not_recording(
    database: Database, tmp_path: Path, pets: Path
) -> None:
    """Between closing a full file and opening the next on the same keyframe, status() says RECORDING."""
    seen: list[RecorderState] = []
    recorder: SegmentRecorder | None = None

    def opener(path: Path) -> BinaryIO:
        if recorder is not None:
            seen.append(recorder.status().state)  # what a health sample reads while the next file opens
        return path.open("xb", buffering=0)

    recorder = SegmentRecorder(
        camera_id="cam-1", db=database, root=tmp_path, settings=settings(), opener=opener
    )
    feed(recorder, packets(pets)[:250])  # 25 s: two rollovers after the first file
    assert len(seen) == 3  # the first file, then two rollovers
    assert seen[1:] == [RecorderState.RECORDING, RecorderState.RECORDING]
    recorder.stop()
