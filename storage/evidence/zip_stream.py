"""Streaming ZIP members: a clip member written in place in the package file, and the hashes (CRC-32,
SHA-256 of the member and of the whole package) computed while it is written or read back after.

:class:`PackageFile` is the package file as ``zipfile`` sees it (write-only, never seeks back), so every byte
before its position is final; :class:`ClipMember` is one clip member as the muxer sees it (seekable, written
with ``os.pwrite`` at its place in the package); :class:`PackageHash` advances the package's SHA-256 over
final bytes; :func:`sha256_of` and :func:`crc32_of` hash a byte range of the file.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import queue
import struct
import threading
import zipfile
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from isal import isal_zlib

from storage.evidence.error import PackageBuildError

logger = logging.getLogger(__name__)

HASH_CHUNK_BYTES = 8 << 20
TRAIL_QUEUE_CHUNKS = 32  # writes (1 MiB each from the clip cutter) waiting for a trailing hash at most
DATA_DESCRIPTOR = struct.Struct("<4sLQQ")  # ZIP64 form: signature, CRC-32, compressed and original size
DATA_DESCRIPTOR_MAGIC = b"PK\x07\x08"
DATA_DESCRIPTOR_FLAG = 0x08


class _TrailingHash:
    """Feeds the bytes handed to :meth:`feed`, in order, to ``updates`` on a thread of its own.

    The queue is bounded (``TRAIL_QUEUE_CHUNKS`` writes): a writer faster than the hash waits for it
    instead of piling up memory.
    """

    def __init__(self, name: str, updates: Sequence[Callable[[bytes], object]]) -> None:
        self._updates = updates
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=TRAIL_QUEUE_CHUNKS)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (data := self._queue.get()) is not None:
            if self._error is not None:
                continue  # keep draining so that feed() never blocks for ever
            try:
                for update in self._updates:
                    update(data)  # hashlib and zlib let go of the GIL for large buffers
            except BaseException as exc:  # noqa: BLE001 - handed to the writer in finish()
                self._error = exc

    def feed(self, data: bytes) -> None:
        self._queue.put(data)

    def finish(self) -> None:
        """Wait until everything fed is hashed (re-raises what the thread hit)."""
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise PackageBuildError(f"hashing the package failed: {self._error}") from self._error


# ZIP members need CRC-32: ISA-L's (PCLMULQDQ) runs at ~17 GB/s here, zlib's at ~3.9 GB/s; on a 2-core
# station that CPU comes out of the cut running beside it (docs/benchmarks.md, export).
crc32 = isal_zlib.crc32


class _Crc32:
    def __init__(self) -> None:
        self.value = 0

    def update(self, data: bytes) -> None:
        self.value = crc32(data, self.value)


class ClipMember(io.RawIOBase):
    """One clip member of a package being written, as the muxer sees it: a seekable file of its own.

    Its bytes go straight to their final place in the package (``os.pwrite`` at the member's data offset), so
    a clip is written once, with no temporary file and no copy; the MP4 muxer's seek back to patch its
    header lands inside the member.

    A member opened ``sequential`` (fragmented MP4: the muxer never seeks back) is hashed while it is
    written: its CRC-32 and SHA-256 on one trailing thread, the package's SHA-256 on another, so closing it
    costs nothing more. Should a write land before the end after all, the trailing hashes are dropped and
    the member is hashed when it is closed, like any other.
    """

    def __init__(
        self, fd: int, base: int, info: zipfile.ZipInfo, package: hashlib._Hash | None, sequential: bool
    ) -> None:
        super().__init__()
        self._fd = fd
        self.base = base
        self.info = info
        self.size = 0
        self._position = 0
        self.crc = _Crc32()
        self.sha256 = hashlib.sha256()
        self.package = package.copy() if package is not None else None  # the package hash up to ``base``
        self.trailing: list[_TrailingHash] = []
        if sequential:
            self.trailing.append(_TrailingHash("clip-hash", (self.crc.update, self.sha256.update)))
            if self.package is not None:
                self.trailing.append(_TrailingHash("package-hash", (self.package.update,)))

    def stop_trailing(self) -> None:
        for trail in self.trailing:
            with contextlib.suppress(PackageBuildError):
                trail.finish()
        self.trailing = []

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        if self.trailing:
            if self._position == self.size:
                chunk = data if type(data) is bytes else view.tobytes()  # kept until hashed: must not change
                for trail in self.trailing:
                    trail.feed(chunk)
            else:
                logger.debug("%s: written out of order; hashing it when it is closed", self.info.filename)
                self.stop_trailing()
        done = 0
        while done < len(view):
            done += os.pwrite(self._fd, view[done:], self.base + self._position + done)
        self._position += done
        self.size = max(self.size, self._position)
        return done

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        origin = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self.size}[whence]
        if origin + offset < 0:
            raise ValueError(f"seek before the start of {self.info.filename}")
        self._position = origin + offset
        return self._position

    def tell(self) -> int:
        return self._position


def _chunks(fd: int, start: int, length: int) -> Iterator[memoryview]:
    """[start, start + length) of the file in chunks, read into one reused buffer.

    (Not a memory map: mapped pages of a multi-GB clip would count as the process's resident memory.)
    """
    buffer = bytearray(HASH_CHUNK_BYTES)
    view = memoryview(buffer)
    at, end = start, start + length
    while at < end:
        got = os.preadv(fd, [view[: min(HASH_CHUNK_BYTES, end - at)]], at)
        if got <= 0:
            raise PackageBuildError(f"package file ended at byte {at}, {end - at} bytes early")
        yield view[:got]
        at += got


def sha256_of(fd: int, start: int, length: int) -> str:
    digest = hashlib.sha256()
    for chunk in _chunks(fd, start, length):
        digest.update(chunk)  # hashlib lets go of the GIL for large buffers: the hashes run side by side
    return digest.hexdigest()


def crc32_of(fd: int, start: int, length: int) -> int:
    crc = 0
    for chunk in _chunks(fd, start, length):
        crc = crc32(chunk, crc)
    return crc


class PackageHash:
    """SHA-256 of the package file, advanced over bytes once they are final."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self.done = 0
        self.digest = hashlib.sha256()

    def advance(self, to: int) -> None:
        for chunk in _chunks(self._fd, self.done, to - self.done):
            self.digest.update(chunk)
        self.done = max(self.done, to)


class PackageFile(io.RawIOBase):
    """The package file as ``ZipFile`` sees it: write-only and not seekable.

    zipfile then streams its own members (CRC and sizes in a data descriptor after the data, a standard ZIP
    feature every unzip tool reads) and never seeks back, so every byte before :attr:`position` is final
    and can be hashed once, in order, without reading back a file as large as the footage.
    """

    def __init__(self, fd: int) -> None:
        super().__init__()
        self.fd = fd
        self.position = 0

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        done = 0
        while done < len(view):
            done += os.pwrite(self.fd, view[done:], self.position + done)
        self.position += done
        return done

    def tell(self) -> int:
        return self.position
