"""The Prometheus renderer (pure) and the /metrics route."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from console.metrics import IndexFigures, render_metrics
from storage.model import Role
from storage.retention import RetentionAlarm, RetentionStatus
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


def test_metrics_route_lists_configured_cameras(console_client: TestClient) -> None:
    assert console_client.get("/metrics").status_code == 401
    make_user(running_station(console_client).database, "watcher", role=Role.SUPERVISOR)
    sign_in(console_client, "watcher")
    response = console_client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert 'station_camera_up{camera="entrance-1"} 0' in response.text
    assert 'station_recording_gap_seconds_last_day{camera="entrance-1"}' in response.text
