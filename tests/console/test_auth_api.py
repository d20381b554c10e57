"""Sign-in, sessions, CSRF, API tokens and the audit trail, through the real app."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from config.settings import Settings
from console.app import create_app
from console.credential import token_hash
from console.deps import SESSION_COOKIE
from storage.model import AuditEntry, LoginSession, Role, User, utcnow
from tests.support.console import make_user, running_station, sign_in, station_config


def audit_rows(client: TestClient, action: str) -> list[AuditEntry]:
    with running_station(client).database.session() as session:
        return list(
            session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id))
        )


def test_login_sets_a_strict_httponly_cookie_and_stores_only_its_hash(console_client: TestClient) -> None:
    station = running_station(console_client)
    make_user(station.database, "ivanov", Role.OFFICER, display_name="Иванов")
    response = console_client.post(
        "/api/auth/login", json={"username": "Ivanov ", "password": "correct-horse-battery"}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["user"]["username"] == "ivanov" and body["user"]["role"] == "officer"
    assert "live.view" in body["user"]["permissions"] and body["csrf_token"]
    cookie_header = response.headers["set-cookie"]
    assert (
        "HttpOnly" in cookie_header and "SameSite=strict" in cookie_header and "Secure" not in cookie_header
    )
    token = console_client.cookies[SESSION_COOKIE]
    with station.database.session() as session:
        row = session.scalars(select(LoginSession)).one()
        assert row.token_hash == token_hash(token) and row.token_hash != token
        hours = (row.expires_at - row.created_at) / timedelta(hours=1)
        assert abs(hours - station.settings.config.console.session_hours) < 0.01
    [entry] = audit_rows(console_client, "auth.login")
    assert entry.allowed and entry.username == "ivanov" and entry.source == "testclient"
    me = console_client.get("/api/auth/me").json()
    assert me["user"]["display_name"] == "Иванов" and me["auth"] == "session"


def test_failed_logins_are_audited_then_rate_limited(console_client: TestClient) -> None:
    station = running_station(console_client)
    make_user(station.database, "ivanov")
    limit = station.settings.config.console.login_attempts_per_minute
    for _ in range(limit):
        response = console_client.post(
            "/api/auth/login", json={"username": "ivanov", "password": "wrong-password"}
        )
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "invalid_credentials"
    refused = console_client.post(
        "/api/auth/login", json={"username": "ivanov", "password": "correct-horse-battery"}
    )
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.json()["error"]["code"] == "too_many_attempts"
    again = console_client.post("/api/auth/login", json={"username": "ivanov", "password": "wrong-password"})
    assert again.status_code == 429
    failures = audit_rows(console_client, "auth.login")
    assert len(failures) == limit + 1 and not any(e.allowed for e in failures)
    assert [e.reason for e in failures] == ["bad_credentials"] * limit + ["rate_limited"]  # once per lock-out
    assert failures[-1].username == "ivanov" and json.loads(failures[-1].detail or "{}")["retry_after_s"] >= 1


def test_unknown_user_gets_the_same_answer_and_is_audited(console_client: TestClient) -> None:
    response = console_client.post(
        "/api/auth/login", json={"username": "nobody", "password": "whatever-pass"}
    )
    assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_credentials"
    [entry] = audit_rows(console_client, "auth.login")
    assert entry.username == "nobody" and entry.user_id is None and not entry.allowed


def test_cookie_requests_that_change_state_need_the_csrf_header(console_client: TestClient) -> None:
    make_user(running_station(console_client).database, "ivanov")
    csrf = sign_in(console_client, "ivanov")
    assert console_client.post("/api/tokens", json={"name": "x"}).json()["error"]["code"] == "csrf_failed"
    wrong = console_client.post("/api/tokens", json={"name": "x"}, headers={"X-CSRF-Token": "0" * 64})
    assert wrong.status_code == 403
    ok = console_client.post("/api/tokens", json={"name": "x"}, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 201
    assert console_client.get("/api/tokens").status_code == 200  # reads need no header


def test_logout_revokes_the_session(console_client: TestClient) -> None:
    make_user(running_station(console_client).database, "ivanov")
    csrf = sign_in(console_client, "ivanov")
    token = console_client.cookies[SESSION_COOKIE]
    assert console_client.post("/api/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    console_client.cookies.set(SESSION_COOKIE, token)  # a stolen copy of the cookie is dead too
    assert console_client.get("/api/auth/me").status_code == 401
    assert len(audit_rows(console_client, "auth.logout")) == 1


def test_disabling_a_user_ends_their_session_and_tokens_at_once(console_client: TestClient) -> None:
    station = running_station(console_client)
    user_id = make_user(station.database, "ivanov")
    csrf = sign_in(console_client, "ivanov")
    secret = console_client.post("/api/tokens", json={"name": "cron"}, headers={"X-CSRF-Token": csrf}).json()[
        "token"
    ]
    with station.database.session() as session:
        from storage.model import User

        session.execute(update(User).where(User.id == user_id).values(disabled=True))
    assert console_client.get("/api/auth/me").status_code == 401
    console_client.cookies.clear()
    bearer = console_client.get("/api/auth/me", headers={"Authorization": f"Bearer {secret}"})
    assert bearer.status_code == 401 and bearer.json()["error"]["code"] == "invalid_token"


def test_expired_session_is_refused(console_client: TestClient) -> None:
    station = running_station(console_client)
    make_user(station.database, "ivanov")
    sign_in(console_client, "ivanov")
    with station.database.session() as session:
        session.execute(update(LoginSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert console_client.get("/api/auth/me").status_code == 401


def test_api_tokens_create_list_use_revoke(console_client: TestClient) -> None:
    make_user(running_station(console_client).database, "ivanov", Role.INVESTIGATOR)
    csrf = sign_in(console_client, "ivanov")
    created = console_client.post(
        "/api/tokens", json={"name": "export script", "expires_days": 30}, headers={"X-CSRF-Token": csrf}
    ).json()
    secret = created["token"]
    assert secret.startswith("stn_") and created["prefix"] == secret[:12]
    listed = console_client.get("/api/tokens").json()
    assert [t["name"] for t in listed] == ["export script"] and "token" not in listed[0]

    script = TestClient(console_client.app)  # no cookies: a script with only the token
    headers = {"Authorization": f"Bearer {secret}"}
    me = script.get("/api/auth/me", headers=headers).json()
    assert me["auth"] == "token" and me["csrf_token"] is None
    # bearer requests are exempt from CSRF
    assert script.post("/api/tokens", json={"name": "second"}, headers=headers).status_code == 201
    assert script.get("/api/auth/me", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert script.get("/api/auth/me", headers={"Authorization": "Basic abc"}).status_code == 401

    gone = console_client.delete(f"/api/tokens/{created['id']}", headers={"X-CSRF-Token": csrf})
    assert gone.status_code == 204
    assert script.get("/api/auth/me", headers=headers).status_code == 401
    assert console_client.delete("/api/tokens/999", headers={"X-CSRF-Token": csrf}).status_code == 404
    actions = [
        e.action
        for e in audit_rows(console_client, "token.create") + audit_rows(console_client, "token.revoke")
    ]
    assert actions == ["token.create", "token.create", "token.revoke"]


def test_secure_cookie_when_configured(tmp_path: object) -> None:
    from pathlib import Path

    from config.settings import Settings
    from console.app import create_app
    from tests.support.console import station_config

    assert isinstance(tmp_path, Path)
    settings = Settings(config=station_config(tmp_path / "d", secure_cookies=True), config_path=None)
    with TestClient(create_app(settings), base_url="https://testserver") as client:
        make_user(running_station(client).database, "ivanov")
        response = client.post(
            "/api/auth/login", json={"username": "ivanov", "password": "correct-horse-battery"}
        )
        assert "Secure" in response.headers["set-cookie"]


def test_permission_denied_is_403_and_audited(console_client: TestClient) -> None:
    make_user(running_station(console_client).database, "officer1", Role.OFFICER)
    sign_in(console_client, "officer1")
    response = console_client.get("/api/users")
    assert response.status_code == 403
    body = response.json()["error"]
    assert body["code"] == "forbidden" and body["missing"] == ["users.manage"]
    [entry] = audit_rows(console_client, "access.denied")
    assert not entry.allowed and entry.username == "officer1" and entry.resource_id == "GET /api/users"
    assert json.loads(entry.detail or "null") is None


def test_admin_manages_users_over_the_api(console_client: TestClient) -> None:
    make_user(running_station(console_client).database, "admin", Role.ADMIN)
    csrf = sign_in(console_client, "admin")
    headers = {"X-CSRF-Token": csrf}
    created = console_client.post(
        "/api/users",
        json={"username": "petrov", "role": "officer", "password": "long-enough-pw"},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    user_id = created.json()["id"]
    dup = console_client.post(
        "/api/users",
        json={"username": "petrov", "role": "officer", "password": "long-enough-pw"},
        headers=headers,
    )
    assert dup.status_code == 409 and dup.json()["error"]["code"] == "user_exists"
    weak = console_client.post(
        "/api/users", json={"username": "x", "role": "officer", "password": "short"}, headers=headers
    )
    assert weak.status_code == 422 and weak.json()["error"]["code"] == "invalid_user"
    assert "too short" in weak.json()["error"]["message_en"]
    patched = console_client.patch(
        f"/api/users/{user_id}", json={"role": "supervisor", "disabled": True}, headers=headers
    )
    assert patched.json()["role"] == "supervisor" and patched.json()["disabled"] is True
    me = console_client.get("/api/auth/me").json()["user"]["id"]
    lockout = console_client.patch(f"/api/users/{me}", json={"disabled": True}, headers=headers)
    assert lockout.status_code == 409
    assert [u["username"] for u in console_client.get("/api/users").json()] == ["admin", "petrov"]
    assert {e.action for e in audit_rows(console_client, "user.create")} == {"user.create"}


def _user_with_token(client: TestClient, username: str = "petrov") -> tuple[int, int, TestClient, str]:
    """A user signed in on a client of their own, with one API token: (user id, token id, client, secret)."""
    user_id = make_user(running_station(client).database, username)
    own = TestClient(client.app)
    csrf = sign_in(own, username)
    created = own.post("/api/tokens", json={"name": "cron"}, headers={"X-CSRF-Token": csrf}).json()
    return user_id, created["id"], own, created["token"]


def _bearer_works(client: TestClient, secret: str) -> bool:
    script = TestClient(client.app)
    status: int = script.get("/api/auth/me", headers={"Authorization": f"Bearer {secret}"}).status_code
    return status == 200


def test_admin_password_reset_ends_the_users_sessions_and_tokens(console_client: TestClient) -> None:
    make_user(running_station(console_client).database, "admin", Role.ADMIN)
    headers = {"X-CSRF-Token": sign_in(console_client, "admin")}
    user_id, _token_id, own, secret = _user_with_token(console_client)
    assert _bearer_works(console_client, secret)
    reset = console_client.put(
        f"/api/users/{user_id}/password", json={"password": "a-fresh-password-9"}, headers=headers
    )
    assert reset.status_code == 204
    assert not _bearer_works(console_client, secret)
    assert own.get("/api/auth/me").status_code == 401  # the browser session ended too
    listed = console_client.get(f"/api/users/{user_id}/tokens").json()
    assert [(t["name"], t["revoked_reason"]) for t in listed] == [("cron", "password_reset")]
    assert listed[0]["revoked_at"] is not None


def test_disable_then_enable_does_not_bring_tokens_back(console_client: TestClient) -> None:
    make_user(running_station(console_client).database, "admin", Role.ADMIN)
    headers = {"X-CSRF-Token": sign_in(console_client, "admin")}
    user_id, _token_id, _own, secret = _user_with_token(console_client)
    for disabled in (True, False):
        patched = console_client.patch(f"/api/users/{user_id}", json={"disabled": disabled}, headers=headers)
        assert patched.status_code == 200 and patched.json()["disabled"] is disabled
    assert not _bearer_works(console_client, secret)


def test_admin_lists_and_revokes_any_users_tokens(console_client: TestClient) -> None:
    make_user(running_station(console_client).database, "admin", Role.ADMIN)
    headers = {"X-CSRF-Token": sign_in(console_client, "admin")}
    user_id, token_id, own, secret = _user_with_token(console_client)
    second = own.post(
        "/api/tokens",
        json={"name": "backup"},
        headers={"X-CSRF-Token": own.get("/api/auth/me").json()["csrf_token"]},
    ).json()
    listed = console_client.get(f"/api/users/{user_id}/tokens")
    assert listed.status_code == 200
    assert [t["name"] for t in listed.json()] == ["cron", "backup"]
    assert all("token" not in t and t["revoked_at"] is None for t in listed.json())

    assert own.get(f"/api/users/{user_id}/tokens").status_code == 403  # an officer may not
    assert (
        console_client.delete(f"/api/users/{user_id}/tokens/{token_id}", headers=headers).status_code == 204
    )
    assert not _bearer_works(console_client, secret) and _bearer_works(console_client, second["token"])
    missing = console_client.delete(f"/api/users/{user_id}/tokens/999", headers=headers)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "token_not_found"
    assert console_client.get("/api/users/999/tokens").status_code == 404

    revoked = console_client.delete(f"/api/users/{user_id}/tokens", headers=headers)
    assert revoked.status_code == 200 and revoked.json() == {"revoked": 1}
    assert not _bearer_works(console_client, second["token"])
    [one] = audit_rows(console_client, "token.revoke")
    [every] = audit_rows(console_client, "token.revoke_all")
    assert one.username == "admin" and one.resource_id == str(token_id)
    assert every.username == "admin" and every.resource_id == str(user_id)


def test_tokens_get_a_default_expiry_and_a_maximum(console_client: TestClient) -> None:
    make_user(running_station(console_client).database, "ivanov")
    headers = {"X-CSRF-Token": sign_in(console_client, "ivanov")}
    before = utcnow()
    created = console_client.post("/api/tokens", json={"name": "cron"}, headers=headers).json()
    expires = datetime.fromisoformat(created["expires_at"])
    assert abs((expires - before) / timedelta(days=1) - 90) < 0.01
    too_long = console_client.post("/api/tokens", json={"name": "x", "expires_days": 366}, headers=headers)
    assert too_long.status_code == 422
    blank = console_client.post("/api/tokens", json={"name": "   "}, headers=headers)
    assert blank.status_code == 422 and blank.json()["error"]["code"] == "invalid_token_name"


def _wrong_passwords(client: TestClient, times: int) -> int:
    status = 0
    for _ in range(times):
        status = client.post(
            "/api/auth/login", json={"username": "ivanov", "password": "wrong-password"}
        ).status_code
    return status


def test_wrong_passwords_elsewhere_do_not_lock_the_user_out_of_their_desk(console_client: TestClient) -> None:
    station = running_station(console_client)
    make_user(station.database, "ivanov")
    attacker = TestClient(console_client.app, client=("192.0.2.66", 40000))
    assert _wrong_passwords(attacker, station.settings.config.console.login_attempts_per_minute + 1) == 429
    sign_in(console_client, "ivanov")  # from the user's own address: not locked


def test_a_trusted_proxy_forwards_the_client_address(tmp_path: Path) -> None:
    config = station_config(tmp_path / "data", trusted_proxies=["10.0.0.1"])
    app = create_app(Settings(config=config, config_path=None))
    with TestClient(app, client=("10.0.0.1", 40000)) as proxy:
        make_user(running_station(proxy).database, "ivanov")
        forwarded = {"X-Forwarded-For": "198.51.100.1, 203.0.113.5"}
        proxy.post("/api/auth/login", json={"username": "ivanov", "password": "x" * 12}, headers=forwarded)
        spoofer = TestClient(app, client=("192.0.2.9", 40000))
        spoofer.post("/api/auth/login", json={"username": "ivanov", "password": "x" * 12}, headers=forwarded)
        sources = [e.source for e in audit_rows(proxy, "auth.login")]
    assert sources == ["203.0.113.5", "192.0.2.9"]  # the proxy's word is taken, nobody else's


def test_an_idle_session_ends_and_use_keeps_it_alive(console_client: TestClient) -> None:
    station = running_station(console_client)
    make_user(station.database, "ivanov")
    sign_in(console_client, "ivanov")
    idle = station.settings.config.console.idle_timeout_minutes

    def last_seen(minutes_ago: float) -> None:
        with station.database.session() as session:
            session.execute(
                update(LoginSession).values(last_seen_at=utcnow() - timedelta(minutes=minutes_ago))
            )

    last_seen(idle - 1)
    assert console_client.get("/api/auth/me").status_code == 200  # used in time: the clock restarts
    with station.database.session() as session:
        assert utcnow() - session.scalars(select(LoginSession.last_seen_at)).one() < timedelta(minutes=1)
    last_seen(idle + 1)
    assert console_client.get("/api/auth/me").status_code == 401
    with station.database.session() as session:
        assert session.scalars(select(LoginSession.revoked_at)).one() is not None
    [ended] = audit_rows(console_client, "auth.idle_timeout")
    assert ended.username == "ivanov" and ended.resource_type == "session"


def test_refused_bearer_tokens_are_audited_once_per_interval(console_client: TestClient) -> None:
    user_id, token_id, own, secret = _user_with_token(console_client)
    script = TestClient(console_client.app)
    for _ in range(3):
        unknown = script.get("/api/auth/me", headers={"Authorization": "Bearer not-a-real-token"})
        assert unknown.status_code == 401
    own_csrf = own.get("/api/auth/me").json()["csrf_token"]
    assert own.delete(f"/api/tokens/{token_id}", headers={"X-CSRF-Token": own_csrf}).status_code == 204
    assert script.get("/api/auth/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    rows = audit_rows(console_client, "auth.token")
    assert [(e.reason, e.user_id, e.allowed) for e in rows] == [
        ("unknown", None, False),
        ("revoked", user_id, False),
    ]
    assert "not-a-real" not in (rows[0].detail or "")  # nothing of an unknown secret is kept


def test_csrf_failures_and_forbidden_pages_are_audited(console_client: TestClient) -> None:
    make_user(running_station(console_client).database, "ivanov")
    sign_in(console_client, "ivanov")
    assert console_client.post("/api/tokens", json={"name": "x"}).status_code == 403
    page = console_client.get("/admin/zones", headers={"Accept": "text/html"})
    assert page.status_code == 403
    rows = audit_rows(console_client, "access.denied")
    assert [(e.username, e.resource_id, e.reason) for e in rows] == [
        ("ivanov", "POST /api/tokens", "csrf_failed"),
        ("ivanov", "GET /admin/zones", "forbidden"),
    ]


def test_a_rename_is_audited_with_the_old_and_new_name(console_client: TestClient) -> None:
    station = running_station(console_client)
    make_user(station.database, "admin", Role.ADMIN)
    user_id = make_user(station.database, "petrov", display_name="Петров П.")
    headers = {"X-CSRF-Token": sign_in(console_client, "admin")}
    renamed = console_client.patch(
        f"/api/users/{user_id}", json={"display_name": "Сидоров С."}, headers=headers
    )
    assert renamed.status_code == 200 and renamed.json()["display_name"] == "Сидоров С."
    console_client.patch(f"/api/users/{user_id}", json={"display_name": "Сидоров С."}, headers=headers)
    [row] = audit_rows(console_client, "user.rename")
    assert row.username == "admin" and row.resource_id == str(user_id)
    assert json.loads(row.detail or "{}") == {"username": "petrov", "from": "Петров П.", "to": "Сидоров С."}
    with station.database.session() as session:
        assert session.get_one(User, user_id).display_name == "Сидоров С."


def test_a_common_password_is_refused_with_its_own_message(console_client: TestClient) -> None:
    make_user(running_station(console_client).database, "admin", Role.ADMIN)
    headers = {"X-CSRF-Token": sign_in(console_client, "admin"), "Accept-Language": "ru"}
    weak = console_client.post(
        "/api/users",
        json={"username": "petrov", "role": "officer", "password": "password12"},
        headers=headers,
    )
    assert weak.status_code == 422, weak.text
    error = weak.json()["error"]
    assert "too common" in error["message_en"] and "распространён" in error["message"]
