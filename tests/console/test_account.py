"""Account actions on both database backends: users, sessions, tokens and their audit rows."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from console.account import (
    DEFAULT_TOKEN_DAYS,
    MAX_TOKEN_DAYS,
    Actor,
    LoginOutcome,
    add_user,
    change_disabled,
    change_password,
    issue_api_token,
    login,
    withdraw_all_tokens,
    withdraw_api_token,
)
from console.credential import token_hash
from console.rate_limit import LoginRateLimiter
from storage.api_token import ApiTokenNotFoundError, find_active_token
from storage.audit import verify_audit_chain
from storage.database import Database
from storage.login_session import find_active_session
from storage.model import ApiToken, AuditEntry, Role, utcnow
from storage.user import UserExistsError, get_user

CLI = Actor(source="cli", detail={"os_user": "root"})
PASSWORD = "correct-horse-battery"


def sign_in(database: Database, limiter: LoginRateLimiter, password: str = PASSWORD) -> LoginOutcome:
    with database.session() as session:
        result = login(
            session,
            username="ivanov",
            password=password,
            source_ip="10.0.0.5",
            user_agent="pytest",
            limiter=limiter,
            session_hours=12,
            clock=0.0,
        )
        return result.outcome


def test_user_lifecycle_sessions_and_tokens(database: Database) -> None:
    limiter = LoginRateLimiter(5)
    with database.session() as session:
        add_user(session, actor=CLI, username="Ivanov", role=Role.OFFICER, password=PASSWORD)
    with database.session() as session, pytest.raises(UserExistsError):
        add_user(session, actor=CLI, username="ivanov", role=Role.ADMIN, password=PASSWORD)

    assert sign_in(database, limiter, "wrong-password") is LoginOutcome.BAD_CREDENTIALS
    with database.session() as session:
        result = login(
            session,
            username="ivanov",
            password=PASSWORD,
            source_ip="10.0.0.5",
            user_agent="pytest",
            limiter=limiter,
            session_hours=12,
        )
        assert result.outcome is LoginOutcome.OK and result.session_token
        cookie = result.session_token
    now = utcnow()
    with database.session() as session:
        assert find_active_session(session, token_hash=token_hash(cookie), now=now) is not None
        assert (
            find_active_session(session, token_hash=token_hash(cookie), now=now + timedelta(hours=13)) is None
        )
        user = get_user(session, username="ivanov")
        row, secret = issue_api_token(session, actor=CLI, user=user, name="cron")
    with database.session() as session:
        assert find_active_token(session, token_hash=token_hash(secret), now=now) is not None
        user = get_user(session, username="ivanov")
        change_password(session, actor=CLI, user=user, password="a-new-long-password")
    with database.session() as session:
        assert find_active_session(session, token_hash=token_hash(cookie), now=now) is None  # ended
        user = get_user(session, username="ivanov")
        change_disabled(session, actor=CLI, user=user, disabled=True)
    assert sign_in(database, limiter, "a-new-long-password") is LoginOutcome.DISABLED
    with database.session() as session:
        assert find_active_token(session, token_hash=token_hash(secret), now=now) is None
        user = get_user(session, username="ivanov")
        withdraw_api_token(session, actor=CLI, user=user, token_id=row.id)
        with pytest.raises(ApiTokenNotFoundError):
            withdraw_api_token(session, actor=CLI, user=user, token_id=row.id + 100)
    with database.session() as session:
        actions = [(e.action, e.allowed) for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
        assert actions == [
            ("user.create", True),
            ("auth.login", False),
            ("auth.login", True),
            ("token.create", True),
            ("user.password", True),
            ("user.disable", True),
            ("auth.login", False),
            ("token.revoke", True),
        ]
        checked, breaks = verify_audit_chain(session)
        assert checked == len(actions) and not breaks


def test_weak_hash_is_upgraded_at_login(database: Database) -> None:
    from argon2 import PasswordHasher

    from storage.user import create_user

    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    with database.session() as session:
        create_user(session, username="ivanov", role=Role.OFFICER, password_hash=weak)
    assert sign_in(database, LoginRateLimiter(5)) is LoginOutcome.OK
    with database.session() as session:
        stored = get_user(session, username="ivanov").password_hash
        assert stored != weak and "m=65536" in stored


def _token_is_live(database: Database, secret: str) -> bool:
    with database.session() as session:
        return find_active_token(session, token_hash=token_hash(secret), now=utcnow()) is not None


def _new_user_with_token(database: Database) -> tuple[int, str]:
    with database.session() as session:
        user = add_user(session, actor=CLI, username="ivanov", role=Role.OFFICER, password=PASSWORD)
        row, secret = issue_api_token(session, actor=CLI, user=user, name="cron")
        return row.id, secret


def test_password_reset_revokes_every_session_and_token(database: Database) -> None:
    token_id, secret = _new_user_with_token(database)
    with database.session() as session:
        cookie = login(
            session,
            username="ivanov",
            password=PASSWORD,
            source_ip="10.0.0.5",
            user_agent="pytest",
            limiter=LoginRateLimiter(5),
            session_hours=12,
        ).session_token
    assert cookie is not None and _token_is_live(database, secret)
    with database.session() as session:
        change_password(
            session, actor=CLI, user=get_user(session, username="ivanov"), password="a-new-pw-1234"
        )
    assert not _token_is_live(database, secret)
    with database.session() as session:
        assert find_active_session(session, token_hash=token_hash(cookie), now=utcnow()) is None
        token = session.get(ApiToken, token_id)
        assert token is not None and token.revoked_at is not None  # revoked, not only hidden
        assert token.revoked_reason == "password_reset"
        [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "user.password")).all()
        detail = json.loads(entry.detail or "{}")
        assert detail["sessions_ended"] == "1" and detail["tokens_revoked"] == "1"


def test_disable_revokes_tokens_and_enable_does_not_bring_them_back(database: Database) -> None:
    token_id, secret = _new_user_with_token(database)
    with database.session() as session:
        change_disabled(session, actor=CLI, user=get_user(session, username="ivanov"), disabled=True)
    with database.session() as session:
        token = session.get(ApiToken, token_id)
        assert token is not None and token.revoked_at is not None
        assert token.revoked_reason == "user_disabled"
        change_disabled(session, actor=CLI, user=get_user(session, username="ivanov"), disabled=False)
    assert not _token_is_live(database, secret)
    with database.session() as session:
        [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "user.disable")).all()
        assert json.loads(entry.detail or "{}")["tokens_revoked"] == "1"


def test_tokens_expire_by_default_and_within_a_maximum(database: Database) -> None:
    with database.session() as session:
        user = add_user(session, actor=CLI, username="ivanov", role=Role.OFFICER, password=PASSWORD)
        before = utcnow()
        row, _secret = issue_api_token(session, actor=CLI, user=user, name="cron")
        assert row.expires_at is not None
        days = (row.expires_at - before) / timedelta(days=1)
        assert DEFAULT_TOKEN_DAYS == 90 and abs(days - DEFAULT_TOKEN_DAYS) < 0.01
        short, _ = issue_api_token(session, actor=CLI, user=user, name="short", expires_days=7)
        assert (
            short.expires_at is not None and abs((short.expires_at - before) / timedelta(days=1) - 7) < 0.01
        )
        for bad in (0, MAX_TOKEN_DAYS + 1):
            with pytest.raises(ValueError, match="between 1 and"):
                issue_api_token(session, actor=CLI, user=user, name="bad", expires_days=bad)


def test_admin_revokes_all_tokens_of_a_user_audited(database: Database) -> None:
    _token_id, secret = _new_user_with_token(database)
    admin = Actor(source="10.0.0.1", user_id=1, username="admin")
    with database.session() as session:
        user = get_user(session, username="ivanov")
        issue_api_token(session, actor=CLI, user=user, name="second")
        assert withdraw_all_tokens(session, actor=admin, user=user) == 2
        assert withdraw_all_tokens(session, actor=admin, user=user) == 0
    assert not _token_is_live(database, secret)
    with database.session() as session:
        entries = session.scalars(select(AuditEntry).where(AuditEntry.action == "token.revoke_all")).all()
        assert [json.loads(e.detail or "{}")["revoked"] for e in entries] == ["2", "0"]
        assert {e.username for e in entries} == {"admin"}
        assert {t.revoked_reason for t in session.scalars(select(ApiToken))} == {"revoked"}
