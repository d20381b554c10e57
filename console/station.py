"""The running station: one typed object built at start-up and closed in reverse order at shutdown.

:func:`open_station` builds it under the caller's :class:`contextlib.AsyncExitStack`; every resource that
needs closing registers its own callback right after it is opened, so shutdown is reverse start-up by
construction. The web app keeps the one :class:`Station` in ``app.state.station`` and routes reach it through
the typed dependency :data:`console.deps.StationDep`.

Blocking work (opening the database, migrations, compiling catalogs) runs in a worker thread so the event
loop is never blocked.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version

from anyio import to_thread
from fastapi.templating import Jinja2Templates

from config.settings import Settings
from console.account import new_login_limiter
from console.audit_throttle import AuditThrottle
from console.bootstrap import prepare_database
from console.detection_service import DetectionService
from console.health import HealthRegistry, apply_snapshot
from console.i18n import Catalogs
from console.live import LiveRegistry, open_live
from console.rate_limit import LoginRateLimiter
from console.recording import CameraSnapshot, RecordingPipeline
from console.station_status import StationStatus, assess_station
from console.template import build_templates
from console.verify_worker import VerifyWorker
from storage.database import Database
from storage.model import utcnow
from storage.retention import RetentionStatus
from storage.signing import StationKey, ensure_station_key
from streams.ingest import IngestManager

logger = logging.getLogger(__name__)


def station_version() -> str:
    try:
        return version("station-console")
    except PackageNotFoundError:
        return "0+unknown"


@dataclass(slots=True)
class Station:
    """Everything the web console needs while it runs."""

    settings: Settings
    database: Database
    health: HealthRegistry
    catalogs: Catalogs
    templates: Jinja2Templates
    login_limiter: LoginRateLimiter
    recording: RecordingPipeline
    key: StationKey  # Ed25519 key that signs evidence manifests; its fingerprint is shown in the console
    live: LiveRegistry | None = None  # WebRTC viewers and snapshots (console.live)
    detection: DetectionService | None = None  # decoders, detection worker, event recorder
    verifier: VerifyWorker = field(default_factory=VerifyWorker)  # uploaded packages, checked in a child
    audit_throttle: AuditThrottle = field(default_factory=AuditThrottle)  # repeated audit events
    version: str = field(default_factory=station_version)
    started_at: datetime = field(default_factory=utcnow)

    @property
    def name(self) -> str:
        return self.settings.config.station.name

    def uptime_s(self, now: datetime | None = None) -> float:
        return ((now or utcnow()) - self.started_at).total_seconds()

    @property
    def ingest(self) -> IngestManager:
        """The camera connections: subscribe here for live view, snapshots and detection."""
        return self.recording.ingest

    def refresh_health(self, snapshots: Mapping[str, CameraSnapshot] | None = None) -> None:
        """Copy the pipeline's live state (or ``snapshots`` already taken) into the health registry."""
        for camera_id, snapshot in (self.recording.snapshot() if snapshots is None else snapshots).items():
            apply_snapshot(self.health, camera_id, snapshot)

    def assess(
        self, *, database_ok: bool, retention: RetentionStatus | None = None
    ) -> tuple[dict[str, CameraSnapshot], StationStatus]:
        """Take the pipeline's snapshots, copy them into the health registry, and judge the station from them
        and retention's status (``retention``, when the caller already read it, so both show the same
        pass). Returns the snapshots too, for the caller's per-camera figures."""
        snapshots = self.recording.snapshot()
        self.refresh_health(snapshots)
        status = assess_station(
            database_ok=database_ok,
            retention=self.recording.retention_status() if retention is None else retention,
            cameras=self.health.snapshot(),
            recorder_alarms={
                camera_id: (snap.recorder.alarm, snap.recorder.last_error)
                for camera_id, snap in snapshots.items()
                if snap.recorder is not None and snap.recorder.alarm is not None
            },
            detection_problems=self.detection.problems() if self.detection is not None else (),
        )
        return snapshots, status


async def open_station(settings: Settings, stack: AsyncExitStack) -> Station:
    database = await to_thread.run_sync(prepare_database, settings)
    stack.callback(database.dispose)
    catalogs = await to_thread.run_sync(Catalogs.load, settings.config.console.language)
    key = await to_thread.run_sync(ensure_station_key, settings.data_dir)
    logger.info("station signing key %s", key.fingerprint)
    recording = RecordingPipeline(settings, database)
    await to_thread.run_sync(recording.start)
    stack.push_async_callback(to_thread.run_sync, recording.stop)
    station = Station(
        settings=settings,
        database=database,
        health=HealthRegistry(settings.config.cameras),
        catalogs=catalogs,
        templates=build_templates(timezone=settings.config.station.timezone),
        login_limiter=new_login_limiter(settings.config.console.login_attempts_per_minute),
        recording=recording,
        key=key,
    )
    station.live = await open_live(settings, station.ingest, stack)
    detection = DetectionService(settings, database, station.ingest, recording.media_cpus)
    if detection.enabled:
        await to_thread.run_sync(detection.start)
        stack.push_async_callback(to_thread.run_sync, detection.stop)
        station.detection = detection
    logger.info("station %r ready: %d camera(s) configured", station.name, len(settings.config.cameras))
    return station
