"""The detection worker: one or more threads (``detect``, ``detect-2``...) that run every camera's pipeline on
its frames.

Frames arrive from the decoder threads through :meth:`DetectionWorker.submit`, which never blocks: each
camera has a bounded queue (``max_queued`` frames) that drops its oldest frame when full, so a slow
detector costs detection frames, never a recording or live-view packet. The worker serves the camera whose
waiting frame is oldest, so one busy camera cannot starve the others. A camera whose queue is full is
*overloaded*: its decoder then decodes keyframes only until the worker catches up.

With several threads, each takes the oldest waiting frame of a camera no other thread is analysing, so one
camera's frames are analysed one at a time and in order (a pipeline is not thread-safe), while different
cameras run in parallel. They share one detector, whose backend keeps one inference request per thread;
inference and most image work release the interpreter lock. Results go to an :class:`EventSink`, which
must not block and may be called from any worker thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import cv2
import numpy as np

from detection.error import DetectionError
from detection.event import DetectionEvent
from detection.frame import Frame, Image, keep_mark
from detection.pipeline import CameraPipeline
from detection.rule import Episode
from detection.smoking_rule import MeasurableShare

log = logging.getLogger(__name__)


class EventSink(Protocol):
    def on_opened(self, camera: str, episode: Episode, image: Image) -> None:
        """An event began (for the live wall); ``image`` is the frame it began on."""

    def on_closed(self, event: DetectionEvent) -> None:
        """An event ended: store it, cut its clip."""


@dataclass(frozen=True, slots=True)
class CameraDetectionStats:
    camera: str
    frames_in: int
    analysed: int
    dropped: int
    queued: int
    detector_calls: int
    detector_ms_p50: float
    detector_ms_p95: float
    events: dict[str, int]
    open_events: int
    last_analysed_s: float | None  # time.monotonic() of the last analysed frame
    errors: int
    people_detection: bool
    smoking: MeasurableShare | None = None  # what share of people the smoking rule could judge


@dataclass
class _Camera:
    pipeline: CameraPipeline
    replacement: CameraPipeline | None = None  # new zones or masks, swapped in before the next frame
    queue: deque[Frame] = field(default_factory=deque)
    frames_in: int = 0
    analysed: int = 0
    dropped: int = 0
    errors: int = 0
    events: Counter[str] = field(default_factory=Counter)
    last_analysed_s: float | None = None
    busy: bool = False  # a worker thread is analysing one of its frames


def thread_names(count: int) -> list[str]:
    """``detect``, ``detect-2``, ``detect-3``...: the first keeps the name a one-thread station always had."""
    return ["detect" if i == 0 else f"detect-{i + 1}" for i in range(count)]


class DetectionWorker:
    def __init__(
        self,
        pipelines: dict[str, CameraPipeline],
        sink: EventSink,
        *,
        max_queued: int = 3,
        clock: Callable[[], float] = time.monotonic,
        on_thread_start: Callable[[int], None] = lambda index: None,
        threads: int = 1,
    ) -> None:
        """``on_thread_start(index)`` runs first on each worker thread (the station names, pins and
        prioritises it there); ``threads`` worker threads analyse different cameras' frames in parallel."""
        if max_queued < 1:
            raise ValueError("max_queued must be >= 1")
        if threads < 1:
            raise ValueError("threads must be >= 1")
        self._cameras = {camera: _Camera(pipeline) for camera, pipeline in pipelines.items()}
        self._sink = sink
        self._max_queued = max_queued
        self._clock = clock
        self._on_thread_start = on_thread_start
        self._cond = threading.Condition(threading.Lock())
        self._stop = False
        self._finished = False
        self._threads = [
            threading.Thread(target=self._run, args=(index,), name=name, daemon=True)
            for index, name in enumerate(thread_names(threads))
        ]

    @property
    def cameras(self) -> list[str]:
        return list(self._cameras)

    @property
    def thread_count(self) -> int:
        return len(self._threads)

    @property
    def native_ids(self) -> list[int]:
        """The kernel's ids of the worker threads that have started (for placement checks)."""
        return [t.native_id for t in self._threads if t.native_id is not None]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self, timeout_s: float = 10.0) -> bool:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        deadline = time.monotonic() + timeout_s
        for thread in self._threads:
            thread.join(max(deadline - time.monotonic(), 0.0))
        if not any(thread.is_alive() for thread in self._threads):
            self._finish_all()
            return True
        return False

    def submit(self, frame: Frame) -> None:
        """Queue a frame; never blocks; the camera's oldest waiting frame goes when its queue is full."""
        camera = self._cameras.get(frame.camera)
        if camera is None:
            return
        with self._cond:
            camera.frames_in += 1
            if len(camera.queue) >= self._max_queued:
                dropped = camera.queue.popleft()
                camera.dropped += 1
                if camera.queue:
                    camera.queue[0] = keep_mark(dropped, camera.queue[0])
                else:
                    frame = keep_mark(dropped, frame)
            camera.queue.append(frame)
            self._cond.notify()

    def replace_pipeline(self, camera_id: str, pipeline: CameraPipeline) -> bool:
        """Use ``pipeline`` (new zones, masks or parameters) for this camera from its next frame on; the
        events the old one has open end there. False for a camera this worker does not serve."""
        camera = self._cameras.get(camera_id)
        if camera is None:
            return False
        with self._cond:
            camera.replacement = pipeline
        return True

    def is_overloaded(self, camera_id: str) -> bool:
        camera = self._cameras.get(camera_id)
        return camera is not None and len(camera.queue) >= self._max_queued

    def open_episodes(self, camera_id: str) -> list[Episode]:
        camera = self._cameras.get(camera_id)
        return list(camera.pipeline.open_episodes) if camera is not None else []

    def stats(self) -> list[CameraDetectionStats]:
        out = []
        with self._cond:
            snapshot = [(cid, cam, len(cam.queue)) for cid, cam in self._cameras.items()]
        for camera_id, camera, queued in snapshot:
            times = camera.pipeline.times
            recent = list(times.detector_ms)[-500:]
            p50, p95 = (float(np.percentile(recent, q)) for q in (50, 95)) if recent else (0.0, 0.0)
            out.append(
                CameraDetectionStats(
                    camera=camera_id,
                    frames_in=camera.frames_in,
                    analysed=camera.analysed,
                    dropped=camera.dropped,
                    queued=queued,
                    detector_calls=times.detector_calls,
                    detector_ms_p50=p50,
                    detector_ms_p95=p95,
                    events=dict(camera.events),
                    open_events=len(camera.pipeline.open_episodes),
                    last_analysed_s=camera.last_analysed_s,
                    errors=camera.errors,
                    people_detection=camera.pipeline.detects_people,
                    smoking=camera.pipeline.smoking.measurable() if camera.pipeline.smoking else None,
                )
            )
        return out

    def _next(self) -> tuple[_Camera, Frame] | None:
        """The oldest waiting frame of a camera no other thread is analysing; marks that camera busy."""
        with self._cond:
            while not self._stop:
                waiting = [c for c in self._cameras.values() if c.queue and not c.busy]
                if waiting:
                    camera = min(waiting, key=lambda c: c.queue[0].t_s)
                    camera.busy = True
                    return camera, camera.queue.popleft()
                self._cond.wait(timeout=1.0)
            return None

    def _done(self, camera: _Camera) -> None:
        with self._cond:
            camera.busy = False
            if camera.queue:
                self._cond.notify()

    def _run(self, index: int) -> None:
        self._on_thread_start(index)
        while True:
            item = self._next()
            if item is None:
                break
            camera, frame = item
            try:
                self._process(camera, frame)
            finally:
                self._done(camera)

    def _finish_all(self) -> None:
        """After every thread stopped: close the events still open (once)."""
        if self._finished:
            return
        self._finished = True
        for camera in self._cameras.values():
            last = camera.pipeline.last_t_s
            if last is not None:
                for event in camera.pipeline.finish(last):
                    self._closed(camera, event)

    def _process(self, camera: _Camera, frame: Frame) -> None:
        with self._cond:
            replacement, camera.replacement = camera.replacement, None
        if replacement is not None:
            last = camera.pipeline.last_t_s
            for event in camera.pipeline.finish(last if last is not None else frame.t_s):
                self._closed(camera, event)
            camera.pipeline = replacement
        try:
            events = camera.pipeline.process(frame)
        except (DetectionError, ValueError, cv2.error) as exc:
            camera.errors += 1
            log.warning("%s: detection failed on a frame: %s", frame.camera, exc)
            return
        camera.analysed += 1
        camera.last_analysed_s = self._clock()
        for episode in camera.pipeline.last_opened:
            self._sink.on_opened(frame.camera, episode, frame.image)
        for event in events:
            self._closed(camera, event)

    def _closed(self, camera: _Camera, event: DetectionEvent) -> None:
        camera.events[event.kind] += 1
        self._sink.on_closed(event)
