"""The complaint's "export evidence package" action wired to the signed package builder."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from storage.evidence.verifier import verify_package
from storage.model import AuditEntry, Export, utcnow
from tests.support.station_media import MediaStation

pytestmark = pytest.mark.timeout(120)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def file_complaint(
    client: TestClient, start: datetime, incident: timedelta, *, received: timedelta, **fields: str
) -> dict[str, Any]:
    """A complaint about building 5, entrance 1: the incident runs from ``start`` for ``incident``."""
    body = {
        "received_at": iso(start + received),
        "channel": "phone",
        "category": "noise",
        "building": "5",
        "entrance": "1",
        "incident_start": iso(start),
        "incident_end": iso(start + incident),
        **fields,
    }
    response = client.post("/api/complaints", json=body)
    assert response.status_code == 201, response.text
    complaint: dict[str, Any] = response.json()["complaint"]
    return complaint


def test_export_package_of_a_complaint_verifies(media_station: MediaStation, tmp_path: Path) -> None:
    start = (utcnow() - timedelta(minutes=30)).replace(microsecond=0)
    media_station.record("b5-e1", start, count=3)
    media_station.record("b5-bins", start, count=3)
    supervisor = media_station.login("supervisor")
    created = file_complaint(
        supervisor,
        start,
        timedelta(seconds=6),
        received=timedelta(minutes=10),
        channel="patrol",
        category="hooliganism",
    )
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
    assert report.intact, report.render()
    assert report.manifest is not None and number in json.dumps(report.manifest, ensure_ascii=False)
    # the package file's own fingerprint follows the answer (a background task), on the row and audited
    state = supervisor.get(made.json()["url"]).json()
    assert state["status"] == "ready" and state["sha256"] == hashlib.sha256(download.content).hexdigest()
    with media_station.station.database.session() as session:
        actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
        hashed = session.scalars(
            select(AuditEntry.detail).where(AuditEntry.action == "evidence.package_hash")
        ).one()
    assert "evidence.export" in actions and "evidence.download" in actions
    assert json.loads(hashed or "{}")["package_sha256"] == state["sha256"]
    assert media_station.login("officer").get(made.json()["url"]).status_code == 403
    assert supervisor.get("/api/exports/9999").status_code == 404
    # had the station stopped before the fingerprint ran, the first download makes it
    with media_station.station.database.session() as session:
        session.get_one(Export, made.json()["export_id"]).sha256 = None
    assert supervisor.get(made.json()["download_url"]).status_code == 200
    assert supervisor.get(made.json()["url"]).json()["sha256"] == state["sha256"]
    assert media_station.login("auditor").get(made.json()["download_url"]).status_code == 403


def test_separate_attachments_are_separate_clips(media_station: MediaStation, tmp_path: Path) -> None:
    """Two stretches of one camera attached 20 minutes apart: two short clips, not 20 minutes of video."""
    start = (utcnow() - timedelta(minutes=50)).replace(microsecond=0)
    media_station.record("b5-e1", start, count=2)
    media_station.record("b5-e1", start + timedelta(minutes=20), count=2)
    supervisor = media_station.login("supervisor")
    created = file_complaint(supervisor, start, timedelta(minutes=21), received=timedelta(minutes=30))
    for offset in (timedelta(0), timedelta(minutes=20)):
        attach = {
            "camera_id": "b5-e1",
            "start": iso(start + offset + timedelta(seconds=1)),
            "end": iso(start + offset + timedelta(seconds=3)),
        }
        assert supervisor.post(f"/api/complaints/{created['id']}/evidence", json=attach).status_code == 201
    made = supervisor.post(f"/api/complaints/{created['id']}/export", json={})
    assert made.status_code == 201, made.text
    package = tmp_path / "two.zip"
    package.write_bytes(supervisor.get(made.json()["download_url"]).content)
    report = verify_package(package)
    assert report.intact, report.render()
    assert report.manifest is not None
    clips = report.manifest["clips"]
    assert [c["camera"]["id"] for c in clips] == ["b5-e1", "b5-e1"]
    for clip in clips:
        begin = datetime.fromisoformat(clip["requested"]["start_utc"].replace("Z", "+00:00"))
        end = datetime.fromisoformat(clip["requested"]["end_utc"].replace("Z", "+00:00"))
        assert end - begin == timedelta(seconds=2)


def test_export_of_chosen_cameras_and_range(media_station: MediaStation, tmp_path: Path) -> None:
    """An investigator exports two cameras over one range (no complaint, own reason), then files one
    under a complaint number; both packages verify and the manifest says for what and why."""
    start = (utcnow() - timedelta(minutes=40)).replace(microsecond=0)
    media_station.record("b5-e1", start, count=3)
    media_station.record("b5-bins", start, count=3)
    investigator = media_station.login("investigator")
    body = {
        "cameras": ["b5-e1", "b5-bins"],
        "start": iso(start + timedelta(seconds=1)),
        "end": iso(start + timedelta(seconds=5)),
        "reason": "запрос следователя",
    }
    made = investigator.post("/api/exports", json=body)
    assert made.status_code == 201, made.text
    package = tmp_path / "range.zip"
    package.write_bytes(investigator.get(made.json()["download_url"]).content)
    report = verify_package(package)
    assert report.intact, report.render()
    manifest = report.manifest
    assert manifest is not None
    assert sorted(c["camera"]["id"] for c in manifest["clips"]) == ["b5-bins", "b5-e1"]
    assert "запрос следователя" in json.dumps(manifest, ensure_ascii=False)

    supervisor = media_station.login("supervisor")
    complaint = file_complaint(
        supervisor, start, timedelta(seconds=6), received=timedelta(minutes=10), category="smoking"
    )
    filed = investigator.post(
        "/api/exports", json={**body, "cameras": ["b5-e1"], "reason": None, "complaint": complaint["number"]}
    )
    assert filed.status_code == 201, filed.text
    with media_station.station.database.session() as session:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "evidence.export").order_by(AuditEntry.id)
        ).all()
    assert [r.reason for r in rows] == ["запрос следователя", f"complaint {complaint['number']}"]
    assert json.loads(rows[-1].detail or "{}")["complaint_id"] == complaint["id"]


def test_range_export_refuses_bad_requests(media_station: MediaStation) -> None:
    start = (utcnow() - timedelta(minutes=40)).replace(microsecond=0)
    media_station.record("b5-e1", start, count=2)
    investigator = media_station.login("investigator")
    good = {
        "cameras": ["b5-e1"],
        "start": iso(start + timedelta(seconds=1)),
        "end": iso(start + timedelta(seconds=3)),
        "reason": "проверка",
    }
    now = utcnow()
    hour = timedelta(hours=1)

    def refused(change: dict[str, object], client: object = investigator) -> tuple[int, dict[str, object]]:
        response = client.post("/api/exports", json={**good, **change})  # type: ignore[attr-defined]
        return int(response.status_code), response.json()["error"]

    cases: list[tuple[dict[str, object], int, str]] = [
        ({"end": iso(start)}, 422, "invalid_range"),  # end before start
        ({"start": iso(now + hour), "end": iso(now + 2 * hour)}, 422, "invalid_range"),
        ({"start": iso(now - 80 * hour), "end": iso(now - 2 * hour)}, 422, "invalid_range"),
        ({"cameras": ["b5-e1", "b5-e1"]}, 422, "camera_twice"),
        ({"cameras": ["no-such-cam"]}, 422, "unknown_camera"),
        ({"cameras": ["../../etc"]}, 422, "unknown_camera"),
        ({"cameras": []}, 422, "validation_error"),
        ({"start": "2026-01-01T10:00:00"}, 422, "validation_error"),  # no time zone
        ({"complaint": "2026-999999"}, 422, "unknown_complaint"),
    ]
    for change, status, code in cases:
        got_status, error = refused(change)
        assert got_status == status, (change, error)
        if code:
            assert error["code"] == code, (change, error)
    status, error = refused({"reason": None})
    assert status in (400, 403, 422) and "reason" in str(error["message_en"]), error
    # a range with no footage names the gaps
    empty_start = start - timedelta(hours=2)
    status, error = refused({"start": iso(empty_start), "end": iso(empty_start + timedelta(minutes=5))})
    assert status == 409 and error["code"] == "no_footage"
    assert error["gaps"] and "b5-e1" in str(error["message_en"])
    # officers and auditors may not export
    for role in ("officer", "auditor"):
        assert refused({}, media_station.login(role))[0] == 403
