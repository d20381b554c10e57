"""The detection worker's threads: cameras in parallel, one camera's frames one at a time and in order."""

from __future__ import annotations

import itertools
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import cast

import numpy as np
import pytest

from detection.event import DetectionEvent
from detection.frame import Frame, Image
from detection.pipeline import CameraPipeline
from detection.rule import Episode
from detection.worker import DetectionWorker, thread_names

T0 = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
IMAGE = np.zeros((16, 16, 3), np.uint8)


class _Sink:
    def __init__(self) -> None:
        self.closed: list[DetectionEvent] = []

    def on_opened(self, camera: str, episode: Episode, image: Image) -> None:
        pass

    def on_closed(self, event: DetectionEvent) -> None:
        self.closed.append(event)


class _SlowPipeline:
    """Stands in for a camera's pipeline (a seam we own): records who analysed which frame when."""

    def __init__(self, camera: str, log: list[tuple[str, float, float, str, float]], delay_s: float) -> None:
        self.camera = camera
        self._log = log
        self._delay_s = delay_s
        self._inside = 0
        self.overlapped = False
        self.open_episodes: list[Episode] = []
        self.last_opened: list[Episode] = []
        self.last_t_s: float | None = None

    def process(self, frame: Frame) -> list[DetectionEvent]:
        self._inside += 1
        self.overlapped |= self._inside > 1
        start = time.monotonic()
        time.sleep(self._delay_s)  # sleeps without the interpreter lock, as inference does
        self._inside -= 1
        self.last_t_s = frame.t_s
        self._log.append((self.camera, start, time.monotonic(), threading.current_thread().name, frame.t_s))
        return []

    def finish(self, t_s: float) -> list[DetectionEvent]:
        return []


def _run(
    threads: int, cameras: int, frames: int, delay_s: float = 0.02
) -> tuple[list[tuple[str, float, float, str, float]], list[_SlowPipeline], float]:
    log: list[tuple[str, float, float, str, float]] = []
    pipelines = [_SlowPipeline(f"cam{i}", log, delay_s) for i in range(cameras)]
    started: list[int] = []
    worker = DetectionWorker(
        cast("dict[str, CameraPipeline]", {p.camera: p for p in pipelines}),  # a seam we own
        _Sink(),
        max_queued=frames,
        threads=threads,
        on_thread_start=started.append,
    )
    for n in range(frames):
        for p in pipelines:
            worker.submit(Frame(p.camera, T0 + timedelta(seconds=n * 0.2), IMAGE))
    begin = time.monotonic()
    worker.start()
    deadline = time.monotonic() + 20
    while len(log) < cameras * frames and time.monotonic() < deadline:
        time.sleep(0.01)
    took = time.monotonic() - begin
    assert worker.stop(timeout_s=5)
    assert sorted(started) == list(range(threads))
    return log, pipelines, took


def test_thread_names_keep_the_first_name() -> None:
    assert thread_names(1) == ["detect"]
    assert thread_names(3) == ["detect", "detect-2", "detect-3"]


def test_two_threads_analyse_two_cameras_at_the_same_time() -> None:
    log, pipelines, took = _run(threads=2, cameras=2, frames=10)
    assert len(log) == 20
    assert {entry[3] for entry in log} == {"detect", "detect-2"}
    # 20 frames of 20 ms on two threads: about 0.2 s; one thread would need 0.4 s.
    assert took < 0.36
    assert not any(p.overlapped for p in pipelines)


def test_one_cameras_frames_are_never_analysed_at_once_and_stay_in_order() -> None:
    log, pipelines, _ = _run(threads=3, cameras=1, frames=8, delay_s=0.01)
    assert not pipelines[0].overlapped
    times = [entry[4] for entry in log]
    assert times == sorted(times)
    spans = sorted((entry[1], entry[2]) for entry in log)
    assert all(later[0] >= earlier[1] for earlier, later in itertools.pairwise(spans))


def test_one_thread_is_the_old_behaviour() -> None:
    log, _, _ = _run(threads=1, cameras=3, frames=4, delay_s=0.001)
    assert {entry[3] for entry in log} == {"detect"}
    assert len(log) == 12


def test_stop_closes_open_events_once() -> None:
    class _Closing(_SlowPipeline):
        def finish(self, t_s: float) -> list[DetectionEvent]:
            return [
                DetectionEvent(
                    camera=self.camera,
                    kind="motion",
                    zone="whole",
                    start_t_s=t_s,
                    end_t_s=t_s,
                    box=(0.0, 0.0, 1.0, 1.0),
                    score=1.0,
                    track=None,
                    best_t_s=t_s,
                    snapshot_jpeg=None,
                    detail=(),
                )
            ]

    log: list[tuple[str, float, float, str, float]] = []
    sink = _Sink()
    pipeline = _Closing("cam0", log, 0.0)
    worker = DetectionWorker(cast("dict[str, CameraPipeline]", {"cam0": pipeline}), sink, threads=2)
    worker.start()
    worker.submit(Frame("cam0", T0, IMAGE))
    deadline = time.monotonic() + 5
    while not log and time.monotonic() < deadline:
        time.sleep(0.01)
    assert worker.stop()
    assert worker.stop()
    assert len(sink.closed) == 1


def test_threads_must_be_positive() -> None:
    with pytest.raises(ValueError, match="threads"):
        DetectionWorker({}, _Sink(), threads=0)
