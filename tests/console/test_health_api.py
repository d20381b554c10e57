from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient

from storage.model import Role
from tests.support.console import make_user, running_station, sign_in


def signed_in(client: TestClient) -> TestClient:
    make_user(running_station(client).database, "monitor", Role.OFFICER)
    sign_in(client, "monitor")
    return client


def test_anonymous_health_says_only_how_the_station_is(console_client: TestClient) -> None:
    response = console_client.get("/api/health")
    assert response.status_code == 200
    assert response.json().keys() == {"status"}
    assert response.json()["status"] in ("ok", "warning", "degraded")
    for secret in ("entrance-1", "Подъезд 1", "127.0.0.1", "rtsp", "ЖК Test", "sqlite", "data"):
        assert secret not in response.text


def test_health_details_for_an_api_token(console_client: TestClient) -> None:
    csrf = sign_in(signed_in(console_client), "monitor")
    secret = console_client.post("/api/tokens", json={"name": "probe"}, headers={"X-CSRF-Token": csrf})
    script = TestClient(console_client.app)  # no cookies: a monitoring script with only the token
    body = script.get("/api/health", headers={"Authorization": f"Bearer {secret.json()['token']}"}).json()
    assert {c["id"] for c in body["cameras"]} == {"entrance-1", "yard"}
    assert body["database"]["backend"] == "sqlite"


def test_health_lists_cameras_for_a_signed_in_user(console_client: TestClient) -> None:
    response = signed_in(console_client).get("/api/health")
    assert response.status_code == 200
    body = response.json()
    assert body["station"] == "ЖК Test" and body["version"]
    assert body["database"] == {"ok": True, "backend": "sqlite", "error": None}
    assert body["uptime_s"] >= 0
    assert body["disk"]["recording_stopped"] is False
    assert body["disk"]["headroom_bytes"] >= 0
    cameras = {c["id"]: c for c in body["cameras"]}
    assert cameras["entrance-1"]["status"] in ("unknown", "connecting", "offline")
    assert cameras["entrance-1"]["name"] == "Подъезд 1"
    assert [s["stream"] for s in cameras["entrance-1"]["streams"]] == ["main"]
    assert cameras["entrance-1"]["recorder"] is not None
    assert cameras["yard"]["status"] == "disabled" and cameras["yard"]["streams"] == []
    assert "url" not in cameras["entrance-1"]  # top level: only the redacted URL inside streams


def test_health_shows_what_the_ingest_side_reports(console_client: TestClient) -> None:
    signed_in(console_client)
    deadline = time.monotonic() + 10
    camera: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = console_client.get("/api/health").json()
        camera = next(c for c in body["cameras"] if c["id"] == "entrance-1")
        if camera["status"] == "offline":
            break
        time.sleep(0.2)
    assert camera["status"] == "offline", camera
    assert "connection refused" in (camera["detail"] or "")
    assert datetime.fromisoformat(camera["since"]).tzinfo is not None
    main = camera["streams"][0]
    assert main["state"] == "offline" and main["connect_attempts"] >= 1
    assert main["url"] == "rtsp://127.0.0.1:9/unreachable"
    assert camera["recorder"]["state"] in ("waiting_for_keyframe", "no_signal")
    # a camera that should be recorded and is not: the station is degraded, and says which and why
    assert body["status"] == "degraded"
    reason = next(r for r in body["reasons"] if r["camera_id"] == "entrance-1")
    assert reason["level"] == "degraded" and reason["code"] == "camera_offline"
    assert "connection refused" in reason["message"]
    assert all(r["camera_id"] != "yard" for r in body["reasons"])  # disabled: no reason
