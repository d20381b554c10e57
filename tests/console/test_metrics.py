"""The Prometheus renderer (pure) and the /metrics route."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from console.metrics import IndexFigures, render_metrics
from console.recording import CameraSnapshot
from console.station_status import StationStatus, StatusLevel, StatusReason
from storage.model import GapReason, Role
from storage.retention import RetentionAlarm, RetentionStatus
from streams.recorder import RecorderState, RecorderStatus
from tests.support.console import make_user, running_station, sign_in

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_render_reports_gaps_disk_and_alarms() -> None:
    figures = IndexFigures(
        gap_seconds_hour={"cam-1": 12.5},
        gap_seconds_day={"cam-1": 60.0},
        bytes_on_disk={"cam-1": 1_000_000},
        newest_segment_end={"cam-1": NOW - timedelta(seconds=30)},
    )
    retention = RetentionStatus(
        disk_free_bytes=5_000,
        disk_total_bytes=10_000,
        recording_stopped=True,
        alarms=(RetentionAlarm("evidence_only_left", "only evidence left"),),
    )
    text = render_metrics({}, retention, figures, now=NOW)
    assert "# TYPE station_disk_free_bytes gauge" in text
    assert "station_disk_free_bytes 5000" in text
    assert "station_recording_stopped_by_retention 1" in text
    assert 'station_alarms{code="evidence_only_left"} 1' in text
    assert text.endswith("\n")
    assert "station_status" not in text  # only when the caller assessed the station


def test_render_reports_the_overall_status_one_hot_with_its_causes() -> None:
    retention = RetentionStatus(
        alarms=(
            RetentionAlarm("footage_deleted_early", "early"),
            RetentionAlarm("retention_error", "EIO"),
        )
    )
    status = StationStatus(
        StatusLevel.DEGRADED,
        (
            StatusReason(StatusLevel.DEGRADED, "camera_offline", "cam-1 is offline", "cam-1"),
            StatusReason(StatusLevel.DEGRADED, "camera_offline", "cam-2 is offline", "cam-2"),
            StatusReason(StatusLevel.WARNING, "footage_deleted_early", "early"),
        ),
    )
    text = render_metrics({}, retention, IndexFigures(), now=NOW, status=status)
    assert "# TYPE station_status gauge" in text
    assert 'station_status{level="ok"} 0' in text
    assert 'station_status{level="warning"} 0' in text
    assert 'station_status{level="degraded"} 1' in text
    assert 'station_status_reasons{level="degraded",code="camera_offline"} 2' in text
    assert 'station_status_reasons{level="warning",code="footage_deleted_early"} 1' in text


def test_render_reports_a_recorder_held_up_by_a_slow_disk() -> None:
    status = RecorderStatus(
        camera_id="cam-1",
        stream="main",
        state=RecorderState.DISK_ERROR,
        current_segment=None,
        current_segment_start_utc=None,
        newest_footage_utc=NOW - timedelta(seconds=20),
        newest_footage_age_s=20.0,
        last_packet_utc=NOW,
        bytes_written=10_000_000,
        segments_closed=3,
        packets_written=750,
        packets_skipped_before_keyframe=0,
        packets_dropped_not_recording=40,
        packets_lost_upstream=0,
        packets_malformed=0,
        timestamp_fixes=0,
        timestamp_holes=0,
        db_pending_ops=0,
        write_backlog_bytes=123_456,
        gap_reason=GapReason.RECORDER_ERROR,
        stop_reason=None,
        alarm="disk_too_slow",
        last_error="disk too slow: 16.00 MiB of footage waiting to be written",
        last_error_utc=NOW,
    )
    snapshots = {"cam-1": CameraSnapshot(camera_id="cam-1", streams=(), recorder=status)}
    text = render_metrics(snapshots, RetentionStatus(), IndexFigures(), now=NOW)
    assert 'station_recording_write_backlog_bytes{camera="cam-1"} 123456' in text
    assert 'station_recorder_alarm{camera="cam-1",code="disk_too_slow"} 1' in text
    assert 'station_recording_active{camera="cam-1"} 0' in text


def test_render_counts_index_writes_dropped_per_camera() -> None:
    """``db_dropped_ops`` (index writes dropped while the database was down too long) is a counter per
    camera, 0 included, so an alert can fire on any increase."""
    base = RecorderStatus(
        camera_id="cam-1",
        stream="main",
        state=RecorderState.RECORDING,
        current_segment=None,
        current_segment_start_utc=None,
        newest_footage_utc=NOW,
        newest_footage_age_s=0.0,
        last_packet_utc=NOW,
        bytes_written=0,
        segments_closed=0,
        packets_written=0,
        packets_skipped_before_keyframe=0,
        packets_dropped_not_recording=0,
        packets_lost_upstream=0,
        packets_malformed=0,
        timestamp_fixes=0,
        timestamp_holes=0,
        db_pending_ops=12,
        write_backlog_bytes=0,
        gap_reason=None,
        stop_reason=None,
        alarm=None,
        last_error=None,
        last_error_utc=None,
    )
    snapshots = {
        camera: CameraSnapshot(
            camera_id=camera,
            streams=(),
            recorder=replace(base, camera_id=camera, db_dropped_ops=dropped),
        )
        for camera, dropped in (("cam-1", 0), ("cam-2", 37))
    }
    text = render_metrics(snapshots, RetentionStatus(), IndexFigures(), now=NOW)
    assert "# TYPE station_recording_index_writes_dropped_total counter" in text
    assert 'station_recording_index_writes_dropped_total{camera="cam-1"} 0' in text
    assert 'station_recording_index_writes_dropped_total{camera="cam-2"} 37' in text


def test_metrics_route_lists_configured_cameras(console_client: TestClient) -> None:
    assert console_client.get("/metrics").status_code == 401
    make_user(running_station(console_client).database, "watcher", role=Role.SUPERVISOR)
    sign_in(console_client, "watcher")
    response = console_client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert 'station_camera_up{camera="entrance-1"} 0' in response.text
    assert 'station_recording_gap_seconds_last_day{camera="entrance-1"}' in response.text
    assert 'station_status{level="ok"}' in response.text  # the overall status, one-hot
