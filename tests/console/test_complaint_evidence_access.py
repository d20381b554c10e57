"""Who may attach and release complaint footage (issue 26, findings 4 and 5; issue 25, defect 4), against a
real app, real SQLite and real recorded segments.

- An officer cannot widen their own playback window by registering (or moving) a complaint dated back and
  attaching footage to it: footage older than ``officer_recording_days`` is attached by a supervisor, and
  the officer's attempt is refused and audited.
- Footage someone else attached is released only by a supervisor, with a reason, audited.
- Footage is attached only where something was recorded (else the lock covers nothing).
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from storage.lock import active_locks
from storage.model import AuditEntry, Role, utcnow
from storage.user import create_user
from tests.console.test_complaint_api import iso, register
from tests.support.station_media import MediaStation, password_hash

pytestmark = pytest.mark.timeout(120)


def view(client: TestClient, start: str, end: str, **extra: str) -> int:
    body = {"camera": "b5-e1", "start": start, "end": end, "reason": "проверка жалобы", **extra}
    status: int = client.post("/api/recordings/views", json=body).status_code
    return status


def attach(client: TestClient, cid: int, start: str, end: str) -> tuple[int, str]:
    response = client.post(
        f"/api/complaints/{cid}/evidence", json={"camera_id": "b5-e1", "start": start, "end": end}
    )
    return response.status_code, response.json()["error"]["code"] if response.status_code >= 400 else ""


def audit_rows(media: MediaStation, action: str) -> list[tuple[bool, str | None, dict[str, Any]]]:
    with media.station.database.session() as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id))
        return [(row.allowed, row.username, json.loads(row.detail or "{}")) for row in rows]


def test_backdated_complaint_does_not_widen_the_officers_playback(media_station: MediaStation) -> None:
    """Issue 26, finding 4: a view of footage older than the officer's horizon (7 days here) is refused;
    registering a complaint dated back and attaching that footage is refused too (403, audited), also after
    moving the window back with PATCH; the view stays refused. A supervisor's attach is the confirmation:
    after it the officer may see the attached range."""
    now = utcnow()
    old = now - timedelta(days=10)
    media_station.record("b5-e1", old, count=2)
    start, end = iso(old), iso(old + timedelta(seconds=4))
    officer = media_station.login("officer")
    assert view(officer, start, end) == 403

    cid = register(
        officer, incident_start=iso(old - timedelta(minutes=5)), incident_end=iso(old + timedelta(minutes=5))
    )["complaint"]["id"]
    assert attach(officer, cid, start, end) == (403, "attach_needs_supervisor")
    recent = register(officer)["complaint"]["id"]
    moved = officer.patch(
        f"/api/complaints/{recent}",
        json={
            "incident_start": iso(old - timedelta(minutes=5)),
            "incident_end": iso(old + timedelta(minutes=5)),
        },
    )
    assert moved.status_code == 200, moved.text
    assert attach(officer, recent, start, end) == (403, "attach_needs_supervisor")
    assert view(officer, start, end) == 403
    with media_station.station.database.session() as session:
        assert active_locks(session, now=utcnow()) == []
    refusals = audit_rows(media_station, "complaint.evidence_attach")
    assert [(allowed, user, detail["code"]) for allowed, user, detail in refusals] == [
        (False, "officer", "attach_needs_supervisor"),
        (False, "officer", "attach_needs_supervisor"),
    ]
    assert refusals[0][2]["start"] == start

    assert attach(media_station.login("supervisor"), cid, start, end) == (201, "")
    assert view(officer, start, end) == 201


def test_officer_attaches_recent_footage_with_a_lock_held_while_the_case_is_open(
    media_station: MediaStation,
) -> None:
    now = utcnow()
    media_station.record("b5-e1", now - timedelta(minutes=26), count=2)
    officer = media_station.login("officer")
    cid = register(officer)["complaint"]["id"]
    status, _ = attach(officer, cid, iso(now - timedelta(minutes=26)), iso(now - timedelta(minutes=23)))
    assert status == 201
    evidence = officer.get(f"/api/complaints/{cid}").json()["evidence"]
    assert evidence[0]["lock_expires_at"] is None and evidence[0]["may_detach"] is True


def test_attach_refuses_a_range_with_no_recording(media_station: MediaStation) -> None:
    """Issue 25, defect 4: a lock over nothing would make the export fail later; refuse at once."""
    now = utcnow()
    officer = media_station.login("officer")
    cid = register(officer)["complaint"]["id"]
    assert attach(officer, cid, iso(now - timedelta(minutes=26)), iso(now - timedelta(minutes=23))) == (
        422,
        "no_recording",
    )
    media_station.record("b5-e1", now - timedelta(minutes=26), count=1)
    assert attach(officer, cid, iso(now - timedelta(minutes=26)), iso(now - timedelta(minutes=23)))[0] == 201


def test_releasing_footage_someone_else_attached_needs_a_supervisor_and_a_reason(
    media_station: MediaStation,
) -> None:
    """Issue 26, finding 5: another officer may not detach (release) it nor so close the case with nothing
    kept; a supervisor may, with a reason that goes to the history and the audit log; the author may detach
    their own attachment without one."""
    now = utcnow()
    media_station.record("b5-e1", now - timedelta(minutes=26), count=3)
    with media_station.station.database.session() as session:
        other = create_user(
            session,
            username="officer2",
            role=Role.OFFICER,
            password_hash=password_hash(),
            display_name="Ерлан",
        )
        media_station.user_ids["officer2"] = other.id
    author, colleague = media_station.login("officer"), media_station.login("officer2")
    supervisor = media_station.login("supervisor")
    cid = register(author)["complaint"]["id"]
    at = now - timedelta(minutes=26)
    assert attach(author, cid, iso(at), iso(at + timedelta(seconds=2)))[0] == 201
    assert attach(author, cid, iso(at + timedelta(seconds=2)), iso(at + timedelta(seconds=4)))[0] == 201
    first, second = (e["id"] for e in author.get(f"/api/complaints/{cid}").json()["evidence"])
    seen = colleague.get(f"/api/complaints/{cid}").json()["evidence"]
    assert [e["may_detach"] for e in seen] == [False, False] and seen[0]["added_by_name"] == "Officer"

    refused = colleague.delete(f"/api/complaints/{cid}/evidence/{first}")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "release_needs_supervisor"
    assert refused.json()["error"]["message"]
    no_reason = supervisor.delete(f"/api/complaints/{cid}/evidence/{first}")
    assert no_reason.status_code == 422 and no_reason.json()["error"]["code"] == "reason_required"
    with media_station.station.database.session() as session:
        assert len(active_locks(session, now=utcnow())) == 2

    released = supervisor.request(
        "DELETE", f"/api/complaints/{cid}/evidence/{first}", json={"reason": "снято по ошибке"}
    )
    assert released.status_code == 200, released.text
    last = released.json()["history"][-1]
    assert (last["action"], last["note"], last["user"]) == (
        "evidence_detached",
        "снято по ошибке",
        "Supervisor",
    )
    assert author.delete(f"/api/complaints/{cid}/evidence/{second}").status_code == 200
    rows = audit_rows(media_station, "complaint.evidence_detach")
    assert [(allowed, user, detail.get("reason")) for allowed, user, detail in rows] == [
        (False, "officer2", None),
        (True, "supervisor", "снято по ошибке"),
        (True, "officer", None),
    ]
