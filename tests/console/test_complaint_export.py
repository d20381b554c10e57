"""The complaint's "export evidence package" action wired to the signed package builder."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from storage.evidence import verify_package
from storage.model import AuditEntry, utcnow
from tests.support.station_media import MediaStation

pytestmark = pytest.mark.timeout(120)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def test_export_package_of_a_complaint_verifies(media_station: MediaStation, tmp_path: Path) -> None:
    start = (utcnow() - timedelta(minutes=30)).replace(microsecond=0)
    media_station.record("b5-e1", start, count=3)
    media_station.record("b5-bins", start, count=3)
    supervisor = media_station.login("supervisor")
    body = {
        "received_at": iso(start + timedelta(minutes=10)),
        "channel": "patrol",
        "category": "hooliganism",
        "building": "5",
        "entrance": "1",
        "incident_start": iso(start),
        "incident_end": iso(start + timedelta(seconds=6)),
    }
    created = supervisor.post("/api/complaints", json=body).json()["complaint"]
    cid, number = created["id"], created["number"]
    nothing = supervisor.post(f"/api/complaints/{cid}/export", json={})
    assert nothing.status_code == 409 and nothing.json()["error"]["code"] == "nothing_to_export"
    for camera in ("b5-e1", "b5-bins"):
        attach = {
            "camera_id": camera,
            "start": iso(start + timedelta(seconds=1)),
            "end": iso(start + timedelta(seconds=5)),
        }
        assert supervisor.post(f"/api/complaints/{cid}/evidence", json=attach).status_code == 201
    assert media_station.login("officer").post(f"/api/complaints/{cid}/export", json={}).status_code == 403
    made = supervisor.post(f"/api/complaints/{cid}/export", json={"reason": "запрос суда"})
    assert made.status_code == 201, made.text
    download = supervisor.get(made.json()["download_url"])
    assert download.status_code == 200 and download.headers["content-type"] == "application/zip"
    package = tmp_path / "package.zip"
    package.write_bytes(download.content)
    report = verify_package(package)
    assert report.valid, report.render()
    assert report.manifest is not None and number in json.dumps(report.manifest, ensure_ascii=False)
    with media_station.station.database.session() as session:
        actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert "evidence.export" in actions and "evidence.download" in actions
    assert media_station.login("auditor").get(made.json()["download_url"]).status_code == 403
