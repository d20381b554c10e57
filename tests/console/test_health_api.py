from __future__ import annotations

from datetime import datetime

from fastapi.testclient import TestClient

from console.health import CameraStatus
from tests.support.console import running_station


def test_health_is_anonymous_and_lists_cameras(console_client: TestClient) -> None:
    response = console_client.get("/api/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["station"] == "ЖК Test" and body["version"]
    assert body["database"] == {"ok": True, "backend": "sqlite", "error": None}
    assert body["uptime_s"] >= 0
    cameras = {c["id"]: c for c in body["cameras"]}
    assert cameras["entrance-1"]["status"] == "unknown" and cameras["entrance-1"]["since"] is None
    assert cameras["entrance-1"]["name"] == "Подъезд 1"
    assert cameras["yard"]["status"] == "disabled"
    assert "url" not in cameras["entrance-1"]  # never the camera URL (it may hold a password)


def test_health_shows_what_the_ingest_side_reports(console_client: TestClient) -> None:
    running_station(console_client).health.update(
        "entrance-1", CameraStatus.OFFLINE, detail="connection refused"
    )
    camera = next(c for c in console_client.get("/api/health").json()["cameras"] if c["id"] == "entrance-1")
    assert camera["status"] == "offline" and camera["detail"] == "connection refused"
    assert datetime.fromisoformat(camera["since"]).tzinfo is not None
