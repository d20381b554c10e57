"""The exports list (``GET /api/exports``): who built which package and when, its fingerprint, who sees
what, and "download again" (audited, named after the complaint)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from console.routes.export import package_download_name
from storage.export import create_export, fail_export
from storage.model import AuditEntry, Export, utcnow
from tests.console.test_complaint_export import file_complaint, iso
from tests.support.station_media import MediaStation

pytestmark = pytest.mark.timeout(120)


def range_export(client: TestClient, start: datetime, **fields: object) -> int:
    body = {
        "cameras": ["b5-e1"],
        "start": iso(start + timedelta(seconds=1)),
        "end": iso(start + timedelta(seconds=3)),
        **fields,
    }
    made = client.post("/api/exports", json=body)
    assert made.status_code == 201, made.text
    export_id: int = made.json()["export_id"]
    return export_id


def listed(client: TestClient, **params: object) -> dict[str, Any]:
    response = client.get("/api/exports", params=params)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def downloads(media_station: MediaStation, export_id: int) -> int:
    with media_station.station.database.session() as session:
        count = session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "evidence.download", AuditEntry.resource_id == str(export_id))
        )
    return count or 0


@pytest.fixture
def packages(media_station: MediaStation) -> dict[str, Any]:
    """An investigator's own package, a failed one of theirs, and a supervisor's package filed under a
    complaint (built last, so listed first)."""
    start = (utcnow() - timedelta(minutes=30)).replace(microsecond=0)
    media_station.record("b5-e1", start, count=3)
    investigator = media_station.login("investigator")
    supervisor = media_station.login("supervisor")
    own = range_export(investigator, start, reason="запрос следователя")
    with media_station.station.database.session() as session:
        failed = create_export(session, created_by=media_station.user_ids["investigator"], reason="проба")
        fail_export(session, failed.id, "test")
        failed_id = failed.id
    complaint = file_complaint(supervisor, start, timedelta(seconds=6), received=timedelta(minutes=10))
    filed = range_export(supervisor, start, complaint=complaint["number"])
    return {
        "start": start,
        "own": own,
        "failed": failed_id,
        "filed": filed,
        "number": complaint["number"],
        "investigator": investigator,
        "supervisor": supervisor,
    }


def test_list_shows_who_what_when_and_fingerprint(
    media_station: MediaStation, packages: dict[str, Any]
) -> None:
    investigator: TestClient = packages["investigator"]
    mine = listed(investigator)
    assert mine["scope"] == "mine"
    assert [item["export_id"] for item in mine["items"]] == [packages["failed"], packages["own"]]
    failed, own = mine["items"]
    assert failed["status"] == "failed" and failed["download_url"] is None and failed["expires_at"] is None
    assert own["status"] == "ready"
    assert own["created_by"] == "Investigator" and own["username"] == "investigator"
    assert re.fullmatch(r"[0-9a-f]{64}", own["sha256"])
    assert own["bytes"] > 0
    assert own["complaint_number"] is None
    assert own["clips"] == [
        {
            "camera": "b5-e1",
            "start": iso(packages["start"] + timedelta(seconds=1)).replace("+00:00", "Z"),
            "end": iso(packages["start"] + timedelta(seconds=3)).replace("+00:00", "Z"),
        }
    ]
    created = datetime.fromisoformat(own["created_at"])
    assert created.tzinfo is not None and created.utcoffset() == timedelta(0)
    expires = datetime.fromisoformat(own["expires_at"])
    retention = media_station.station.settings.config.console.export_retention_days
    assert expires - created == timedelta(days=retention)
    assert own["download_url"] == f"/api/exports/{packages['own']}/download"

    everyone = listed(investigator, scope="all")
    assert [item["export_id"] for item in everyone["items"]] == [
        packages["filed"],
        packages["failed"],
        packages["own"],
    ]
    assert everyone["items"][0]["complaint_number"] == packages["number"]
    assert everyone["items"][0]["created_by"] == "Supervisor"


def test_filters_and_paging(packages: dict[str, Any]) -> None:
    supervisor: TestClient = packages["supervisor"]
    by_complaint = listed(supervisor, scope="all", complaint=packages["number"])
    assert [item["export_id"] for item in by_complaint["items"]] == [packages["filed"]]
    second = listed(supervisor, scope="all", limit=1, offset=1)
    assert second["total"] == 3 and second["limit"] == 1 and second["offset"] == 1
    assert [item["export_id"] for item in second["items"]] == [packages["failed"]]
    future = (utcnow() + timedelta(hours=1)).isoformat()
    assert listed(supervisor, scope="all", start=future)["items"] == []
    earlier = (utcnow() - timedelta(hours=1)).isoformat()
    backwards = supervisor.get("/api/exports", params={"start": future, "end": earlier})
    assert backwards.status_code == 422
    assert supervisor.get("/api/exports", params={"offset": -1}).status_code == 422
    assert supervisor.get("/api/exports", params={"limit": 201}).status_code == 422


def test_who_sees_what(media_station: MediaStation, packages: dict[str, Any]) -> None:
    for role in ("officer", "admin"):
        refused = media_station.login(role).get("/api/exports")
        assert refused.status_code == 403, role
        assert refused.json()["error"]["code"] == "forbidden"
    auditor = media_station.login("auditor")
    assert auditor.get("/api/exports").json()["items"] == []  # has built none
    everything = listed(auditor, scope="all")
    assert everything["total"] == 3
    assert all(item["download_url"] is None for item in everything["items"])
    assert auditor.get(f"/api/exports/{packages['own']}/download").status_code == 403
    assert downloads(media_station, packages["own"]) == 0


def test_download_again_is_audited_and_named_after_the_complaint(
    media_station: MediaStation, packages: dict[str, Any]
) -> None:
    supervisor: TestClient = packages["supervisor"]
    item = listed(supervisor)["items"][0]
    before = downloads(media_station, packages["filed"])
    for _ in range(2):
        again = supervisor.get(item["download_url"])
        assert again.status_code == 200
        disposition = again.headers["content-disposition"]
        match = re.search(r'filename="([^"]+)"', disposition)
        assert match, disposition
        assert re.fullmatch(rf"complaint-{packages['number']}-\d{{8}}T\d{{6}}Z\.zip", match.group(1))
    assert downloads(media_station, packages["filed"]) == before + 2
    own = packages["investigator"].get(f"/api/exports/{packages['own']}/download")
    assert re.search(r'filename="evidence-\d+-[0-9TZ]+\.zip"', own.headers["content-disposition"])
    with media_station.station.database.session() as session:
        assert session.get_one(Export, packages["filed"]).complaint_id is not None


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("2026-000042", "complaint-2026-000042-20261205T061500Z.zip"),
        ("12/34 ..\\x", "complaint-12-34-x-20261205T061500Z.zip"),
        ("№ 7", "complaint-7-20261205T061500Z.zip"),
        ("///", "evidence-9.zip"),
        (None, "evidence-9.zip"),
    ],
)
def test_package_download_name_is_filesystem_safe(number: str | None, expected: str) -> None:
    when = datetime(2026, 12, 5, 6, 15, tzinfo=UTC)
    assert package_download_name(number, when, "evidence-9.zip") == expected
