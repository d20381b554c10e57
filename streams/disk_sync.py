"""Durability of the files being recorded: one thread makes the recordings filesystem durable every second.

Before, every segment writer ``fsync``-ed its own file about once a second: with 64 cameras that was 64
journal commits a second, each paid on a camera thread (the writeback ran in the caller, and the camera
waited for it). :class:`DiskSyncer` calls ``syncfs(2)`` on the recordings directory instead, once per
``interval_s``: one call, one journal commit, and the kernel's flusher threads do the writing. What a power
cut can take is unchanged: at most about ``interval_s`` of footage already received (plus the fragment being
buffered).

Closing a segment still ``fsync``-s that file and its directory before the index row says it is closed
(:meth:`streams.segment_writer.SegmentWriter.close`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import threading
from collections.abc import Callable, Set
from pathlib import Path

from streams.affinity import pin_current_thread
from streams.thread_name import name_current_thread

logger = logging.getLogger(__name__)

SyncFs = Callable[[int], None]


def _load_syncfs() -> SyncFs | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        function = libc.syncfs
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int]
    function.restype = ctypes.c_int

    def syncfs(fd: int) -> None:
        if function(fd) != 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code))

    return syncfs


def _sync_everything(_fd: int) -> None:
    os.sync()


class DiskSyncer:
    """Syncs the filesystem holding ``root`` every ``interval_s`` in thread ``disk-sync`` until stopped."""

    def __init__(
        self,
        root: Path,
        *,
        interval_s: float = 1.0,
        syncfs: SyncFs | None = None,
        cpus: Set[int] | None = None,
    ) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        self.root = root
        self.interval_s = interval_s
        self._syncfs = syncfs or _load_syncfs() or _sync_everything
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._cpus = cpus  # see streams.affinity
        self._fd: int | None = None
        self.syncs = 0
        self.failures = 0
        self.last_error: str | None = None

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("disk syncer already started")
        self.root.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
        self._thread = threading.Thread(target=self._run, name="disk-sync", daemon=True)
        self._thread.start()

    def sync_now(self) -> bool:
        """One sync; False (logged, counted) when the kernel reported an error."""
        if self._fd is None:
            raise RuntimeError("disk syncer not started")
        try:
            self._syncfs(self._fd)
        except OSError as exc:
            self.failures += 1
            self.last_error = f"sync of {self.root} failed: {exc.strerror or exc}"
            logger.error("%s", self.last_error)
            return False
        self.syncs += 1
        return True

    def _run(self) -> None:
        name_current_thread("disk-sync")
        pin_current_thread(self._cpus, "disk-sync")
        while not self._stop.wait(self.interval_s):
            self.sync_now()

    def stop(self) -> None:
        """Stop the thread after one last sync."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        if self._fd is not None:
            self.sync_now()
            os.close(self._fd)
            self._fd = None
