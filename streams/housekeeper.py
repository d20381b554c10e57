"""One thread, ``recorder-housekeeping``, that lets every attached recorder do its background work.

Each ``interval_s`` it calls :meth:`Housekept.housekeep` of each recorder (in the station: write the queued
index rows, apply a retention pause or resume while no packet arrives). One recorder's failure is logged
and reported to that recorder (:meth:`Housekept.on_housekeeping_failed`); the others go on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Set
from typing import Protocol

from streams.affinity import pin_current_thread
from streams.thread_name import name_current_thread

logger = logging.getLogger(__name__)

# Index rows are written in rounds, not as they come: a round every 0.5 s cost 0.12 s of CPU per stream and
# minute more than one every 2 s at 64 cameras (fewer, larger transactions; the interpreter held less often).
# A segment's row appears at most this late; a crash in between is what the start-up reconcile is for.
HOUSEKEEPING_S = 2.0


class Housekept(Protocol):
    """What the housekeeper drives (:class:`streams.recorder.SegmentRecorder`)."""

    @property
    def camera_id(self) -> str: ...

    def housekeep(self) -> None:
        """One round of background work."""

    def on_housekeeping_failed(self) -> None:
        """A round raised (logged already): raise the alarm."""


class Housekeeper:
    """One thread for every attached recorder (see the module text).

    One thread for all cameras, not one each: 64 threads waking twice a second to find nothing to do took
    the interpreter from the ingest threads often enough to cost a fifth of the station's CPU at 64 cameras.
    """

    def __init__(self, interval_s: float = HOUSEKEEPING_S, *, cpus: Set[int] | None = None) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        self.interval_s = interval_s
        self._cpus = cpus  # see streams.affinity
        self._lock = threading.Lock()
        self._recorders: tuple[Housekept, ...] = ()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, recorder: Housekept) -> None:
        with self._lock:
            self._recorders = (*self._recorders, recorder)

    def remove(self, recorder: Housekept) -> None:
        with self._lock:
            self._recorders = tuple(r for r in self._recorders if r is not recorder)

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("housekeeper already started")
        self._thread = threading.Thread(target=self._run, name="recorder-housekeeping", daemon=True)
        self._thread.start()

    def run_once(self) -> None:
        for recorder in self._recorders:
            try:
                recorder.housekeep()
            except Exception:  # one recorder's failure must not stop the others' index writes
                logger.exception("%s: recorder housekeeping failed", recorder.camera_id)
                recorder.on_housekeeping_failed()

    def _run(self) -> None:
        name_current_thread("housekeeping")
        pin_current_thread(self._cpus, "recorder-housekeeping")
        while not self._stop.wait(self.interval_s):
            self.run_once()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
            self._thread = None


__all__ = ["HOUSEKEEPING_S", "Housekeeper", "Housekept"]
