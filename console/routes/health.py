"""``GET /api/health``: anonymous liveness for monitoring, with each camera's status."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import text

from console.deps import StationDep
from console.health import CameraHealth, CameraStatus
from console.station import Station

router = APIRouter(prefix="/api", tags=["health"])


class CameraHealthPublic(BaseModel):
    id: str
    name: str
    status: CameraStatus
    since: datetime | None
    detail: str | None
    recording: bool
    last_packet_at: datetime | None
    fps: float | None
    bitrate_kbps: float | None

    @classmethod
    def of(cls, health: CameraHealth) -> CameraHealthPublic:
        return cls(
            id=health.id,
            name=health.name,
            status=health.status,
            since=health.since,
            detail=health.detail,
            recording=health.recording,
            last_packet_at=health.last_packet_at,
            fps=health.fps,
            bitrate_kbps=health.bitrate_kbps,
        )


class DatabaseHealth(BaseModel):
    ok: bool
    backend: str
    error: str | None = None


class HealthPublic(BaseModel):
    status: str  # "ok" or "degraded"
    station: str
    version: str
    started_at: datetime
    uptime_s: float
    database: DatabaseHealth
    cameras: list[CameraHealthPublic]


def check_database(station: Station) -> DatabaseHealth:
    backend = station.database.engine.dialect.name
    try:
        with station.database.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure is "database down", reported not raised
        return DatabaseHealth(ok=False, backend=backend, error=type(exc).__name__)
    return DatabaseHealth(ok=True, backend=backend)


@router.get("/health", summary="Process, database and camera status (no sign-in needed)")
def get_health(station: StationDep) -> HealthPublic:
    database = check_database(station)
    return HealthPublic(
        status="ok" if database.ok else "degraded",
        station=station.name,
        version=station.version,
        started_at=station.started_at,
        uptime_s=round(station.uptime_s(), 3),
        database=database,
        cameras=[CameraHealthPublic.of(camera) for camera in station.health.snapshot()],
    )
