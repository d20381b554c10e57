"""Admins list a user's open browser sessions and end one of them (``/api/users/{id}/sessions``)."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from storage.model import AuditEntry, LoginSession, Role, utcnow
from tests.support.console import make_user, running_station, sign_in


def test_admin_lists_and_ends_a_users_sessions(console_client: TestClient) -> None:
    database = running_station(console_client).database
    make_user(database, "admin", Role.ADMIN)
    headers = {"X-CSRF-Token": sign_in(console_client, "admin")}
    user_id = make_user(database, "petrov")
    desk, phone = TestClient(console_client.app), TestClient(console_client.app)
    sign_in(desk, "petrov")
    sign_in(phone, "petrov")
    sign_in(TestClient(console_client.app), "petrov")
    with database.session() as session:  # the third one expired: not listed
        last = max(session.scalars(select(LoginSession.id).where(LoginSession.user_id == user_id)))
        session.execute(
            update(LoginSession).where(LoginSession.id == last).values(expires_at=utcnow() - timedelta(1))
        )

    listed = console_client.get(f"/api/users/{user_id}/sessions")
    assert listed.status_code == 200, listed.text
    sessions = listed.json()
    assert len(sessions) == 2
    assert set(sessions[0]) == {"id", "created_at", "expires_at", "last_seen_at", "source_ip", "user_agent"}

    ended = console_client.delete(f"/api/users/{user_id}/sessions/{sessions[0]['id']}", headers=headers)
    assert ended.status_code == 204
    assert desk.get("/api/auth/me").status_code == 401
    assert phone.get("/api/auth/me").status_code == 200
    assert [s["id"] for s in console_client.get(f"/api/users/{user_id}/sessions").json()] == [
        sessions[1]["id"]
    ]
    with database.session() as session:
        [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "session.revoke"))
        assert entry.username == "admin" and entry.resource_id == str(sessions[0]["id"])


def test_ending_a_session_that_is_not_the_users_is_404(console_client: TestClient) -> None:
    database = running_station(console_client).database
    make_user(database, "admin", Role.ADMIN)
    headers = {"X-CSRF-Token": sign_in(console_client, "admin")}
    user_id = make_user(database, "petrov")
    me = console_client.get("/api/auth/me").json()["user"]["id"]
    admin_sessions = console_client.get(f"/api/users/{me}/sessions").json()
    again = console_client.delete(f"/api/users/{user_id}/sessions/{admin_sessions[0]['id']}", headers=headers)
    assert again.status_code == 404 and again.json()["error"]["code"] == "session_not_found"
    assert console_client.get("/api/auth/me").status_code == 200  # the admin's own session is untouched
    assert console_client.get("/api/users/999/sessions").status_code == 404


def test_only_admins_see_sessions(console_client: TestClient) -> None:
    user_id = make_user(running_station(console_client).database, "petrov", Role.SUPERVISOR)
    headers = {"X-CSRF-Token": sign_in(console_client, "petrov")}
    assert console_client.get(f"/api/users/{user_id}/sessions").status_code == 403
    assert console_client.delete(f"/api/users/{user_id}/sessions/1", headers=headers).status_code == 403
