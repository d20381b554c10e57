"""Detection in the running station: decoders, the detection worker and the event recorder, wired here.

For every enabled camera with ``detection.enabled``: a :class:`streams.frame_decoder.LiveFrameDecoder`
(thread ``dec:<camera>``) subscribed to its sub-stream (the main one where there is none) feeds the one
:class:`detection.worker.DetectionWorker` (thread ``detect``), which runs the camera's
:class:`detection.pipeline.CameraPipeline` and reports to :class:`EventRecorder` (thread ``events``): rows
in ``events`` when an event opens and closes, the snapshot JPEG, the footage lock until review, and the
event's clip, cut from the recorded segments once its post-roll has been written to a closed segment.

Where they run (``detection.cpus``): ``free``, only the CPUs that ``recording.media_cpus`` leaves free;
``all`` (default), every CPU, so that detection also uses the recording CPU's idle time. Either way the
detection threads run at ``detection.nice`` (10): when recording, live view or the web console want a CPU
they get it first. ``detection.workers`` threads (auto: one per CPU detection may use) analyse different
cameras' frames at the same time, sharing one detector (an inference request each). A model that cannot
be loaded turns people detection off (motion events go on) and says why in the health report; recording is
never affected.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from config.schema import CameraConfig, DetectionKind
from config.settings import Settings
from console.event_recorder import EventRecorder
from console.model_path import default_model_path, model_cache_dir
from detection.builder import build_camera_pipeline
from detection.detector import ObjectDetector, load_detector
from detection.error import DetectionError
from detection.frame import Frame, Image
from detection.pipeline import CANDIDATE_SCORE, CameraPipeline
from detection.smoking_rule import SmokingModels
from detection.worker import CameraDetectionStats, DetectionWorker, thread_names
from storage.database import Database
from streams.affinity import available_cpus, lower_current_thread_priority, pin_current_thread
from streams.continuity import StreamBreak
from streams.fanout import FanoutPolicy
from streams.frame_decoder import DecoderStats, LiveFrameDecoder
from streams.ingest import IngestManager
from streams.thread_name import name_current_thread

logger = logging.getLogger(__name__)


def detection_cpus(
    setting: str, available: frozenset[int], media_cpus: frozenset[int] | None
) -> frozenset[int] | None:
    """The CPUs the detection threads may use (None: leave them unpinned). ``all``: every available CPU;
    ``free``: those that recording does not use, when recording is pinned and leaves some."""
    if setting == "all":
        return available
    if media_cpus is None:
        return None
    free = available - media_cpus
    return frozenset(free) if free else None


def detection_workers(setting: int | str, cpus: frozenset[int]) -> int:
    """How many worker threads: the configured number, or under ``auto`` one per CPU detection may use."""
    return setting if isinstance(setting, int) else max(len(cpus), 1)


@dataclass(frozen=True, slots=True)
class CameraDetectionHealth:
    camera_id: str
    worker: CameraDetectionStats
    decoder: DecoderStats | None
    stalled: bool
    note: str | None  # why people detection is off, when it is


class DetectionService:
    """Owns the decoders, the worker and the event recorder of one station."""

    STALL_AFTER_S = 30.0

    def __init__(
        self, settings: Settings, database: Database, ingest: IngestManager, media_cpus: frozenset[int] | None
    ):
        self.settings = settings
        self.database = database
        self.ingest = ingest
        config = settings.config
        self.cpus = detection_cpus(config.detection.cpus, available_cpus(), media_cpus)
        self.nice = config.detection.nice
        self.workers = detection_workers(config.detection.workers, self.cpus or available_cpus())
        self.cameras = [c for c in config.cameras if c.enabled and c.detection.enabled]
        self.notes: dict[str, list[str]] = {}
        self.model_error: str | None = None
        self.detector: ObjectDetector | None = None
        self.worker: DetectionWorker | None = None
        self.decoders: dict[str, LiveFrameDecoder] = {}
        timezone = config.station.timezone
        self.recorder = EventRecorder(
            database=database,
            data_dir=settings.data_dir,
            recordings_dir=settings.recordings_dir,
            station_name=config.station.name,
            timezone=timezone,
            pre_s=config.detection.event_clip_pre_s,
            post_s=config.detection.event_clip_post_s,
            camera_names={c.id: c.name for c in config.cameras},
            segment_seconds={
                c.id: float(c.recording.segment_seconds or config.recording.segment_seconds)
                for c in config.cameras
            },
            retention_days={
                c.id: c.recording.retention_days or config.recording.retention_days for c in config.cameras
            },
            cpus=self.cpus,
        )

    @property
    def enabled(self) -> bool:
        return bool(self.cameras)

    def start(self) -> None:
        if not self.cameras:
            return
        self.detector = self._load_detector()
        pipelines = {camera.id: self._pipeline(camera) for camera in self.cameras}
        self.worker = DetectionWorker(
            pipelines, self.recorder, on_thread_start=self._name_worker, threads=self.workers
        )
        self.recorder.start()
        self.worker.start()
        for camera in self.cameras:
            self._start_decoder(camera)
        logger.info(
            "detection: %d camera(s), people detection %s, %d worker thread(s) on %s at nice %d",
            len(self.cameras),
            f"with {self.detector.info.path.name} ({self.detector.info.backend})" if self.detector else "off",
            self.workers,
            "every CPU" if self.cpus is None else f"CPU {sorted(self.cpus)}",
            self.nice,
        )

    def stop(self) -> None:
        for decoder in self.decoders.values():
            decoder.stop()
        if self.worker is not None:
            self.worker.stop()
        if self.cameras:
            self.recorder.stop()

    def _name_worker(self, index: int) -> None:
        name = thread_names(index + 1)[index]
        name_current_thread(name)
        self._place_thread(name)

    def _place_thread(self, label: str) -> None:
        """A detection thread's CPUs and priority (see the module docstring)."""
        pin_current_thread(self.cpus, label)
        lower_current_thread_priority(self.nice, label)

    def _load_detector(self) -> ObjectDetector | None:
        config = self.settings.config
        wanted = any(
            kind in (DetectionKind.PERSON, DetectionKind.LITTERING, DetectionKind.SMOKING)
            for camera in self.cameras
            for kind in camera.detection.kinds
        )
        path = default_model_path(config.detection.model_path)
        if not wanted:
            return None
        if path is None:
            self.model_error = "no detector model is configured (detection.model_path)"
            logger.warning("detection: people detection is off: %s", self.model_error)
            return None
        result: list[ObjectDetector | Exception] = []

        def load() -> None:
            # Loaded on a thread already placed, so the runtime's own threads start on the same CPUs, at the
            # same priority.
            self._place_thread("detector")
            try:
                result.append(
                    load_detector(
                        path,
                        backend=config.detection.backend,
                        threads=config.detection.threads,
                        parallel=self.workers,
                        precision=config.detection.precision,
                        min_score=CANDIDATE_SCORE,
                        fp32_cache_dir=model_cache_dir(self.settings.data_dir),
                    )
                )
            except (DetectionError, OSError) as exc:
                result.append(exc)

        loader = threading.Thread(target=load, name="detector-load")
        loader.start()
        loader.join()
        outcome = result[0] if result else DetectionError("detector load did not finish")
        if isinstance(outcome, Exception):
            self.model_error = str(outcome)
            logger.error("detection: people detection is off: %s", self.model_error)
            return None
        return outcome

    def _pipeline(self, camera: CameraConfig) -> CameraPipeline:
        config = self.settings.config
        pipeline, notes = build_camera_pipeline(
            camera.id,
            camera,
            timezone=ZoneInfo(config.station.timezone),
            detector=self.detector,
            fps=camera.detection.fps,
            params={"tracker.activation_score": config.detection.confidence, **config.detection.params},
            smoking_models=SmokingModels(
                config.detection.keypoint_models_dir, config.detection.smoking_model_path
            ),
        )
        if self.model_error and any(n.startswith("people detection is off") for n in notes):
            notes = [n for n in notes if not n.startswith("people detection is off")]
            notes.append(f"people detection is off: {self.model_error}")
        self.notes[camera.id] = notes
        for note in notes:
            logger.warning("%s: %s", camera.id, note)
        return pipeline

    def _start_decoder(self, camera: CameraConfig) -> None:
        stream = "sub" if (camera.id, "sub") in self.ingest.workers else "main"
        if (camera.id, stream) not in self.ingest.workers:
            logger.error("%s: detection has no stream to read", camera.id)
            return
        subscription = self.ingest.subscribe(
            camera.id, "detection", stream=stream, policy=FanoutPolicy.DROP_OLDEST, maxsize=256, wake_every=8
        )
        worker = self.worker
        assert worker is not None

        def deliver(camera_id: str, ts_utc: datetime, image: Image, stream_break: StreamBreak | None) -> None:
            # The decoder's continuity mark travels with the frame: the pipeline starts afresh on it.
            worker.submit(
                Frame(camera_id, ts_utc, image, None if stream_break is None else str(stream_break))
            )

        decoder = LiveFrameDecoder(
            subscription,
            camera.id,
            fps=camera.detection.fps,
            deliver=deliver,
            overloaded=_bind(worker.is_overloaded, camera.id),
            on_thread_start=lambda: self._place_thread(f"dec:{camera.id}"),
        )
        decoder.start()
        self.decoders[camera.id] = decoder

    def apply_camera(self, camera: CameraConfig) -> bool:
        """Run ``camera``'s new detection settings (zones, masks) from its next frame, without a restart.
        False when the camera does not run detection in this process (enabling it needs a restart)."""
        if self.worker is None or camera.id not in self.worker.cameras or not camera.detection.enabled:
            return False
        return self.worker.replace_pipeline(camera.id, self._pipeline(camera))

    def problems(self) -> list[tuple[str, str, str | None]]:
        """What the station status reports of detection: a model that cannot be used, a stalled worker."""
        out: list[tuple[str, str, str | None]] = []
        if self.model_error is not None:
            out.append(("detector_unavailable", f"people detection is off: {self.model_error}", None))
        for health in self.health():
            if health.stalled:
                message = f"detection has analysed nothing for {self.STALL_AFTER_S:.0f} s while frames wait"
                out.append(("detection_stalled", message, health.camera_id))
        return out

    def health(self) -> list[CameraDetectionHealth]:
        if self.worker is None:
            return []
        now = time.monotonic()
        out = []
        for stats in self.worker.stats():
            decoder = self.decoders.get(stats.camera)
            stalled = stats.queued > 0 and (
                stats.last_analysed_s is None or now - stats.last_analysed_s > self.STALL_AFTER_S
            )
            notes = self.notes.get(stats.camera, [])
            out.append(
                CameraDetectionHealth(
                    stats.camera,
                    stats,
                    decoder.stats() if decoder else None,
                    stalled,
                    "; ".join(notes) or None,
                )
            )
        return out


def _bind(check: Callable[[str], bool], camera_id: str) -> Callable[[], bool]:
    return lambda: check(camera_id)
