"""Prometheus exposition of recording health: a pure renderer over snapshots and index figures."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from console.detection_service import CameraDetectionHealth
from console.recording import CameraSnapshot
from console.station_status import StationStatus, StatusLevel
from storage.retention import RetentionStatus

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_STATE_VALUES = ("connecting", "online", "degraded", "offline")


@dataclass(frozen=True, slots=True)
class IndexFigures:
    """Figures read from the database for the metrics page."""

    gap_seconds_hour: Mapping[str, float] = field(default_factory=dict)
    gap_seconds_day: Mapping[str, float] = field(default_factory=dict)
    bytes_on_disk: Mapping[str, int] = field(default_factory=dict)
    newest_segment_end: Mapping[str, datetime] = field(default_factory=dict)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items()) + "}"


class _Family:
    def __init__(self, name: str, kind: str, help_text: str) -> None:
        self.name = name
        self.kind = kind
        self.help_text = help_text
        self.samples: list[tuple[dict[str, str], float]] = []

    def add(self, value: float | None, **labels: str) -> None:
        if value is not None:
            self.samples.append((labels, float(value)))

    def lines(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help_text}"
        yield f"# TYPE {self.name} {self.kind}"
        for labels, value in self.samples:
            yield f"{self.name}{_labels(labels)} {value:.6g}"


def render_metrics(
    snapshots: Mapping[str, CameraSnapshot],
    retention: RetentionStatus,
    figures: IndexFigures,
    *,
    now: datetime,
    status: StationStatus | None = None,
) -> str:
    """The whole ``/metrics`` page."""
    up = _Family("station_camera_up", "gauge", "1 when the camera's main stream delivers video.")
    state = _Family("station_camera_state", "gauge", "Ingest state of a camera stream (one-hot).")
    fps = _Family("station_camera_fps", "gauge", "Measured frames per second.")
    bitrate = _Family("station_camera_bitrate_bps", "gauge", "Measured bitrate in bits per second.")
    keyint = _Family("station_camera_keyframe_interval_seconds", "gauge", "Measured keyframe interval.")
    reconnects = _Family("station_camera_reconnects_total", "counter", "Successful reconnections.")
    gap_hour = _Family(
        "station_recording_gap_seconds_last_hour", "gauge", "Seconds without footage, last hour."
    )
    gap_day = _Family(
        "station_recording_gap_seconds_last_day", "gauge", "Seconds without footage, last 24 h."
    )
    age = _Family("station_recording_newest_segment_age_seconds", "gauge", "Age of the newest footage.")
    on_disk = _Family("station_recording_bytes_on_disk", "gauge", "Bytes of footage on disk per camera.")
    recording = _Family("station_recording_active", "gauge", "1 while the camera is being recorded.")
    backlog = _Family(
        "station_recording_write_backlog_bytes", "gauge", "Footage of the open file waiting for the disk."
    )
    recorder_alarm = _Family(
        "station_recorder_alarm", "gauge", "1 while the camera's recorder raises this alarm (by code)."
    )
    index_dropped = _Family(
        "station_recording_index_writes_dropped_total",
        "counter",
        "Index writes dropped (queue full, or the database down too long) since the recorder started.",
    )
    for camera_id, snap in sorted(snapshots.items()):
        main = snap.main
        up.add(
            1.0 if main is not None and main.state.value in ("online", "degraded") else 0.0, camera=camera_id
        )
        for health in snap.streams:
            labels = {"camera": camera_id, "stream": health.stream}
            for value in _STATE_VALUES:
                state.add(1.0 if health.state.value == value else 0.0, **labels, state=value)
            fps.add(health.fps, **labels)
            bitrate.add(health.bitrate_bps, **labels)
            keyint.add(health.keyframe_interval_s, **labels)
            reconnects.add(health.reconnects, **labels)
        gap_hour.add(figures.gap_seconds_hour.get(camera_id, 0.0), camera=camera_id)
        gap_day.add(figures.gap_seconds_day.get(camera_id, 0.0), camera=camera_id)
        newest = figures.newest_segment_end.get(camera_id)
        if snap.recorder is not None and snap.recorder.newest_footage_utc is not None:
            newest = (
                max(newest, snap.recorder.newest_footage_utc) if newest else snap.recorder.newest_footage_utc
            )
        age.add(None if newest is None else max(0.0, (now - newest).total_seconds()), camera=camera_id)
        on_disk.add(figures.bytes_on_disk.get(camera_id, 0), camera=camera_id)
        recording.add(
            1.0 if snap.recorder is not None and snap.recorder.state.value == "recording" else 0.0,
            camera=camera_id,
        )
        if snap.recorder is not None:
            backlog.add(snap.recorder.write_backlog_bytes, camera=camera_id)
            index_dropped.add(snap.recorder.db_dropped_ops, camera=camera_id)
            if snap.recorder.alarm is not None:
                recorder_alarm.add(1.0, camera=camera_id, code=snap.recorder.alarm)
    disk_free = _Family("station_disk_free_bytes", "gauge", "Free bytes on the recordings file system.")
    disk_total = _Family("station_disk_total_bytes", "gauge", "Size of the recordings file system.")
    days_left = _Family("station_disk_days_left", "gauge", "Days of recording left at the current rate.")
    cam_days = _Family("station_camera_disk_days_left", "gauge", "Days left if only this camera recorded.")
    deleted = _Family("station_retention_deleted_bytes_total", "counter", "Bytes deleted by retention.")
    stopped = _Family("station_recording_stopped_by_retention", "gauge", "1 when only evidence is left.")
    alarms = _Family("station_alarms", "gauge", "Active alarms by code.")
    disk_free.add(retention.disk_free_bytes)
    disk_total.add(retention.disk_total_bytes)
    if retention.forecast is not None:
        days_left.add(retention.forecast.days_left)
        for cam, days in sorted(retention.forecast.days_left_by_camera.items()):
            cam_days.add(days, camera=cam)
    deleted.add(retention.deleted_bytes_total)
    stopped.add(1.0 if retention.recording_stopped else 0.0)
    codes: dict[str, int] = {}
    for alarm in retention.alarms:
        codes[alarm.code] = codes.get(alarm.code, 0) + 1
    for code, count in sorted(codes.items()):
        alarms.add(count, code=code)
    families = [up, state, fps, bitrate, keyint, reconnects, gap_hour, gap_day, age, on_disk, recording]
    families += [backlog, recorder_alarm, index_dropped]
    families += [disk_free, disk_total, days_left, cam_days, deleted, stopped, alarms]
    if status is not None:
        level = _Family("station_status", "gauge", "Overall status (one-hot): ok, warning or degraded.")
        reasons = _Family("station_status_reasons", "gauge", "Causes of a non-ok status, by level and code.")
        for value in StatusLevel:
            level.add(1.0 if status.level is value else 0.0, level=value.value)
        by_code: dict[tuple[str, str], int] = {}
        for reason in status.reasons:
            key = (reason.level.value, reason.code)
            by_code[key] = by_code.get(key, 0) + 1
        for (reason_level, code), count in sorted(by_code.items()):
            reasons.add(count, level=reason_level, code=code)
        families += [level, reasons]
    return "\n".join(line for family in families for line in family.lines()) + "\n"


def render_detection_metrics(health: Sequence[CameraDetectionHealth]) -> str:
    """Detection per camera: frames decoded, analysed and dropped, detector milliseconds, queue, events."""
    decoded = _Family("station_detection_frames_decoded_total", "counter", "Pictures decoded for detection.")
    analysed = _Family("station_detection_frames_analysed_total", "counter", "Frames the rules looked at.")
    dropped = _Family(
        "station_detection_frames_dropped_total", "counter", "Frames dropped because detection was behind."
    )
    keyonly = _Family("station_detection_keyframes_only", "gauge", "1 while only keyframes are decoded.")
    queued = _Family("station_detection_queue_depth", "gauge", "Frames waiting for the detector.")
    calls = _Family("station_detector_calls_total", "counter", "Detector inferences (one per region).")
    detector_ms = _Family("station_detector_ms", "gauge", "Detector milliseconds per call (quantile).")
    events = _Family("station_detection_events_total", "counter", "Events ended, by kind.")
    stalled = _Family("station_detection_stalled", "gauge", "1 when frames wait but nothing is analysed.")
    for item in sorted(health, key=lambda h: h.camera_id):
        camera = item.camera_id
        worker = item.worker
        if item.decoder is not None:
            decoded.add(item.decoder.decoded, camera=camera)
            keyonly.add(1.0 if item.decoder.keyframes_only else 0.0, camera=camera)
        analysed.add(worker.analysed, camera=camera)
        dropped.add(worker.dropped, camera=camera)
        queued.add(worker.queued, camera=camera)
        calls.add(worker.detector_calls, camera=camera)
        detector_ms.add(worker.detector_ms_p50, camera=camera, quantile="0.5")
        detector_ms.add(worker.detector_ms_p95, camera=camera, quantile="0.95")
        for kind, count in sorted(worker.events.items()):
            events.add(count, camera=camera, kind=kind)
        stalled.add(1.0 if item.stalled else 0.0, camera=camera)
    families = [decoded, analysed, dropped, keyonly, queued, calls, detector_ms, events, stalled]
    return "\n".join(line for family in families for line in family.lines()) + "\n"
