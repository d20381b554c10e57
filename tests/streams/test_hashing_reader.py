"""HashingReader: every byte of the file hashed exactly once, whatever order the demuxer reads in."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import av
import pytest

from streams.hashing_reader import HashingReader
from tests.support.segments import MarkedSegments, file_sha256, make_marked_segments

SIZE = 3 * 1024 * 1024 + 12345  # not a multiple of any chunk size


@pytest.fixture(scope="module")
def data_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("hashing") / "data.bin"
    path.write_bytes(os.urandom(SIZE))
    return path


@pytest.fixture(scope="module")
def hash_pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="test-hash") as pool:
        yield pool


@pytest.fixture(scope="module")
def marked(tmp_path_factory: pytest.TempPathFactory) -> MarkedSegments:
    return make_marked_segments(tmp_path_factory.mktemp("recordings"))


def _expected(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("pooled", [False, True], ids=["inline", "pool"])
def test_full_sequential_read(data_file: Path, hash_pool: ThreadPoolExecutor, pooled: bool) -> None:
    with HashingReader(data_file, hash_pool=hash_pool if pooled else None) as reader:
        read = bytearray()
        while chunk := reader.read(100_000):
            read += chunk
        assert bytes(read) == data_file.read_bytes()
        assert reader.hashed_bytes == SIZE  # nothing left for finish() to read
        assert reader.finish() == _expected(data_file)
        assert reader.finish() == _expected(data_file)  # idempotent


def test_read_all_at_once(data_file: Path) -> None:
    with HashingReader(data_file) as reader:
        assert reader.read() == data_file.read_bytes()
        assert reader.read(10) == b""
        assert reader.finish() == _expected(data_file)


def test_short_forward_seek_hashes_the_skipped_bytes(data_file: Path, hash_pool: ThreadPoolExecutor) -> None:
    with HashingReader(data_file, hash_pool=hash_pool, max_hole_bytes=64 * 1024) as reader:
        reader.read(1000)
        reader.seek(50_000, os.SEEK_CUR)  # a box the demuxer skips
        assert reader.read(1000) == data_file.read_bytes()[51_000:52_000]
        assert reader.hashed_bytes == 52_000
        assert reader.finish() == _expected(data_file)


def test_far_forward_seek_is_hashed_later_in_order(data_file: Path) -> None:
    with HashingReader(data_file, max_hole_bytes=64 * 1024) as reader:
        reader.read(4096)
        # the MP4 demuxer's index scan: headers read far ahead, then back to the start for the packets
        for offset in (1_000_000, 2_000_000, 3_000_000):
            reader.seek(offset)
            reader.read(4096)
        assert reader.hashed_bytes == 4096
        reader.seek(0)
        while reader.read(65536):
            pass
        assert reader.hashed_bytes == SIZE
        assert reader.finish() == _expected(data_file)


def test_backward_seek_re_read_is_hashed_once(data_file: Path, hash_pool: ThreadPoolExecutor) -> None:
    with HashingReader(data_file, hash_pool=hash_pool) as reader:
        reader.read(300_000)
        reader.seek(-200_000, os.SEEK_CUR)
        assert reader.read(400_000) == data_file.read_bytes()[100_000:500_000]
        assert reader.hashed_bytes == 500_000
        assert reader.finish() == _expected(data_file)


def test_seek_from_end_and_size_probe(data_file: Path) -> None:
    with HashingReader(data_file) as reader:
        assert reader.seek(-1, os.SEEK_END) == SIZE - 1  # what FFmpeg's avio_size() does
        assert reader.read(10) == data_file.read_bytes()[-1:]
        assert reader.seek(0) == 0
        assert reader.tell() == 0
        with pytest.raises(ValueError, match="negative"):
            reader.seek(-5)
        assert reader.finish() == _expected(data_file)


@pytest.mark.parametrize("pooled", [False, True], ids=["inline", "pool"])
def test_early_stop_hashes_the_unread_tail(
    data_file: Path, hash_pool: ThreadPoolExecutor, pooled: bool
) -> None:
    with HashingReader(data_file, hash_pool=hash_pool if pooled else None) as reader:
        reader.read(777_777)
        assert reader.hashed_bytes == 777_777
        assert reader.finish() == _expected(data_file)
        assert reader.hashed_bytes == SIZE
        reader.read(100)  # reads after finish() do not change the digest
        assert reader.finish() == _expected(data_file)


def test_changed_file_gives_another_digest(data_file: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.bin"
    data = bytearray(data_file.read_bytes())
    data[SIZE - 3] ^= 0x80  # in the tail the reader never reads
    copy.write_bytes(bytes(data))
    with HashingReader(copy) as reader:
        reader.read(1024)
        assert reader.finish() != _expected(data_file)


def test_missing_file_raises_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        HashingReader(tmp_path / "absent.mp4")


def test_release_is_idempotent(data_file: Path) -> None:
    reader = HashingReader(data_file)
    reader.release()
    reader.release()


@pytest.mark.parametrize("buffer_size", [4096, 128 * 1024, 1 << 20])
def test_demuxing_through_the_reader_hashes_the_segment(
    marked: MarkedSegments, hash_pool: ThreadPoolExecutor, buffer_size: int
) -> None:
    for segment in marked.segments:
        with HashingReader(segment.path, hash_pool=hash_pool, max_hole_bytes=8192) as reader:
            with av.open(reader, "r", buffer_size=buffer_size) as container:
                packets = [p for p in container.demux(container.streams.video[0]) if p.size]
            assert len(packets) == segment.frames
            assert reader.finish() == file_sha256(segment.path) == segment.sha256


def test_demuxer_closing_the_container_does_not_end_the_hash(marked: MarkedSegments) -> None:
    segment = marked.segments[0]
    with HashingReader(segment.path) as reader:
        container = av.open(reader, "r")
        next(iter(container.demux(container.streams.video[0])))
        container.close()  # PyAV calls close() on file objects that have one: this one has none
        assert reader.finish() == segment.sha256
