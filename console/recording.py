"""The recording pipeline of a running station: ingest → recorders → retention, wired in one place.

Start order: finish the segment deletions a killed retention pass left half-done, reconcile the disk with the
index (finish ``.partial`` files of a crash, close the ``station_stopped`` gap), the disk syncer (the
recordings filesystem made durable every fragment interval), the disk writer (every segment file's I/O, off
the camera threads), ingest, one recorder per recorded camera stream, then retention. Stop is the reverse:
ingest first (each recorder sees the stream stop and closes its file), then the recorders (files finished,
pending index rows written, ``station_stopped`` gap opened), retention, the disk writer, and a last sync.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from config.error import ConfigError, Problem
from config.schema import RecordingConfig
from config.settings import Settings
from config.verify import cpu_list
from storage.database import Database
from storage.model import utcnow
from storage.retention import (
    FinishedDeletions,
    RetentionSettings,
    RetentionStatus,
    RetentionWorker,
    finish_interrupted_deletions,
)
from streams.affinity import UnavailableCpuError, available_cpus, plan_media_cpus
from streams.backoff import BackoffPolicy
from streams.disk_sync import DiskSyncer
from streams.disk_writer import DiskWriter
from streams.health import StreamHealth
from streams.ingest import IngestManager
from streams.live_segment import LiveFootage
from streams.pacing import PacingPolicy
from streams.reconcile import ReconcileReport, reconcile_recordings
from streams.recorder import Housekeeper, RecorderSettings, RecorderStatus, SegmentRecorder

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CameraSnapshot:
    """What the station knows about one camera right now."""

    camera_id: str
    streams: tuple[StreamHealth, ...]
    recorder: RecorderStatus | None

    @property
    def main(self) -> StreamHealth | None:
        return next((h for h in self.streams if h.stream == "main"), None)


def media_cpus(settings: Settings) -> frozenset[int] | None:
    """The CPUs of the station's media threads (see :mod:`streams.affinity`); a configured CPU this
    machine does not give the station is a :class:`ConfigError`."""
    config = settings.config
    streams = sum(1 + (camera.sub_url is not None) for camera in config.cameras if camera.enabled)
    try:
        return plan_media_cpus(config.recording.media_cpus, available_cpus(), streams)
    except UnavailableCpuError as exc:
        source = settings.config_path.name if settings.config_path else "station.yaml"
        raise ConfigError([Problem(source, "recording.media_cpus", str(exc))]) from None


def read_pacing(recording: RecordingConfig) -> PacingPolicy:
    """The camera threads' read batching (``recording.read_batch_ms``; streams.pacing)."""
    return PacingPolicy(pause_s=recording.read_batch_ms / 1000)


class RecordingPipeline:
    """Owns the ingest manager, the recorders and the retention worker of one station."""

    def __init__(
        self,
        settings: Settings,
        database: Database,
        *,
        retention_interval_s: float = 60.0,
        backoff: BackoffPolicy | None = None,
    ) -> None:
        """``backoff``: the cameras' reconnect delays (default: :class:`streams.backoff.BackoffPolicy`)."""
        self.settings = settings
        self.database = database
        config = settings.config
        self.media_cpus = media_cpus(settings)
        cpus = self.media_cpus
        self.ingest = IngestManager(
            config.cameras,
            secrets=settings.secrets,
            cpus=cpus,
            pacing=read_pacing(config.recording),
            backoff=backoff,
        )
        self.recorders: dict[str, SegmentRecorder] = {}
        self.disk_writer = DiskWriter(cpus=cpus)
        for camera in config.cameras:
            record = camera.recording.enabled
            if camera.enabled and (record if record is not None else config.recording.enabled):
                self.recorders[camera.id] = SegmentRecorder(
                    camera_id=camera.id,
                    db=database,
                    root=settings.recordings_dir,
                    settings=RecorderSettings.from_config(config, camera.id),
                    jobs=self.disk_writer,
                )
        self.retention = RetentionWorker(
            db=database,
            root=settings.recordings_dir,
            settings=RetentionSettings.from_config(config, interval_s=retention_interval_s),
            controls=self.recorders,
        )
        self.housekeeper = Housekeeper(cpus=cpus)
        self.disk_sync = DiskSyncer(
            settings.recordings_dir, interval_s=config.recording.fragment_seconds, cpus=cpus
        )
        self.reconcile_report: ReconcileReport | None = None
        self.finished_deletions: FinishedDeletions | None = None
        self._started = False

    def start(self) -> None:
        root = self.settings.recordings_dir
        root.mkdir(parents=True, exist_ok=True)
        self.finished_deletions = finish_interrupted_deletions(self.database, root=root, now=utcnow())
        self.reconcile_report = reconcile_recordings(
            self.database, root, camera_ids=[c.id for c in self.settings.config.cameras]
        )
        self.disk_sync.start()
        self.disk_writer.start()
        self.housekeeper.start()
        for camera_id, recorder in self.recorders.items():
            if (camera_id, "main") not in self.ingest.workers:
                logger.error("%s: not recorded: its main stream could not be set up", camera_id)
                continue
            # the recorder muxes on the camera's ingest thread; index writes go on in its own thread.
            # Attached before the cameras start, so that it sees a stream's first packet, not the next.
            recorder.attach(self.ingest.worker(camera_id).fanout, self.housekeeper)
        self.ingest.start()
        self.retention.start()
        self._started = True
        logger.info(
            "recording: %d camera stream(s) ingested, %d recorded into %s; media threads on %s",
            len(self.ingest.workers),
            len(self.recorders),
            root,
            "every CPU" if self.media_cpus is None else f"CPU {cpu_list(self.media_cpus)}",
        )

    def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        self.ingest.stop(timeout_s=10.0)
        for recorder in self.recorders.values():
            recorder.stop(detail="station stopped")
        self.housekeeper.stop()
        self.retention.stop()
        self.disk_writer.stop()
        self.disk_sync.stop()
        logger.info("recording stopped")

    def snapshot(self) -> dict[str, CameraSnapshot]:
        by_camera: dict[str, list[StreamHealth]] = {}
        for health in self.ingest.health():
            by_camera.setdefault(health.camera_id, []).append(health)
        return {
            camera.id: CameraSnapshot(
                camera_id=camera.id,
                streams=tuple(by_camera.get(camera.id, ())),
                recorder=self.recorders[camera.id].status() if camera.id in self.recorders else None,
            )
            for camera in self.settings.config.cameras
        }

    def live_footage(self, camera_id: str) -> tuple[LiveFootage, ...]:
        """What playback and export may read of ``camera_id``'s files not indexed as closed yet (the one
        being written, up to its last complete fragment on disk); empty when the camera is not recorded."""
        recorder = self.recorders.get(camera_id)
        return recorder.live_footage() if recorder is not None else ()

    def retention_status(self) -> RetentionStatus:
        return self.retention.status()
