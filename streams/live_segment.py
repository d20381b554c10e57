"""The segment file a recorder is still writing, as far as it can be read: its complete fragments.

A segment is fragmented MP4 written front to back (``ftyp``, an empty ``moov``, then ``moof`` + ``mdat``
pairs of about ``fragment_seconds``), so the first bytes of the open ``.partial`` up to the end of any
complete fragment are a playable MP4 by themselves -- and stay byte for byte the same once the file is
closed and renamed (the muxer never goes back). The recorder marks where each fragment ends
(:class:`FragmentMark`: the file length after it and the wall-clock end of its footage) and publishes a
:class:`LiveSegment` per file that is not in the index as closed yet (the open one, and the one closing
until its row is written). :meth:`LiveSegment.readable` takes the newest mark the disk already holds (the
file's writes may lag the muxer) and returns a :class:`LiveFootage`: what playback and export may read.

Readers open the footage with :func:`open_footage`, which finds the file under its closed name when it
was renamed in between, and read only its first :attr:`LiveFootage.bytes` bytes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from storage.layout import final_path

#: Marks a recorder keeps per file: far more than the fragments a slow disk may hold back (its backlog is
#: bounded to about 30 s of footage), few enough to copy at every fragment.
MAX_MARKS = 64


@dataclass(frozen=True, slots=True)
class FragmentMark:
    """The end of a complete fragment: the file's first ``bytes`` bytes hold footage up to ``end_utc``."""

    bytes: int
    end_utc: datetime


@dataclass(frozen=True, slots=True)
class LiveFootage:
    """The readable part of a segment file not yet indexed as closed: its first ``bytes`` bytes (of
    ``path``, the ``.partial``, or of the closed file once renamed) hold complete fragments of footage from
    ``start_utc`` to ``end_utc``."""

    camera_id: str
    relative_path: str  # the index row's path (the closed file's name)
    path: Path  # the file being written
    start_utc: datetime
    end_utc: datetime
    bytes: int


#: Where a reader finds the live footage of a camera (the console wires the recorders in).
LiveLookup = Callable[[str], Sequence[LiveFootage]]


@dataclass(frozen=True, slots=True)
class LiveSegment:
    """A file a recorder writes (or has just closed) and the fragment ends it has marked, oldest first."""

    camera_id: str
    relative_path: str
    partial: Path
    start_utc: datetime
    marks: tuple[FragmentMark, ...] = ()

    def with_mark(self, mark: FragmentMark) -> LiveSegment:
        marks = (*self.marks[-(MAX_MARKS - 1) :], mark)
        return LiveSegment(self.camera_id, self.relative_path, self.partial, self.start_utc, marks)

    def readable(self) -> LiveFootage | None:
        """The footage of the newest mark the file on disk holds, or None (nothing complete yet)."""
        size = _file_size(self.partial)
        if size is None:
            size = _file_size(final_path(self.partial))
        mark = newest_readable(self.marks, size or 0)
        if mark is None or mark.end_utc <= self.start_utc:
            return None
        return LiveFootage(
            camera_id=self.camera_id,
            relative_path=self.relative_path,
            path=self.partial,
            start_utc=self.start_utc,
            end_utc=mark.end_utc,
            bytes=mark.bytes,
        )


def newest_readable(marks: Sequence[FragmentMark], size: int) -> FragmentMark | None:
    """The newest of ``marks`` (oldest first) within a file of ``size`` bytes; pure."""
    for mark in reversed(marks):
        if mark.bytes <= size:
            return mark
    return None


def _file_size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return None


def footage_path(footage: LiveFootage) -> Path:
    """Where the footage's file is now: the ``.partial``, or the closed file once it was renamed."""
    return footage.path if footage.path.exists() else final_path(footage.path)


def open_footage(footage: LiveFootage) -> BinaryIO:
    """Open the footage's file for reading (the closed file when the ``.partial`` was renamed meanwhile);
    ``FileNotFoundError`` when neither exists. Read no more than ``footage.bytes`` from it."""
    try:
        return footage.path.open("rb", buffering=0)
    except FileNotFoundError:
        return final_path(footage.path).open("rb", buffering=0)


def iter_footage(handle: BinaryIO, size: int, chunk_bytes: int = 1 << 20) -> Iterator[bytes]:
    """The first ``size`` bytes of ``handle`` (from :func:`open_footage`) in chunks; closes it when done."""
    with handle:
        left = size
        while left > 0:
            chunk = os.read(handle.fileno(), min(chunk_bytes, left))
            if not chunk:
                raise OSError(f"{handle.name}: file ended {left} bytes before its footage")
            yield chunk
            left -= len(chunk)


__all__ = [
    "MAX_MARKS",
    "FragmentMark",
    "LiveFootage",
    "LiveLookup",
    "LiveSegment",
    "footage_path",
    "iter_footage",
    "newest_readable",
    "open_footage",
]
