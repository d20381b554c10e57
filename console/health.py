"""Live health of the station's cameras, shared between the ingest side and ``GET /api/health``.

The registry is a thread-safe map of camera id -> :class:`CameraHealth` (an immutable snapshot). Ingest
workers, which run in their own threads, report with :meth:`HealthRegistry.update`; readers take
:meth:`HealthRegistry.snapshot`. ``since`` changes only when the status changes, so "offline since 02:14"
stays true while the worker keeps retrying.

Usage from the ingest side (the composition root hands the registry to the worker)::

    registry.update("entrance-1", CameraStatus.ONLINE, fps=25.0, bitrate_kbps=2048)
    registry.update("entrance-1", CameraStatus.OFFLINE, detail="connection refused")
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from config.schema import CameraConfig
from console.recording import CameraSnapshot
from storage.model import utcnow
from streams.health import HealthState, StreamHealth
from streams.recorder import RecorderState


class CameraStatus(StrEnum):
    UNKNOWN = "unknown"  # nothing reported yet
    CONNECTING = "connecting"
    ONLINE = "online"
    DEGRADED = "degraded"  # delivering, but below the expected rate, with broken packets or clock trouble
    OFFLINE = "offline"  # cannot connect (refused, timeout, unreachable)
    UNAUTHORIZED = "unauthorized"  # the camera refused our credentials
    STALLED = "stalled"  # connected but no packets within read_timeout_s
    ERROR = "error"  # anything else; see detail
    DISABLED = "disabled"  # enabled: false in the config


@dataclass(frozen=True, slots=True)
class CameraHealth:
    id: str
    name: str
    status: CameraStatus = CameraStatus.UNKNOWN
    since: datetime | None = None  # when the current status began (UTC)
    detail: str | None = None  # human-readable cause; never contains a password
    recording: bool = False
    last_packet_at: datetime | None = None
    fps: float | None = None
    bitrate_kbps: float | None = None


class HealthRegistry:
    def __init__(self, cameras: Iterable[CameraConfig] = ()) -> None:
        self._lock = threading.Lock()
        self._cameras: dict[str, CameraHealth] = {}
        for camera in cameras:
            status = CameraStatus.UNKNOWN if camera.enabled else CameraStatus.DISABLED
            self._cameras[camera.id] = CameraHealth(id=camera.id, name=camera.name, status=status)

    def register(self, camera_id: str, name: str) -> None:
        with self._lock:
            self._cameras.setdefault(camera_id, CameraHealth(id=camera_id, name=name))

    def update(
        self,
        camera_id: str,
        status: CameraStatus,
        *,
        detail: str | None = None,
        recording: bool | None = None,
        last_packet_at: datetime | None = None,
        fps: float | None = None,
        bitrate_kbps: float | None = None,
        now: datetime | None = None,
    ) -> CameraHealth:
        """Record the camera's current state; raises KeyError for a camera that was never registered."""
        with self._lock:
            current = self._cameras[camera_id]
            changed = status != current.status
            new = replace(
                current,
                status=status,
                since=(now or utcnow()) if changed or current.since is None else current.since,
                detail=detail,
                recording=current.recording if recording is None else recording,
                last_packet_at=last_packet_at or current.last_packet_at,
                fps=fps,
                bitrate_kbps=bitrate_kbps,
            )
            self._cameras[camera_id] = new
            return new

    def get(self, camera_id: str) -> CameraHealth:
        with self._lock:
            return self._cameras[camera_id]

    def snapshot(self) -> list[CameraHealth]:
        with self._lock:
            return list(self._cameras.values())


def status_of(health: StreamHealth) -> CameraStatus:
    """The console's status for one stream's ingest state (pure)."""
    if health.state is HealthState.OFFLINE:
        error = (health.last_error or "").lower()
        if error.startswith("unauthorized"):
            return CameraStatus.UNAUTHORIZED
        if error.startswith("stalled"):
            return CameraStatus.STALLED
        if error.startswith(("config", "bad_format", "unsupported")):
            return CameraStatus.ERROR
        return CameraStatus.OFFLINE
    return {
        HealthState.CONNECTING: CameraStatus.CONNECTING,
        HealthState.ONLINE: CameraStatus.ONLINE,
        HealthState.DEGRADED: CameraStatus.DEGRADED,
    }[health.state]


def apply_snapshot(registry: HealthRegistry, camera_id: str, snapshot: CameraSnapshot) -> None:
    """Update ``registry`` from the recording pipeline's snapshot of one camera (disabled cameras stay)."""
    main = snapshot.main
    if main is None:
        return
    recorder = snapshot.recorder
    registry.update(
        camera_id,
        status_of(main),
        detail=main.degraded_reason or main.last_error,
        recording=recorder is not None and recorder.state is RecorderState.RECORDING,
        last_packet_at=main.last_packet_utc,
        fps=main.fps,
        bitrate_kbps=None if main.bitrate_bps is None else round(main.bitrate_bps / 1000, 1),
        now=main.since_utc,
    )
