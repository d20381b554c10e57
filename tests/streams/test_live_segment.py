"""The open segment is readable up to its last complete fragment: real H.264 packets recorded into a real
fragmented MP4, the published prefix probed with PyAV, a real database."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from storage.database import Database
from storage.export import SegmentRef
from storage.layout import resolve_relative
from streams.clip import ClipLabel, cut_clip
from streams.hashing_reader import HashingReader
from streams.live_segment import FragmentMark, LiveFootage, iter_footage, newest_readable, open_footage
from streams.recorder import RecorderSettings, SegmentRecorder
from streams.segment_file import scan_fragments
from tests.streams.test_recorder import SQLITE_ONLY, packets, segments
from tests.support.mp4 import probe_file
from tests.support.paths import shared_file

T0 = datetime(2025, 5, 1, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def pets() -> Path:
    return shared_file("media", "pets09_s2l1_campus.mp4")  # 768x576, 10 fps, keyframe every 1 s, 79.5 s


def footage_bytes(footage: LiveFootage) -> bytes:
    return b"".join(iter_footage(open_footage(footage), footage.bytes, chunk_bytes=64 << 10))


@SQLITE_ONLY
def test_the_open_segment_is_readable_up_to_its_last_complete_fragment(
    database: Database, tmp_path: Path, pets: Path
) -> None:
    recorder = SegmentRecorder(
        camera_id="cam-1",
        db=database,
        root=tmp_path,
        settings=RecorderSettings(segment_seconds=60.0, fsync=False),
    )
    items = packets(pets)
    fed = [item for item in items if item.ts_utc < T0 + timedelta(seconds=25.05)]
    assert recorder.live_footage() == ()
    for item in fed:
        recorder.process(item)
    (footage,) = recorder.live_footage()
    assert footage.path.name.endswith(".mp4.partial") and footage.start_utc == T0
    # one fragment per second (GOP 1 s): every fragment up to the packet at 25.0 s is complete
    assert footage.end_utc == T0 + timedelta(seconds=25)
    data = footage_bytes(footage)
    copy = tmp_path / "prefix.mp4"
    copy.write_bytes(data)
    scan = scan_fragments(copy)
    assert scan.playable_end == len(data) and scan.fragments == 25
    probed = probe_file(copy)
    assert probed.first_is_keyframe and probed.monotonic
    assert probed.duration_s == pytest.approx(25.0, abs=0.01)
    assert probed.decoded_frames == 250
    with database.session():
        (row,) = segments(database)
    assert row.status == "open"  # the index row of the open file: the live footage is found by its path
    assert footage.relative_path == row.path

    for item in items[len(fed) :]:
        recorder.process(item)
    recorder.stop()
    closed = segments(database)[0]  # 60 s, then the rest of the 79.5 s clip in a second file
    assert closed.status == "closed" and closed.path == footage.relative_path
    assert recorder.live_footage() == ()  # the index serves it now
    # the prefix served while open is the closed file's prefix, byte for byte: its hash stays checkable
    final = resolve_relative(tmp_path, closed.path)
    assert final.read_bytes()[: footage.bytes] == data
    assert hashlib.sha256(data).hexdigest() == hashlib.sha256(final.read_bytes()[: len(data)]).hexdigest()


def test_newest_readable_takes_the_newest_mark_the_disk_holds() -> None:
    marks = [FragmentMark(100, T0), FragmentMark(200, T0 + timedelta(seconds=1))]
    assert newest_readable(marks, 250) == marks[1]
    assert newest_readable(marks, 199) == marks[0]  # the disk lags the muxer: the older fragment
    assert newest_readable(marks, 99) is None
    assert newest_readable([], 1000) is None


@SQLITE_ONLY
def test_a_clip_of_the_open_segment_copies_and_hashes_exactly_its_complete_fragments(
    database: Database, tmp_path: Path, pets: Path
) -> None:
    root = tmp_path / "rec"
    recorder = SegmentRecorder(
        camera_id="cam-1",
        db=database,
        root=root,
        settings=RecorderSettings(segment_seconds=60.0, fsync=False),
    )
    items = packets(pets)
    fed = [item for item in items if item.ts_utc < T0 + timedelta(seconds=12.05)]
    for item in fed:
        recorder.process(item)
    (footage,) = recorder.live_footage()
    for item in items[len(fed) : len(fed) + 50]:  # the recorder goes on writing while the clip is cut
        recorder.process(item)
    source = SegmentRef(
        id=1,
        camera_id="cam-1",
        path=footage.path,
        relative_path=footage.relative_path,
        start_utc=footage.start_utc,
        end_utc=footage.end_utc,
        sha256=None,
        bytes=footage.bytes,
        growing=True,
    )
    result = cut_clip(
        tmp_path / "clip.mp4",
        ClipLabel("S", "UTC", "cam-1", "One"),
        T0 + timedelta(seconds=5),
        T0 + timedelta(seconds=20),
        [source],
        now=T0 + timedelta(seconds=20),
    )
    (clip,) = result.files
    (use,) = clip.sources
    assert use.hashed_bytes == footage.bytes
    assert use.sha256 == hashlib.sha256(footage_bytes(footage)).hexdigest()
    assert clip.start_utc == T0 + timedelta(seconds=5) and clip.end_utc == T0 + timedelta(seconds=12)
    probed = probe_file(clip.path)
    assert probed.first_is_keyframe and probed.duration_s == pytest.approx(7.0, abs=0.01)
    recorder.stop()


def test_a_hashing_reader_of_a_size_reads_and_hashes_only_that_many_bytes(tmp_path: Path) -> None:
    path = tmp_path / "growing.bin"
    path.write_bytes(bytes(range(256)) * 40)
    with HashingReader(path, size=1000) as reader:
        assert reader.seek(0, 2) == 1000
        reader.seek(990)
        assert reader.read(100) == path.read_bytes()[990:1000]
        assert reader.read() == b""
        assert reader.finish() == hashlib.sha256(path.read_bytes()[:1000]).hexdigest()
    with HashingReader(path, size=20_000) as reader, pytest.raises(OSError, match="ended"):
        reader.finish()  # shorter than its footage: not vouched for
