"""Clip cutting by stream copy from real fragmented-MP4 segments (encoded by tests.support.segments)."""

from __future__ import annotations

import dataclasses
import io
import itertools
import shutil
import struct
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import pytest

from storage.evidence.manifest import FileEntry
from storage.evidence.writer import PackageWriter
from storage.evidence.zip_stream import ClipMember
from storage.export import ExportRangeError, InvalidCameraIdError, NoFootageError, SegmentChangedError
from streams.clip import ClipLabel, ClipResult, clip_metadata, cut_clip, part_path
from tests.support.segments import (
    MARKED_START_UTC,
    MarkedSegments,
    SegmentFile,
    file_sha256,
    make_marked_segments,
    read_frame_mark,
    segment_refs,
    write_segment_set,
)

LABEL = ClipLabel("Опорный пункт 5", "Asia/Almaty", "cam-1", "Подъезд 1")
NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def marked_segments(tmp_path_factory: pytest.TempPathFactory) -> MarkedSegments:
    return make_marked_segments(tmp_path_factory.mktemp("recordings"))


def _decoded_marks(path: Path) -> list[int]:
    with av.open(str(path)) as container:
        return [read_frame_mark(frame) for frame in container.decode(video=0)]


def _packet_dts(path: Path) -> list[int]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [p.dts for p in container.demux(stream) if p.size and p.dts is not None]


def _cut(segs: MarkedSegments, tmp_path: Path, start_s: float, end_s: float, **kwargs: object) -> ClipResult:
    start = MARKED_START_UTC + timedelta(seconds=start_s)
    end = MARKED_START_UTC + timedelta(seconds=end_s)
    return cut_clip(
        tmp_path / "clip.mp4",
        LABEL,
        start,
        end,
        segment_refs(segs.segments),
        now=NOW,
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("start_s", "end_s"),
    [(2.5, 9.3), (0.0, 24.0), (4.0, 8.0), (5.96, 6.0), (3.99, 16.01), (22.5, 23.9)],
)
def test_clip_covers_the_requested_range(
    marked_segments: MarkedSegments, tmp_path: Path, start_s: float, end_s: float
) -> None:
    segs = marked_segments
    result = _cut(segs, tmp_path, start_s, end_s)
    [clip] = result.files
    marks = _decoded_marks(clip.path)
    first_wanted = segs.frame_at(result.requested_start_utc)
    last_wanted = segs.frame_at(result.requested_end_utc - timedelta(microseconds=1))
    # starts on the last keyframe at or before the start: never later, at most one GOP earlier
    assert marks[0] <= first_wanted
    assert first_wanted - marks[0] < segs.gop
    assert marks[0] % segs.gop == 0
    # ends at or after the end, at most one GOP later (or where the footage ends)
    assert marks[-1] >= min(last_wanted, len(segs.segments) * 100 - 1)
    assert marks[-1] - last_wanted <= segs.gop
    assert marks == list(range(marks[0], marks[-1] + 1)), "frames missing or repeated"
    assert clip.start_utc == segs.time_of(marks[0])
    assert clip.end_utc == segs.time_of(marks[-1] + 1)
    assert clip.start_utc <= result.requested_start_utc
    assert clip.end_utc >= result.requested_end_utc
    assert clip.packets == len(marks)


def test_clip_timestamps_are_monotonic_across_segments(
    marked_segments: MarkedSegments, tmp_path: Path
) -> None:
    result = _cut(marked_segments, tmp_path, 1.0, 23.0)
    [clip] = result.files
    dts = _packet_dts(clip.path)
    assert dts == sorted(dts) and len(set(dts)) == len(dts)
    steps = {b - a for a, b in itertools.pairwise(dts)}
    assert len(steps) == 1, f"timeline jumps at segment boundaries: {steps}"
    assert [use.relative_path for use in clip.sources] == [s.relative_path for s in marked_segments.segments]
    assert [use.clip_offset_s for use in clip.sources] == pytest.approx([0, 4, 8, 12, 16, 20])
    with av.open(str(clip.path)) as container:
        assert container.duration is not None
        assert container.duration / av.time_base == pytest.approx(24.0, abs=0.05)


def test_clip_metadata_names_station_camera_and_times(
    marked_segments: MarkedSegments, tmp_path: Path
) -> None:
    result = _cut(marked_segments, tmp_path, 2.5, 5.0)
    with av.open(str(result.files[0].path)) as container:
        meta = container.metadata
    assert "Опорный пункт 5" in meta["title"] and "cam-1" in meta["title"]
    assert "Подъезд 1" in meta["comment"]
    assert "Start UTC: 2025-03-01T10:00:02.000Z" in meta["comment"]
    assert "Start local (Asia/Almaty): 2025-03-01T15:00:02+05:00" in meta["comment"]
    assert meta["creation_time"].startswith("2025-03-01T10:00:02")


def test_clip_metadata_is_pure() -> None:
    meta = clip_metadata(LABEL, datetime(2025, 6, 1, 19, 30, tzinfo=UTC), part=2)
    assert meta["title"].endswith("2025-06-02T00:30:00+05:00 (part 2)")
    assert part_path(Path("/x/c.mp4"), 1) == Path("/x/c.mp4")
    assert part_path(Path("/x/c.mp4"), 3) == Path("/x/c_part3.mp4")


def test_fragmented_clip_decodes_the_same(marked_segments: MarkedSegments, tmp_path: Path) -> None:
    plain = _cut(marked_segments, tmp_path / "a", 3.0, 13.0, fragmented=False)
    frag = _cut(marked_segments, tmp_path / "b", 3.0, 13.0, fragmented=True)
    assert _decoded_marks(plain.files[0].path) == _decoded_marks(frag.files[0].path)
    with av.open(str(frag.files[0].path)) as container:
        assert "creation_time" in container.metadata


@pytest.mark.parametrize("fragmented", [False, True])
def test_clip_cut_into_a_package_is_the_same_file(
    marked_segments: MarkedSegments, tmp_path: Path, fragmented: bool
) -> None:
    """Cut straight into a ZIP member (hashed while written when fragmented, after when plain): the member
    holds exactly the bytes a cut to a file writes, and its CRC-32 and SHA-256 are right."""
    on_disk = _cut(marked_segments, tmp_path / "file", 1.0, 23.0, fragmented=fragmented)
    writer = PackageWriter(tmp_path / "p.zip", when=NOW)
    trailing: list[bool] = []
    close_clip = writer.close_clip

    def spy(member: io.RawIOBase) -> FileEntry:
        assert isinstance(member, ClipMember)
        trailing.append(bool(member.trailing))
        return close_clip(member)

    writer.close_clip = spy  # type: ignore[method-assign]
    in_zip = _cut(marked_segments, tmp_path / "zip", 1.0, 23.0, fragmented=fragmented, output=writer)
    assert trailing == [fragmented]  # hashed while written only when fragmented
    [entry] = writer.files
    expected = on_disk.files[0].path.read_bytes()
    assert entry.name == "clips/clip.mp4" and entry.size == len(expected)
    assert entry.sha256 == file_sha256(on_disk.files[0].path)
    assert not (tmp_path / "zip").exists()  # nothing written beside the package
    assert [f.packets for f in in_zip.files] == [f.packets for f in on_disk.files]
    with writer.partial.open("rb") as handle:
        data = handle.read()
    at = data.index(b"clips/clip.mp4") + len("clips/clip.mp4") + 20  # name, then the ZIP64 extra field
    assert data[at : at + len(expected)] == expected
    descriptor = struct.unpack("<4sLQQ", data[at + len(expected) : at + len(expected) + 24])
    assert descriptor == (b"PK\x07\x08", zlib.crc32(expected), len(expected), len(expected))
    writer.abort()
    assert not writer.partial.exists()


def test_gap_inside_the_range_is_spliced_and_recorded(tmp_path: Path) -> None:
    segs = write_segment_set(tmp_path / "rec", "cam-2", MARKED_START_UTC, count=4, segment_s=2.0, skip=(1,))
    label = ClipLabel("S", "UTC", "cam-2", "Two")
    result = cut_clip(
        tmp_path / "c.mp4",
        label,
        MARKED_START_UTC + timedelta(seconds=0.5),
        MARKED_START_UTC + timedelta(seconds=7.5),
        segment_refs(segs),
        now=NOW,
    )
    [clip] = result.files
    marks = _decoded_marks(clip.path)
    assert marks == [*range(0, 50), *range(100, 200)]  # 2..4 s is missing
    assert [use.clip_offset_s for use in clip.sources] == pytest.approx([0, 2, 4])
    assert [use.segment_start_utc for use in clip.sources] == [s.start_utc for s in segs]


def test_resolution_change_continues_in_a_second_file(tmp_path: Path) -> None:
    first = write_segment_set(tmp_path / "rec", "cam-3", MARKED_START_UTC, count=1, segment_s=2.0)
    second = write_segment_set(
        tmp_path / "rec",
        "cam-3",
        MARKED_START_UTC + timedelta(seconds=2),
        count=1,
        segment_s=2.0,
        width=320,
        height=240,
    )
    label = ClipLabel("S", "UTC", "cam-3", "Three")
    result = cut_clip(
        tmp_path / "c.mp4",
        label,
        MARKED_START_UTC,
        MARKED_START_UTC + timedelta(seconds=4),
        segment_refs([*first, *second]),
        now=NOW,
    )
    assert [f.path.name for f in result.files] == ["c.mp4", "c_part2.mp4"]
    sizes = []
    for clip in result.files:
        with av.open(str(clip.path)) as container:
            stream = container.streams.video[0]
            sizes.append((stream.codec_context.width, stream.codec_context.height))
    assert sizes == [(640, 360), (320, 240)]
    assert result.files[1].start_utc == MARKED_START_UTC + timedelta(seconds=2)


@pytest.mark.parametrize(
    ("start_s", "end_s", "now", "error", "text"),
    [
        (5.0, 5.0, NOW, ExportRangeError, "not after start"),
        (6.0, 2.0, NOW, ExportRangeError, "not after start"),
        (0.0, 4.0, MARKED_START_UTC - timedelta(hours=1), ExportRangeError, "in the future"),
        (0.0, 10.0, MARKED_START_UTC + timedelta(seconds=2), ExportRangeError, "end .* is in the future"),
        (0.0, 80 * 3600.0, NOW, ExportRangeError, "longer than"),
        (100.0, 200.0, NOW, NoFootageError, "no recordings"),
    ],
)
def test_bad_requests_are_refused(
    marked_segments: MarkedSegments,
    tmp_path: Path,
    start_s: float,
    end_s: float,
    now: datetime,
    error: type[Exception],
    text: str,
) -> None:
    with pytest.raises(error, match=text):
        cut_clip(
            tmp_path / "c.mp4",
            LABEL,
            MARKED_START_UTC + timedelta(seconds=start_s),
            MARKED_START_UTC + timedelta(seconds=end_s),
            segment_refs(marked_segments.segments),
            now=now,
        )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("camera_id", ["../etc", "Cam", "a/b", "", "x" * 33])
def test_camera_id_must_be_a_slug(marked_segments: MarkedSegments, tmp_path: Path, camera_id: str) -> None:
    label = ClipLabel("S", "UTC", camera_id, "evil")
    with pytest.raises(InvalidCameraIdError):
        cut_clip(
            tmp_path / "c.mp4",
            label,
            MARKED_START_UTC,
            MARKED_START_UTC + timedelta(seconds=2),
            segment_refs(marked_segments.segments),
            now=NOW,
        )


def test_naive_times_are_refused(marked_segments: MarkedSegments, tmp_path: Path) -> None:
    with pytest.raises(ExportRangeError, match="no time zone"):
        cut_clip(
            tmp_path / "c.mp4",
            LABEL,
            datetime(2025, 3, 1, 10, 0),
            datetime(2025, 3, 1, 10, 0, 5),
            segment_refs(marked_segments.segments),
            now=NOW,
        )


def _copy_segments(segs: MarkedSegments, root: Path) -> list[SegmentFile]:
    copies = []
    for seg in segs.segments:
        target = root / seg.relative_path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(seg.path, target)
        copies.append(dataclasses.replace(seg, path=target))
    return copies


def _flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("victim", "where", "end_s"),
    [
        (3, "middle", 20.0),  # packet data the clip copies
        (0, "header", 20.0),  # the MP4 header: the demuxer may fail, the change is what is reported
        (2, "last", 9.0),  # the tail after the clip's end (keyframe at 10 s), which the demuxer never reads
        (5, "last", 24.0),  # the very end of the last segment
    ],
)
def test_changed_segment_aborts_and_leaves_nothing(
    marked_segments: MarkedSegments, tmp_path: Path, victim: int, where: str, end_s: float
) -> None:
    copies = _copy_segments(marked_segments, tmp_path / "rec")
    path = copies[victim].path
    size = path.stat().st_size
    _flip_byte(path, {"middle": size // 2, "header": 40, "last": size - 1}[where])
    out = tmp_path / "out"
    with pytest.raises(SegmentChangedError) as caught:
        cut_clip(
            out / "c.mp4",
            LABEL,
            MARKED_START_UTC + timedelta(seconds=1),
            MARKED_START_UTC + timedelta(seconds=end_s),
            segment_refs(copies),
            now=NOW,
        )
    assert caught.value.path == copies[victim].relative_path
    assert caught.value.expected_sha256 == copies[victim].sha256
    assert caught.value.actual_sha256 == file_sha256(path)
    assert "does not match the index" in str(caught.value)
    assert list(out.iterdir()) == []


def test_unchanged_copies_export_with_every_source_verified(
    marked_segments: MarkedSegments, tmp_path: Path
) -> None:
    copies = _copy_segments(marked_segments, tmp_path / "rec")
    result = cut_clip(
        tmp_path / "out" / "c.mp4",
        LABEL,
        MARKED_START_UTC + timedelta(seconds=1),
        MARKED_START_UTC + timedelta(seconds=9),
        segment_refs(copies),
        now=NOW,
    )
    [clip] = result.files
    assert [use.sha256 for use in clip.sources] == [c.sha256 for c in copies[:3]]
    assert [file_sha256(c.path) for c in copies] == [c.sha256 for c in copies]


def test_segment_without_indexed_hash_is_refused(marked_segments: MarkedSegments, tmp_path: Path) -> None:
    refs = segment_refs(marked_segments.segments)
    refs[1] = dataclasses.replace(refs[1], sha256=None)
    with pytest.raises(
        SegmentChangedError, match="cannot be vouched for: the index has no SHA-256"
    ) as caught:
        _cut_refs(tmp_path, refs)
    assert "None" not in str(caught.value) and "()" not in str(caught.value)
    assert list((tmp_path / "out").iterdir()) == []


def test_unverified_cut_skips_the_check(marked_segments: MarkedSegments, tmp_path: Path) -> None:
    copies = _copy_segments(marked_segments, tmp_path / "rec")
    _flip_byte(copies[1].path, copies[1].path.stat().st_size - 1)
    result = cut_clip(
        tmp_path / "out" / "c.mp4",
        LABEL,
        MARKED_START_UTC,
        MARKED_START_UTC + timedelta(seconds=10),
        segment_refs(copies),
        now=NOW,
        verify_hashes=False,
    )
    assert result.files[0].packets == 250


def test_missing_segment_file_aborts(marked_segments: MarkedSegments, tmp_path: Path) -> None:
    refs = segment_refs(marked_segments.segments)
    refs[1] = refs[1].__class__(**{**refs[1].__dict__, "path": tmp_path / "gone.mp4"})
    with pytest.raises(SegmentChangedError, match="cannot be read"):
        _cut_refs(tmp_path, refs)


def _cut_refs(tmp_path: Path, refs: list) -> ClipResult:  # type: ignore[type-arg]
    return cut_clip(
        tmp_path / "out" / "c.mp4",
        LABEL,
        MARKED_START_UTC,
        MARKED_START_UTC + timedelta(seconds=10),
        refs,
        now=NOW,
    )
