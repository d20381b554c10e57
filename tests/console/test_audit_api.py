"""The auditor's audit-log API: filters, paging, the CSV export, the chain check from the web, and who may
read it. Every read is itself on record (``audit.view``, ``audit.verify``, ``audit.export``)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from config.settings import Settings
from console.app import create_app
from storage.audit import append_audit
from storage.database import Database
from storage.model import AuditEntry, Role
from tests.support.console import make_user, running_station, sign_in

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
SEEDED = {"start": T0.isoformat(), "end": (T0 + timedelta(hours=1)).isoformat()}
"""The period of the seeded rows only (the station's own rows are written now)."""


def seed(database: Database) -> None:
    """Five rows at known times after whatever the station wrote itself (the users' creation)."""
    rows = [
        ("aigerim", "auth.login", True, "session", "1", None),
        ("aigerim", "complaint.view", True, "complaint", "2026-000001", None),
        ("bolat", "access.denied", False, "route", "GET /api/users", "missing permission: users.manage"),
        ("bolat", "evidence.download", True, "export", "7", None),
        ("=cmd|' /C calc'!A0", "auth.login", False, "session", None, "bad password"),
    ]
    with database.session() as session:
        for minutes, (username, action, allowed, rtype, rid, reason) in enumerate(rows):
            append_audit(
                session,
                action=action,
                allowed=allowed,
                username=username,
                source="10.0.0.5",
                resource_type=rtype,
                resource_id=rid,
                reason=reason,
                detail={"n": minutes},
                at=T0 + timedelta(minutes=minutes),
            )


@pytest.fixture
def auditor(backend_settings: Settings) -> Iterator[TestClient]:
    """Signed in as the auditor, on SQLite and on PostgreSQL."""
    with TestClient(create_app(backend_settings), base_url="http://testserver") as client:
        database = running_station(client).database
        make_user(database, "auditor", Role.AUDITOR)
        make_user(database, "officer", Role.OFFICER)
        seed(database)
        sign_in(client, "auditor")
        yield client


def actions(client: TestClient, **params: str | int) -> list[str]:
    response = client.get("/api/audit", params=params)
    assert response.status_code == 200, response.text
    return [item["action"] for item in response.json()["items"]]


def test_filters(auditor: TestClient) -> None:
    assert actions(auditor, user="BOL") == ["evidence.download", "access.denied"]  # newest first
    assert actions(auditor, action="auth.", user="aigerim") == ["auth.login"]
    assert actions(auditor, resource_type="complaint", resource_id="2026-000001") == ["complaint.view"]
    assert actions(auditor, allowed="false", **SEEDED) == ["auth.login", "access.denied"]
    period = {
        "start": (T0 + timedelta(minutes=1)).isoformat(),
        "end": (T0 + timedelta(minutes=3)).isoformat(),
    }
    assert actions(auditor, **period) == ["access.denied", "complaint.view"]  # [start, end)
    assert actions(auditor, user="%") == []  # a LIKE wildcard is only a character


def test_paging_and_the_view_is_audited(auditor: TestClient) -> None:
    first = auditor.get("/api/audit", params={**SEEDED, "limit": 2}).json()
    assert first["total"] == 5 and first["limit"] == 2 and first["offset"] == 0
    assert [item["username"] for item in first["items"]] == ["=cmd|' /C calc'!A0", "bolat"]
    second = auditor.get("/api/audit", params={**SEEDED, "limit": 2, "offset": 4}).json()
    assert [item["action"] for item in second["items"]] == ["auth.login"]
    item = second["items"][0]
    assert item["allowed"] is True and item["source"] == "10.0.0.5" and item["detail"] == '{"n":0}'
    views = auditor.get("/api/audit", params={"action": "audit.view"}).json()["items"]
    assert len(views) == 2 and views[0]["username"] == "auditor"
    assert '"offset":4' in views[0]["detail"]


def test_bad_queries_are_refused(auditor: TestClient) -> None:
    for params in (
        {"start": "2026-03-01T09:00:00"},  # naive
        {"start": T0.isoformat(), "end": T0.isoformat()},
        {"limit": 0},
        {"limit": 201},
        {"offset": -1},
        {"offset": 2**31},
        {"user": "x" * 65},
    ):
        assert auditor.get("/api/audit", params=params).status_code == 422, params


def test_csv_export(auditor: TestClient) -> None:
    response = auditor.get("/api/audit.csv", params={**SEEDED, "allowed": "false"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    table = list(csv.reader(io.StringIO(response.text)))
    assert table[0][:6] == ["id", "at", "user_id", "username", "source", "action"]
    assert [row[5] for row in table[1:]] == ["access.denied", "auth.login"]  # oldest first
    assert table[2][3] == "'=cmd|' /C calc'!A0"  # never a spreadsheet formula
    assert table[1][1] == (T0 + timedelta(minutes=2)).isoformat()
    exports = auditor.get("/api/audit", params={"action": "audit.export"}).json()["items"]
    assert len(exports) == 1 and '"allowed":false' in exports[0]["detail"]


def test_verify_ok_then_broken_after_tampering(auditor: TestClient) -> None:
    report = auditor.get("/api/audit/verify").json()
    assert report["ok"] is True and report["first_break"] is None and report["rows"] >= 5
    target = auditor.get("/api/audit", params={"user": "bolat", "allowed": "false"}).json()["items"][0]
    database = running_station(auditor).database
    with database.session() as session:
        session.execute(update(AuditEntry).where(AuditEntry.id == target["id"]).values(allowed=True))
    report = auditor.get("/api/audit/verify").json()
    assert report["ok"] is False
    assert report["first_break"]["entry_id"] == target["id"]
    assert "changed" in report["first_break"]["message"]
    verified = auditor.get("/api/audit", params={"action": "audit.verify"}).json()["items"]
    assert len(verified) == 2 and f'"first_break":{target["id"]}' in verified[0]["detail"]


@pytest.mark.parametrize("path", ["/api/audit", "/api/audit/verify", "/api/audit.csv", "/audit"])
def test_officer_is_refused_and_the_refusal_is_on_record(auditor: TestClient, path: str) -> None:
    auditor.cookies.clear()
    sign_in(auditor, "officer")
    assert auditor.get(path, headers={"Accept": "application/json"}).status_code == 403
    database = running_station(auditor).database
    with database.session() as session:
        denied = session.query(AuditEntry).filter_by(username="officer", action="access.denied").all()
    assert denied, "the refusal is audited"


def test_auditor_opens_the_page_in_each_language(auditor: TestClient) -> None:
    for lang, text in (("ru", "Проверить цепочку"), ("kk", "Тізбекті тексеру"), ("en", "Verify chain")):
        response = auditor.get(f"/audit?lang={lang}")
        assert response.status_code == 200 and text in response.text
        assert '<a href="/audit" class="active" aria-current="page"' in response.text


def test_the_page_suggests_the_actions_the_log_holds(auditor: TestClient) -> None:
    html = auditor.get("/audit?lang=en").text
    for action in ("auth.", "auth.login", "access.denied", "evidence.download"):
        assert f'<option value="{action}">' in html
