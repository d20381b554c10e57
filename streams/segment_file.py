"""Segment files on disk: hashing while writing, probing with PyAV, and finalising a crashed ``.partial``.

Segments are fragmented MP4 (``ftyp``, ``moov`` without samples, then ``moof`` + ``mdat`` pairs). After a
crash the file ends somewhere inside a fragment; everything up to the last complete fragment is valid and
playable, so recovery cuts the incomplete tail (less than one fragment of video, which no player could show
anyway), probes the result with PyAV and renames it to ``.mp4``.
"""

from __future__ import annotations

import errno
import hashlib
import io
import logging
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import av

from storage.layout import final_path

logger = logging.getLogger(__name__)

HASH_CHUNK = 1024 * 1024
_HEADER = struct.Struct(">I4s")
_LARGE = struct.Struct(">Q")


class SegmentFileError(ValueError):
    """A segment file that holds no playable footage (no complete header or fragment)."""


class HashingFile(io.RawIOBase):
    """A write-only file that hashes what passes through, so a closed segment is never read back to hash it.

    The MP4 muxer writes fragmented files front to back; if it ever seeks back and rewrites, the running
    hash is marked stale and :meth:`sha256` re-reads the file once.
    """

    def __init__(self, raw: BinaryIO, path: Path) -> None:
        super().__init__()
        self._raw = raw
        self.path = path
        self._hash = hashlib.sha256()
        self._position = 0
        self._end = 0
        self._sequential = True

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(data).cast("B")
        written = self._raw.write(view) or 0
        while 0 < written < len(view):  # a short write (the disk filling up): the rest raises the reason
            more = self._raw.write(view[written:])
            if not more:
                break
            written += more
        if written != len(view):
            raise OSError(errno.EIO, f"short write to {self.path}")
        if self._sequential and self._position == self._end:
            self._hash.update(view)
        else:
            self._sequential = False
        self._position += written
        self._end = max(self._end, self._position)
        return written

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        target = {os.SEEK_SET: offset, os.SEEK_CUR: self._position + offset, os.SEEK_END: self._end + offset}[
            whence
        ]
        if target != self._position:
            self._raw.seek(target)
            self._position = target
        return self._position

    def tell(self) -> int:
        return self._position

    def flush(self) -> None:
        self._raw.flush()

    def sync(self) -> None:
        """Flush to the kernel and to the disk (``fsync``): what is written survives a power loss."""
        self._raw.flush()
        os.fsync(self._raw.fileno())

    @property
    def bytes_written(self) -> int:
        return self._end

    def sha256(self) -> str:
        if self._sequential:
            return self._hash.hexdigest()
        logger.warning("%s: muxer rewrote the file: hashing it again", self.path)
        return sha256_file(self.path)

    def close(self) -> None:
        if self.closed:
            return
        try:
            super().close()  # flushes
        finally:
            self._raw.close()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class FragmentScan:
    """Top-level MP4 boxes of a file: where the playable part ends."""

    file_size: int
    header_complete: bool  # ftyp and moov are complete
    fragments: int  # complete moof + mdat pairs
    playable_end: int  # offset after the last complete fragment (or trailer box)


def scan_fragments(path: Path) -> FragmentScan:
    """Walk the top-level boxes of ``path`` reading only their headers."""
    size = path.stat().st_size
    header = moov = False
    fragments = 0
    playable_end = 0
    pending_moof = False
    with path.open("rb") as handle:
        offset = 0
        while offset + _HEADER.size <= size:
            handle.seek(offset)
            box_size, kind = _HEADER.unpack(handle.read(_HEADER.size))
            header_size = _HEADER.size
            if box_size == 1:
                if offset + 16 > size:
                    break
                (box_size,) = _LARGE.unpack(handle.read(_LARGE.size))
                header_size = 16
            elif box_size == 0:
                box_size = size - offset  # "to the end of the file": only valid as the last box
            if box_size < header_size or offset + box_size > size:
                break  # the tail is incomplete
            offset += box_size
            if kind == b"ftyp":
                header = True
            elif kind == b"moov":
                moov = True
                playable_end = offset
            elif kind == b"moof":
                pending_moof = True
            elif kind == b"mdat" and pending_moof:
                pending_moof = False
                fragments += 1
                playable_end = offset
            elif kind in (b"mfra", b"free", b"skip", b"sidx", b"styp") and not pending_moof:
                playable_end = offset
    return FragmentScan(
        file_size=size, header_complete=header and moov, fragments=fragments, playable_end=playable_end
    )


@dataclass(frozen=True, slots=True)
class SegmentProbe:
    """What PyAV reads from a segment file (demux only, no decoding)."""

    codec: str
    width: int
    height: int
    packets: int
    keyframes: int
    duration_s: float
    first_is_keyframe: bool
    monotonic: bool  # dts strictly increasing


def probe_segment(path: Path) -> SegmentProbe:
    """Demux every video packet of ``path``; :class:`SegmentFileError` when it holds no video."""
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as exc:
        raise SegmentFileError(f"{path.name}: not a readable MP4: {exc}") from exc
    with container:
        if not container.streams.video:
            raise SegmentFileError(f"{path.name}: no video stream")
        stream = container.streams.video[0]
        packets = keyframes = 0
        first_key = False
        monotonic = True
        first_ts: int | None = None
        end_ts: int | None = None
        last_dts: int | None = None
        try:
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue
                if packets == 0:
                    first_key = bool(packet.is_keyframe)
                packets += 1
                keyframes += int(packet.is_keyframe)
                dts = packet.dts if packet.dts is not None else packet.pts
                if dts is not None:
                    if last_dts is not None and dts <= last_dts:
                        monotonic = False
                    last_dts = dts
                pts = packet.pts if packet.pts is not None else dts
                if pts is not None:
                    first_ts = pts if first_ts is None else min(first_ts, pts)
                    stop = pts + (packet.duration or 0)
                    end_ts = stop if end_ts is None else max(end_ts, stop)
        except av.error.FFmpegError as exc:
            logger.warning("%s: demux stopped early: %s", path.name, exc)
        if packets == 0:
            raise SegmentFileError(f"{path.name}: no video packets")
        time_base = stream.time_base
        duration = 0.0
        if first_ts is not None and end_ts is not None and time_base is not None:
            duration = float((end_ts - first_ts) * time_base)
        return SegmentProbe(
            codec=stream.codec_context.name,
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            packets=packets,
            keyframes=keyframes,
            duration_s=duration,
            first_is_keyframe=first_key,
            monotonic=monotonic,
        )


@dataclass(frozen=True, slots=True)
class FinishedFile:
    path: Path  # the closed ``.mp4``
    bytes: int
    sha256: str
    probe: SegmentProbe
    cut_bytes: int  # incomplete tail removed


def recover_partial(partial: Path) -> FinishedFile:
    """Finalise a ``.partial`` left by a crash: cut the incomplete tail, probe, hash, rename to ``.mp4``.

    :class:`SegmentFileError` when it holds no complete fragment (the caller decides whether it is garbage);
    :class:`FileExistsError` when the closed name is already taken (nothing is overwritten).
    """
    target = final_path(partial)
    if target == partial:
        raise ValueError(f"{partial} is not a .partial file")
    if target.exists():
        raise FileExistsError(f"{target} already exists next to {partial.name}: left both untouched")
    scan = scan_fragments(partial)
    if not scan.header_complete or scan.fragments == 0:
        raise SegmentFileError(
            f"{partial.name}: no complete fragment ({scan.file_size} bytes, header "
            f"{'complete' if scan.header_complete else 'incomplete'})"
        )
    cut = scan.file_size - scan.playable_end
    if cut > 0:
        with partial.open("r+b") as handle:
            handle.truncate(scan.playable_end)
            handle.flush()
            os.fsync(handle.fileno())
    probe = probe_segment(partial)
    digest = sha256_file(partial)
    partial.replace(target)
    sync_directory(target.parent)
    return FinishedFile(path=target, bytes=scan.playable_end, sha256=digest, probe=probe, cut_bytes=cut)


def describe_file(path: Path) -> FinishedFile:
    """Probe and hash a closed ``.mp4`` (an orphan found on disk)."""
    probe = probe_segment(path)
    return FinishedFile(
        path=path, bytes=path.stat().st_size, sha256=sha256_file(path), probe=probe, cut_bytes=0
    )


def sync_directory(directory: Path) -> None:
    """fsync a directory so a rename in it survives a power loss (best effort where unsupported)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as exc:
        logger.debug("fsync of directory %s not supported: %s", directory, exc)
    finally:
        os.close(fd)
