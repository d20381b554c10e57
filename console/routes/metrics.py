"""``GET /metrics``: Prometheus exposition of camera, recording and disk figures (signed-in users and API
tokens only: give the scraper an API token)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from console.deps import CurrentUser, StationDep
from console.metrics import CONTENT_TYPE, IndexFigures, render_detection_metrics, render_metrics
from storage.gap import gap_seconds
from storage.model import utcnow
from storage.segment import bytes_by_camera, newest_segment_end_by_camera

router = APIRouter(tags=["metrics"])


@router.get("/metrics", response_class=PlainTextResponse, summary="Prometheus metrics")
def get_metrics(station: StationDep, _user: CurrentUser) -> PlainTextResponse:
    now = utcnow()
    with station.database.session() as session:
        figures = IndexFigures(
            gap_seconds_hour=gap_seconds(session, since_utc=now - timedelta(hours=1), now_utc=now),
            gap_seconds_day=gap_seconds(session, since_utc=now - timedelta(days=1), now_utc=now),
            bytes_on_disk=bytes_by_camera(session),
            newest_segment_end=newest_segment_end_by_camera(session),
        )
    retention = station.recording.retention_status()
    # the index figures above came from the database, so it answers
    snapshots, status = station.assess(database_ok=True, retention=retention)
    body = render_metrics(snapshots, retention, figures, now=now, status=status)
    if station.detection is not None:
        body += render_detection_metrics(station.detection.health())
    return PlainTextResponse(body, media_type=CONTENT_TYPE)
