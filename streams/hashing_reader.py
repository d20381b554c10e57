"""A read-only file object that hashes (SHA-256) every byte of a file once while a demuxer reads it.

Verifying a segment against its indexed SHA-256 used to read the file twice: once to hash it, once to
demux it. :class:`HashingReader` is handed to ``av.open`` instead of the path, so the bytes the demuxer reads
are the bytes that are hashed. It tracks the hashed prefix of the file:

- a read that continues the prefix is hashed as it passes;
- a short forward seek past the prefix (a skipped box) leaves a hole, which is hashed (read from the file)
  before the next read is hashed, so every byte is hashed exactly once and in order;
- a read far ahead of the prefix (the MP4 demuxer scanning fragment headers when it opens a file) is not
  hashed then: those bytes are hashed when the demuxer reads them in order, or by ``finish``;
- a read behind the prefix (backward seek) is hashed only where it goes beyond the prefix;
- :meth:`HashingReader.finish` hashes whatever the demuxer never read (the tail after a clip's end) and
  returns the digest of the whole file.

With ``size`` the reader is a file of that many bytes: the complete part of a segment still being written
(:mod:`streams.live_segment`); whatever the recorder appends meanwhile is neither read nor hashed.

The digest work can run on a one-thread pool (``hash_pool``): the bytes read are handed to it in batches
of :data:`HASH_BATCH_BYTES`, hashed in order by the pool's one thread; at most
:data:`HASH_BATCHES_IN_FLIGHT` batches wait for it (bounded memory). ``hashlib`` releases the GIL on large
buffers, so hashing overlaps with demuxing.

The reader deliberately has no ``close()``: PyAV calls the file object's ``close`` when the container is
closed, and that must not end the hash. Use the reader as a context manager for its descriptor.
"""

from __future__ import annotations

import hashlib
import os
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType

#: How much is read per ``os.pread`` when hashing holes and the tail; also a good ``buffer_size`` for
#: ``av.open`` so that the Python read callback runs rarely.
READ_CHUNK_BYTES = 1 << 20
#: A read that starts at most this far past the hashed prefix fills the hole (the demuxer skipped a box
#: header or a stream it ignores); a read further ahead is not hashed then. The MP4 demuxer scans every
#: fragment header of a file when it opens it: hashing up to there would read the whole file before a
#: single packet is demuxed, which is the second read this reader exists to avoid.
MAX_HOLE_BYTES = 256 << 10
#: With a ``hash_pool``, bytes are handed over in batches of about this size: few thread hand-offs (one per
#: 128 KiB read cost more CPU than the hashing saved), and at most two batches are held in memory.
HASH_BATCH_BYTES = 4 << 20
#: Batches handed over and not yet hashed: slack for when the hashing thread gets no core for a moment
#: (a busy machine) without stalling the demuxer, with memory still bounded (a few times the batch size).
HASH_BATCHES_IN_FLIGHT = 4


class HashingReader:
    """A seekable, read-only file object over ``path`` that SHA-256-hashes the whole file exactly once.

    ``hash_pool`` must have a single worker (batches of one file must be hashed in the order given); it
    may be shared by several readers. Without it the digest is updated inline, in the reading thread.
    """

    def __init__(
        self,
        path: Path,
        *,
        hash_pool: ThreadPoolExecutor | None = None,
        max_hole_bytes: int = MAX_HOLE_BYTES,
        size: int | None = None,
    ) -> None:
        self.path = path
        self._size = size
        self._max_hole = max_hole_bytes
        self._fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        self._pos = 0
        self._hashed = 0  # the file's first ``_hashed`` bytes are in the digest
        self._digest = hashlib.sha256()
        self._pool = hash_pool
        self._inflight: deque[Future[None]] = deque()
        self._batch: list[bytes | memoryview] = []
        self._batch_bytes = 0
        self._finished: str | None = None

    # -- the file protocol PyAV uses --------------------------------------------------------------------

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_SET:
            target = offset
        elif whence == os.SEEK_CUR:
            target = self._pos + offset
        elif whence == os.SEEK_END:
            target = self._length() + offset
        else:
            raise ValueError(f"{self.path}: unsupported whence {whence}")
        if target < 0:
            raise ValueError(f"{self.path}: cannot seek to negative position {target}")
        self._pos = target
        return target

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = max(self._length() - self._pos, 0)
        elif self._size is not None:
            size = max(min(size, self._size - self._pos), 0)
        data = os.pread(self._fd, size, self._pos) if size else b""
        if data:
            self._take(data, self._pos)
            self._pos += len(data)
        return data

    def _length(self) -> int:
        return os.fstat(self._fd).st_size if self._size is None else self._size

    # -- hashing ----------------------------------------------------------------------------------------

    @property
    def hashed_bytes(self) -> int:
        """How many bytes from the start of the file are in the digest so far."""
        return self._hashed

    def finish(self) -> str:
        """Hash the part of the file that was never read and return the SHA-256 of the whole file (hex).

        Reads to the end of the file as it is now (to ``size``, given one). Raises ``OSError`` if the file
        cannot be read or is shorter than ``size``. Calling it again returns the same digest.
        """
        if self._finished is None:
            if self._size is not None:
                self._fill_hole(self._size)
            else:
                while chunk := os.pread(self._fd, READ_CHUNK_BYTES, self._hashed):
                    self._update(chunk)
                    self._hashed += len(chunk)
            self._submit()
            self._wait()
            self._finished = self._digest.hexdigest()
        return self._finished

    def _take(self, data: bytes, offset: int) -> None:
        """Fold ``data`` (read at ``offset``) into the digest where it extends the hashed prefix."""
        if self._finished is not None:
            return
        hole = offset - self._hashed
        if hole > self._max_hole:
            return  # read far ahead (an index scan): hashed when read again in order, or by finish()
        if hole > 0:
            self._fill_hole(offset)
        end = offset + len(data)
        if end <= self._hashed:
            return  # a re-read of bytes already hashed
        skip = self._hashed - offset
        self._update(data if skip == 0 else memoryview(data)[skip:])
        self._hashed = end

    def _fill_hole(self, offset: int) -> None:
        """Hash the bytes between the hashed prefix and ``offset`` that a short forward seek skipped."""
        while self._hashed < offset:
            chunk = os.pread(self._fd, min(READ_CHUNK_BYTES, offset - self._hashed), self._hashed)
            if not chunk:
                raise OSError(f"{self.path}: file ended at byte {self._hashed} while hashing to {offset}")
            self._update(chunk)
            self._hashed += len(chunk)

    def _update(self, data: bytes | memoryview) -> None:
        if self._pool is None:
            self._digest.update(data)
            return
        self._batch.append(data)
        self._batch_bytes += len(data)
        if self._batch_bytes >= HASH_BATCH_BYTES:
            self._submit()

    def _submit(self) -> None:
        """Hand the batch to the pool (one thread: batches are hashed in order), at most a few in flight."""
        while len(self._inflight) >= HASH_BATCHES_IN_FLIGHT:
            self._inflight.popleft().result()
        if self._batch and self._pool is not None:
            self._inflight.append(self._pool.submit(_hash_all, self._digest, self._batch))
            self._batch, self._batch_bytes = [], 0

    def _wait(self) -> None:
        while self._inflight:
            self._inflight.popleft().result()

    # -- lifetime ---------------------------------------------------------------------------------------

    def release(self) -> None:
        """Wait for a chunk still being hashed and close the descriptor (idempotent)."""
        try:
            self._wait()
        finally:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1

    def __enter__(self) -> HashingReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()


def _hash_all(digest: hashlib._Hash, chunks: list[bytes | memoryview]) -> None:
    # One update of the joined batch: hashlib lets go of the GIL for the whole batch and takes it back
    # once, instead of once per read (taking it back waits for the demuxing thread to let go of it).
    digest.update(b"".join(chunks))


__all__ = ["READ_CHUNK_BYTES", "HashingReader"]
