"""``GET /api/health``: liveness for monitoring; the station's details only for a signed-in user or a token.

Anonymous callers (a load balancer, an uptime probe) learn only the overall status (``ok``, ``warning`` or
``degraded``): camera names, places, stream URLs, file paths and which cameras are offline are the layout of
a police point and stay behind sign-in (issue 26, finding 8).
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import text

from console.deps import OptionalUser, StationDep
from console.detection_service import CameraDetectionHealth
from console.health import CameraHealth, CameraStatus
from console.recording import CameraSnapshot
from console.station import Station
from console.station_status import StatusLevel
from detection.smoking_rule import MeasurableShare
from storage.retention import RetentionStatus
from streams.health import StreamHealth
from streams.recorder import RecorderStatus

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
    streams: list[StreamHealthPublic] = []
    recorder: RecorderPublic | None = None

    @classmethod
    def of(cls, health: CameraHealth, snapshot: CameraSnapshot | None = None) -> CameraHealthPublic:
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
            streams=[] if snapshot is None else [StreamHealthPublic.of(h) for h in snapshot.streams],
            recorder=None
            if snapshot is None or snapshot.recorder is None
            else RecorderPublic.of(snapshot.recorder),
        )


class StreamHealthPublic(BaseModel):
    """One camera stream's ingest state (URL redacted)."""

    stream: str
    state: str
    since: datetime
    url: str
    transport: str
    last_error: str | None
    last_error_at: datetime | None
    next_retry_at: datetime | None
    degraded_reason: str | None
    codec: str | None
    width: int | None
    height: int | None
    fps: float | None
    expected_fps: float | None
    bitrate_bps: float | None
    keyframe_interval_s: float | None
    keyframe_interval_frames: int | None
    reconnects: int
    connect_attempts: int
    corrupt_packets: int
    clock_lag_s: float | None
    last_clock_event: str | None

    @classmethod
    def of(cls, h: StreamHealth) -> StreamHealthPublic:
        return cls(
            stream=h.stream,
            state=h.state.value,
            since=h.since_utc,
            url=h.url,
            transport=h.transport,
            last_error=h.last_error,
            last_error_at=h.last_error_utc,
            next_retry_at=h.next_retry_utc,
            degraded_reason=h.degraded_reason,
            codec=h.codec,
            width=h.width,
            height=h.height,
            fps=None if h.fps is None else round(h.fps, 2),
            expected_fps=h.expected_fps,
            bitrate_bps=None if h.bitrate_bps is None else round(h.bitrate_bps),
            keyframe_interval_s=None if h.keyframe_interval_s is None else round(h.keyframe_interval_s, 3),
            keyframe_interval_frames=h.keyframe_interval_frames,
            reconnects=h.reconnects,
            connect_attempts=h.connect_attempts,
            corrupt_packets=h.corrupt_packets,
            clock_lag_s=None if h.clock_lag_s is None else round(h.clock_lag_s, 3),
            last_clock_event=h.last_clock_event,
        )


class RecorderPublic(BaseModel):
    """The camera's recorder: what it is doing and how fresh the newest footage is."""

    state: str
    current_segment_start: datetime | None
    newest_footage_at: datetime | None
    newest_footage_age_s: float | None
    segments_closed: int
    bytes_written: int
    write_backlog_bytes: int
    gap_reason: str | None
    stop_reason: str | None
    alarm: str | None
    last_error: str | None

    @classmethod
    def of(cls, r: RecorderStatus) -> RecorderPublic:
        return cls(
            state=r.state.value,
            current_segment_start=r.current_segment_start_utc,
            newest_footage_at=r.newest_footage_utc,
            newest_footage_age_s=None if r.newest_footage_age_s is None else round(r.newest_footage_age_s, 1),
            segments_closed=r.segments_closed,
            bytes_written=r.bytes_written,
            write_backlog_bytes=r.write_backlog_bytes,
            gap_reason=None if r.gap_reason is None else str(r.gap_reason),
            stop_reason=None if r.stop_reason is None else str(r.stop_reason),
            alarm=r.alarm,
            last_error=r.last_error,
        )


class AlarmPublic(BaseModel):
    code: str
    message: str
    camera_id: str | None


class DiskPublic(BaseModel):
    """Recordings file system and retention: free space, floor, forecast, alarms."""

    total_bytes: int | None
    free_bytes: int | None
    floor_bytes: int | None
    headroom_bytes: int = Field(
        0, description="Freed beyond the floor: what the cameras write in two retention passes"
    )
    days_left: float | None
    days_left_by_camera: dict[str, float | None]
    recording_stopped: bool
    deleted_bytes_total: int
    alarms: list[AlarmPublic]
    last_run_at: datetime | None
    last_error: str | None

    @classmethod
    def of(cls, r: RetentionStatus) -> DiskPublic:
        forecast = r.forecast
        return cls(
            total_bytes=r.disk_total_bytes,
            free_bytes=r.disk_free_bytes,
            floor_bytes=r.floor_bytes,
            headroom_bytes=r.headroom_bytes,
            days_left=None
            if forecast is None or forecast.days_left is None
            else round(forecast.days_left, 2),
            days_left_by_camera={} if forecast is None else dict(forecast.days_left_by_camera),
            recording_stopped=r.recording_stopped,
            deleted_bytes_total=r.deleted_bytes_total,
            alarms=[AlarmPublic(code=a.code, message=a.message, camera_id=a.camera_id) for a in r.alarms],
            last_run_at=r.last_run_utc,
            last_error=r.last_error,
        )


class DatabaseHealth(BaseModel):
    ok: bool
    backend: str
    error: str | None = None


class StatusReasonPublic(BaseModel):
    level: StatusLevel
    code: str = Field(description="Stable cause code (the UI translates it), e.g. recording_stopped")
    message: str = Field(description="The cause in English, with its figures")
    camera_id: str | None


class SmokingMeasurablePublic(BaseModel):
    """How much of what the camera saw the smoking rule could judge: people in its zones, by track and time.
    Too small, turned away or no body seen: not measurable, never analysed."""

    person_tracks: int
    measurable_tracks: int
    not_measurable_tracks: dict[str, int] = Field(
        description="Tracks never measurable, by reason: too_small, turned_away, no_pose"
    )
    person_s: float = Field(description="Seconds of people in the rule's zones")
    measurable_s: float
    measurable_share: float | None = Field(description="measurable_s / person_s (null before anyone came)")

    @classmethod
    def of(cls, share: MeasurableShare) -> SmokingMeasurablePublic:
        ratio = share.measurable_share
        return cls(
            person_tracks=share.tracks,
            measurable_tracks=share.measurable_tracks,
            not_measurable_tracks=share.not_measurable_tracks,
            person_s=share.person_s,
            measurable_s=share.measurable_s,
            measurable_share=None if ratio is None else round(ratio, 3),
        )


class CameraDetectionPublic(BaseModel):
    """Detection on one camera: how many frames it decodes, analyses and drops, and the detector's speed."""

    camera_id: str
    people_detection: bool
    note: str | None = Field(description="Why something does not run here (no model, a kind not available)")
    frames_decoded: int | None
    keyframes_only: bool | None = Field(description="Detection is behind: only keyframes are decoded")
    frames_analysed: int
    frames_dropped: int
    queue_depth: int
    detector_calls: int
    detector_ms_p50: float
    detector_ms_p95: float
    events: dict[str, int]
    open_events: int
    stalled: bool
    smoking: SmokingMeasurablePublic | None = Field(
        default=None, description="The smoking rule's measurable share, on cameras that run it"
    )

    @classmethod
    def of(cls, h: CameraDetectionHealth) -> CameraDetectionPublic:
        w = h.worker
        return cls(
            camera_id=h.camera_id,
            people_detection=w.people_detection,
            note=h.note,
            frames_decoded=None if h.decoder is None else h.decoder.decoded,
            keyframes_only=None if h.decoder is None else h.decoder.keyframes_only,
            frames_analysed=w.analysed,
            frames_dropped=w.dropped,
            queue_depth=w.queued,
            detector_calls=w.detector_calls,
            detector_ms_p50=round(w.detector_ms_p50, 2),
            detector_ms_p95=round(w.detector_ms_p95, 2),
            events=w.events,
            open_events=w.open_events,
            stalled=h.stalled,
            smoking=SmokingMeasurablePublic.of(w.smoking) if w.smoking is not None else None,
        )


class DetectionPublic(BaseModel):
    model: str | None = Field(description="The detector model file in use, if any")
    backend: str | None
    model_error: str | None = Field(description="Why people detection is off, when it is")
    cameras: list[CameraDetectionPublic]


class HealthPublic(BaseModel):
    status: StatusLevel = Field(
        description="degraded: footage is being lost or cannot be kept; warning: all recorded, but "
        "something needs a look (e.g. retention deletes early); ok"
    )
    reasons: list[StatusReasonPublic] = Field(description="Why the status is not ok; degraded ones first")
    station: str
    version: str
    started_at: datetime
    uptime_s: float
    database: DatabaseHealth
    disk: DiskPublic
    media_cpus: list[int] | None = Field(
        description="CPUs the camera, recording and disk threads run on (recording.media_cpus); "
        "null: every CPU"
    )
    cameras: list[CameraHealthPublic]
    detection: DetectionPublic | None = Field(default=None, description="null: no camera runs detection")


class HealthSummaryPublic(BaseModel):
    """What an anonymous caller sees: alive, and whether the station is ok. Sign in for the details."""

    status: StatusLevel = Field(
        description="degraded: footage is being lost or cannot be kept; warning: something needs a look; ok"
    )


def check_database(station: Station) -> DatabaseHealth:
    backend = station.database.engine.dialect.name
    try:
        with station.database.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure is "database down", reported not raised
        return DatabaseHealth(ok=False, backend=backend, error=type(exc).__name__)
    return DatabaseHealth(ok=True, backend=backend)


@router.get(
    "/health",
    summary="Station status; without sign-in only ok, warning or degraded",
    response_model=HealthPublic | HealthSummaryPublic,
)
def get_health(station: StationDep, user: OptionalUser) -> HealthPublic | HealthSummaryPublic:
    database = check_database(station)
    retention = station.recording.retention_status()
    snapshots, assessed = station.assess(database_ok=database.ok, retention=retention)
    if user is None:
        return HealthSummaryPublic(status=assessed.level)
    cameras = station.health.snapshot()
    return HealthPublic(
        status=assessed.level,
        reasons=[
            StatusReasonPublic(level=r.level, code=r.code, message=r.message, camera_id=r.camera_id)
            for r in assessed.reasons
        ],
        station=station.name,
        version=station.version,
        started_at=station.started_at,
        uptime_s=round(station.uptime_s(), 3),
        database=database,
        disk=DiskPublic.of(retention),
        media_cpus=None if station.recording.media_cpus is None else sorted(station.recording.media_cpus),
        cameras=[CameraHealthPublic.of(camera, snapshots.get(camera.id)) for camera in cameras],
        detection=_detection(station),
    )


def _detection(station: Station) -> DetectionPublic | None:
    service = station.detection
    if service is None:
        return None
    detector = service.detector
    return DetectionPublic(
        model=None if detector is None else str(detector.info.path),
        backend=None if detector is None else detector.info.backend,
        model_error=service.model_error,
        cameras=[CameraDetectionPublic.of(h) for h in service.health()],
    )
