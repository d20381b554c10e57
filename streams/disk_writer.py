"""Segment file I/O off the camera threads: one ``disk-writer`` thread writes, syncs, hashes and closes.

The recorder muxes on its camera's ingest thread (see :mod:`streams.fanout`). Before this module the muxer's
output went straight to ``write(2)``, so a disk that stopped taking data (saturated, dirty-page throttling, a
failing drive) stopped the ingest thread with it: the camera's live view froze and its RTSP session backed
up until the camera dropped it. Now the muxer writes into a :class:`QueuedFile`, which copies the bytes and
hands them to the :class:`DiskWriter` thread; the segment's close (trailer, ``fsync``, SHA-256, rename) is a
job on that thread too. Per file, the bytes waiting for the disk are bounded (``max_backlog_bytes``): past
that the write fails with :class:`DiskBacklogError` and the recorder handles it like any disk error (keeps
what is complete, opens a gap that says why, retries later) -- the camera thread never waits for the disk.

:data:`INLINE` runs every job at once on the caller's thread: the same code path, synchronous, for tests and
tools that feed a recorder by hand.
"""

from __future__ import annotations

import errno
import io
import logging
import os
import queue
import threading
from collections.abc import Callable, Set
from typing import Protocol

from streams.affinity import pin_current_thread
from streams.segment_file import HashingFile
from streams.thread_name import name_current_thread

logger = logging.getLogger(__name__)

Job = Callable[[], None]


class FileJobs(Protocol):
    """Runs a segment file's I/O jobs, each file's in the order they were submitted."""

    def submit(self, job: Job) -> None: ...

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait until every job submitted so far has run; False on timeout."""
        ...


class InlineJobs:
    """Runs each job at once on the submitting thread."""

    def submit(self, job: Job) -> None:
        job()

    def wait_idle(self, timeout_s: float) -> bool:
        return True


INLINE = InlineJobs()


class DiskBacklogError(OSError):
    """More footage is waiting for the disk than a file may hold back: the disk is too slow (or stuck)."""

    ERRNO = errno.EAGAIN

    def __init__(self, pending: int, limit: int) -> None:
        super().__init__(
            self.ERRNO,
            f"disk too slow: {pending / 2**20:.2f} MiB of footage waiting to be written "
            f"(limit {limit / 2**20:.2f} MiB)",
        )


class DiskWriter:
    """One thread, ``disk-writer``, running every submitted job in order (the station's recorders share it).

    The queue is a ``queue.SimpleQueue``: ``put`` is one C call that never blocks and takes no Python-level
    lock. A ``threading.Condition`` here made 64 camera threads queue up behind the writer thread whenever it
    held the condition's lock while waiting for the interpreter.

    A job that raises is logged and does not stop the thread; the file jobs of :class:`QueuedFile` catch
    their own errors and report them to the file.
    """

    def __init__(self, *, cpus: Set[int] | None = None) -> None:
        self._queue: queue.SimpleQueue[Job | None] = queue.SimpleQueue()  # None: stop once drained
        self._cpus = cpus  # see streams.affinity
        self._running = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("disk writer already started")
        self._running = True
        self._thread = threading.Thread(target=self._run, name="disk-writer", daemon=True)
        self._thread.start()

    def submit(self, job: Job) -> None:
        if not self._running:
            raise RuntimeError("the disk writer is not running")
        self._queue.put(job)

    def wait_idle(self, timeout_s: float) -> bool:
        done = threading.Event()
        try:
            self.submit(done.set)
        except RuntimeError:
            return True  # stopped: nothing is left to run
        return done.wait(timeout_s)

    @property
    def pending_jobs(self) -> int:
        return self._queue.qsize()

    def _run(self) -> None:
        name_current_thread("disk-writer")
        pin_current_thread(self._cpus, "disk-writer")
        while (job := self._queue.get()) is not None:
            self._run_job(job)
        while True:  # a job submitted while stop() was putting the sentinel still runs
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                return
            if job is not None:
                self._run_job(job)

    def _run_job(self, job: Job) -> None:
        try:
            job()
        except Exception:  # one file's failure must not stop every camera's writes
            logger.exception("disk writer: a job failed")

    def stop(self, timeout_s: float = 60.0) -> bool:
        """Run what is queued, then end the thread; False when it did not end within ``timeout_s``."""
        thread = self._thread
        if thread is None or not self._running:
            return True
        self._running = False
        self._queue.put(None)
        thread.join(timeout_s)
        if thread.is_alive():
            logger.error("disk writer: %d job(s) still queued after %.0f s", self.pending_jobs, timeout_s)
            return False
        self._thread = None
        return True


class QueuedFile(io.RawIOBase):
    """The muxer's output file: each write is copied and queued on ``jobs`` (at most ``max_backlog_bytes``
    waiting), then written through ``target`` (which hashes it) by whoever runs the jobs.

    A write that failed on the disk is raised by the next call from the muxer (and the writes queued after
    it are dropped); a backlog over the limit raises :class:`DiskBacklogError` at once (what was queued
    before it is still written: complete fragments stay playable). After either, the file takes nothing
    more.
    """

    def __init__(self, target: HashingFile, jobs: FileJobs, *, max_backlog_bytes: int) -> None:
        super().__init__()
        if max_backlog_bytes <= 0:
            raise ValueError("max_backlog_bytes must be positive")
        self._target = target
        self._jobs = jobs
        self._limit = max_backlog_bytes
        self._lock = threading.Lock()
        self._pending = 0
        self._error: OSError | None = None  # a write or seek failed on the disk
        self._refused: OSError | None = None  # the backlog overflowed: the muxer's output is incomplete
        self._position = 0
        self._end = 0

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    @property
    def error(self) -> OSError | None:
        """Why the file on disk is not what the muxer wrote, if it is not."""
        return self._error or self._refused

    @property
    def pending_bytes(self) -> int:
        with self._lock:
            return self._pending

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        self._raise_error()
        chunk = bytes(data)  # the muxer reuses its buffer once this returns
        size = len(chunk)
        with self._lock:
            if self._pending + size > self._limit:
                self._refused = DiskBacklogError(self._pending + size, self._limit)
                raise self._refused
            self._pending += size
        self._jobs.submit(lambda: self._write_now(chunk))
        self._raise_error()  # inline jobs: a failed write is reported at once
        self._position += size
        self._end = max(self._end, self._position)
        return size

    def _write_now(self, chunk: bytes) -> None:
        try:
            self._on_disk(lambda: self._target.write(chunk))
        finally:
            with self._lock:
                self._pending -= len(chunk)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._position, os.SEEK_END: self._end}[whence]
        target = base + offset
        if target != self._position:
            self._raise_error()
            self._jobs.submit(lambda: self._on_disk(lambda: self._target.seek(target)))
            self._position = target
        return self._position

    def _on_disk(self, action: Callable[[], object]) -> None:
        """Run one write or seek on the target unless an earlier one failed; keep its error."""
        if self._error is not None:
            return
        try:
            action()
        except OSError as exc:
            self._error = exc

    def tell(self) -> int:
        return self._position

    def flush(self) -> None:
        """Nothing to do here: every write is handed on as it comes."""

    def _raise_error(self) -> None:
        error = self.error
        if error is not None:
            raise error

    def close(self) -> None:
        """Closes this side only; ``target`` is closed by the job that finishes the file."""
        super().close()
