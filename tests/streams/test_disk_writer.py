"""Segment file I/O off the camera thread: the disk writer, the queued file, and a recorder whose disk stops
taking data. Real H.264 packets, real files probed with PyAV, a real database; the only seam is the file
opener (a real file whose writes wait on a gate, like a saturated or stuck disk)."""

from __future__ import annotations

import errno
import hashlib
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO, cast

import pytest

from storage.database import Database
from storage.layout import resolve_relative
from streams.disk_writer import INLINE, DiskBacklogError, DiskWriter, QueuedFile
from streams.fanout import Fanout, StreamStarted, StreamStopped
from streams.packet import MediaPacket, demuxed
from streams.recorder import Housekeeper, RecorderState, SegmentRecorder
from streams.segment_file import HashingFile
from tests.streams.test_recorder import T0, SeamFile, gaps, packets, segments, settings
from tests.support.mp4 import probe_file

SQLITE_ONLY = pytest.mark.parametrize("database", ["sqlite"], indirect=True)


@pytest.fixture(scope="module")
def pets() -> Path:
    from tests.support.paths import shared_file

    return shared_file("media", "pets09_s2l1_campus.mp4")  # 10 fps, keyframe every 1 s, ~1.2 Mbit/s


class GatedFile(SeamFile):
    """A real file whose writes wait while ``gate`` is closed (a disk that stopped taking data), or fail
    with ``fail_errno`` once set."""

    def __init__(self, path: Path, gate: threading.Event, fail_errno: list[int]) -> None:
        super().__init__(path)
        self._gate = gate
        self._fail = fail_errno
        self.writer_threads: set[str] = set()

    def write(self, data: object) -> int:
        if not self._gate.wait(30):
            raise OSError(errno.EIO, "test disk never came back")
        if self._fail:
            raise OSError(self._fail[0], "Input/output error")
        self.writer_threads.add(threading.current_thread().name)
        return super().write(data)


@pytest.fixture
def disk_writer() -> object:
    writer = DiskWriter()
    writer.start()
    yield writer
    writer.stop()


def test_queued_file_writes_in_order_on_the_writer_thread(tmp_path: Path, disk_writer: DiskWriter) -> None:
    gate, fail = threading.Event(), list[int]()
    gate.set()
    path = tmp_path / "a.bin"
    raw = GatedFile(path, gate, fail)
    target = HashingFile(cast(BinaryIO, raw), path)
    queued = QueuedFile(target, disk_writer, max_backlog_bytes=1 << 20)
    chunks = [bytes([i]) * (1000 + i) for i in range(50)]
    buffer = bytearray(chunks[0])
    queued.write(memoryview(buffer))
    buffer[:] = b"\xff" * len(buffer)  # the muxer reuses its buffer: what was handed over is already copied
    for chunk in chunks[1:]:
        queued.write(chunk)
    assert queued.tell() == sum(map(len, chunks))
    assert disk_writer.wait_idle(10)
    assert queued.pending_bytes == 0
    target.close()
    assert path.read_bytes() == b"".join(chunks)
    assert target.sha256() == hashlib.sha256(b"".join(chunks)).hexdigest()
    assert raw.writer_threads == {"disk-writer"}


def test_a_slow_disk_never_blocks_the_writer_and_an_overflow_fails_at_once(
    tmp_path: Path, disk_writer: DiskWriter
) -> None:
    gate, fail = threading.Event(), list[int]()
    path = tmp_path / "b.bin"
    target = HashingFile(cast(BinaryIO, GatedFile(path, gate, fail)), path)
    queued = QueuedFile(target, disk_writer, max_backlog_bytes=10_000)
    began = time.monotonic()
    for _ in range(4):
        queued.write(b"x" * 2_500)  # the disk takes nothing: everything waits in the queue
    with pytest.raises(DiskBacklogError) as raised:
        queued.write(b"y")
    assert time.monotonic() - began < 0.5, "the caller waited for the disk"
    assert raised.value.errno == errno.EAGAIN and "disk too slow" in str(raised.value)
    with pytest.raises(DiskBacklogError):
        queued.write(b"z")  # the file takes nothing more after an overflow
    gate.set()
    assert disk_writer.wait_idle(10)
    target.close()
    assert path.read_bytes() == b"x" * 10_000  # what was queued before the overflow is on disk


def test_a_disk_error_is_raised_by_the_next_write(tmp_path: Path, disk_writer: DiskWriter) -> None:
    gate, fail = threading.Event(), [errno.EIO]
    gate.set()
    path = tmp_path / "c.bin"
    queued = QueuedFile(
        HashingFile(cast(BinaryIO, GatedFile(path, gate, fail)), path), disk_writer, max_backlog_bytes=1 << 20
    )
    queued.write(b"a" * 100)  # queued: the failure comes later, on the writer thread
    assert disk_writer.wait_idle(10)
    with pytest.raises(OSError) as raised:
        queued.write(b"b")
    assert raised.value.errno == errno.EIO
    inline = QueuedFile(
        HashingFile(cast(BinaryIO, GatedFile(tmp_path / "d.bin", gate, fail)), tmp_path / "d.bin"),
        INLINE,
        max_backlog_bytes=1 << 20,
    )
    with pytest.raises(OSError):
        inline.write(b"c")  # inline jobs report it at once


def test_the_disk_writer_survives_a_failing_job_and_drains_on_stop() -> None:
    writer = DiskWriter()
    writer.start()
    ran: list[int] = []

    def broken() -> None:
        raise RuntimeError("boom")

    writer.submit(broken)
    for i in range(100):
        writer.submit(lambda i=i: ran.append(i))  # type: ignore[misc]
    assert writer.stop(10)
    assert ran == list(range(100))
    with pytest.raises(RuntimeError):
        writer.submit(lambda: None)
    assert writer.wait_idle(1)  # nothing left to wait for


@SQLITE_ONLY
def test_a_stuck_disk_never_stalls_the_camera_thread_and_becomes_a_gap(
    database: Database, tmp_path: Path, pets: Path, disk_writer: DiskWriter
) -> None:
    """The camera thread (here: the test, calling the fan-out as the ingest thread does) keeps publishing at
    full speed while the disk takes nothing; the viewer gets every packet; the recorder gives up on the file
    once it holds back its limit, keeps what reached the disk, opens a gap that says why, and records again
    once the disk is back."""
    items = packets(pets)[:300]  # 30 s at 10 fps
    gate, fail = threading.Event(), list[int]()

    def opener(path: Path) -> BinaryIO:
        return cast(BinaryIO, GatedFile(path, gate, fail))

    fanout = Fanout("ingest-cam-1-main")
    housekeeper = Housekeeper(interval_s=3600)  # rounds run by hand below
    recorder = SegmentRecorder(
        camera_id="cam-1",
        db=database,
        root=tmp_path,
        settings=settings(max_write_backlog_bytes=400_000, disk_retry_s=3600),
        opener=opener,
        jobs=disk_writer,
    )
    recorder.attach(fanout, housekeeper)
    viewer = fanout.subscribe("viewer", maxsize=1024)
    fmt = items[0].format
    fanout.publish(StreamStarted(fmt, T0))
    gate.set()
    publish_times: list[float] = []

    def publish(batch: list[MediaPacket], *, disk_keeps_up: bool = True) -> None:
        """Publish as fast as the test runs: ~100 times real time. While the disk works, let it keep up
        after every second of footage, as it does with a real-time camera."""
        for n, item in enumerate(batch, 1):
            began = time.monotonic()
            fanout.publish_packet(demuxed(item), fmt, item.ts_utc.timestamp(), item.arrival_utc.timestamp())
            publish_times.append(time.monotonic() - began)
            if disk_keeps_up and n % 10 == 0:
                assert disk_writer.wait_idle(10)

    publish(items[:50])  # 5 s recorded normally
    assert disk_writer.wait_idle(10)
    gate.clear()  # the disk stops taking data
    publish(items[50:100], disk_keeps_up=False)
    status = recorder.status()
    assert status.state is RecorderState.DISK_ERROR and status.alarm == "disk_too_slow"
    assert status.last_error is not None and "disk too slow" in status.last_error
    assert max(publish_times) < 0.5, f"the camera thread waited {max(publish_times):.2f} s for the disk"
    gate.set()  # the disk is back and the retry time has come: the next keyframe starts a new file
    recorder._disk_retry_at = 0.0  # the retry deadline passed (monotonic clock not faked)
    publish(items[100:300])
    assert recorder.status().state is RecorderState.RECORDING
    fanout.publish(StreamStopped(fmt, T0 + timedelta(seconds=30), "stalled", items[299].ts_utc))
    recorder.stop()
    housekeeper.run_once()

    seen = 0
    while (got := viewer.get(timeout_s=0)) is not None:
        seen += isinstance(got, MediaPacket)
    assert seen == 300, "the live viewer lost packets while the disk was stuck"
    rows = segments(database)
    assert rows[0].status == "recovered" and {r.status for r in rows[1:]} == {"closed"}
    for row in rows:
        probed = probe_file(resolve_relative(tmp_path, row.path))
        assert probed.first_is_keyframe and probed.decoded_frames == probed.packets > 0
        assert probed.sha256 == row.sha256
    assert rows[0].start_utc == T0 and rows[0].end_utc >= T0 + timedelta(seconds=5)
    found = [(g.reason, g.start_utc, g.end_utc, g.detail) for g in gaps(database)]
    assert found[0][0] == "recorder_error" and "disk too slow" in (found[0][3] or "")
    assert found[0][1] == rows[0].end_utc and found[0][2] == rows[1].start_utc
    assert rows[1].start_utc < T0 + timedelta(seconds=12)
    assert [g[0] for g in found[1:]] == ["stream_stalled", "station_stopped"]
