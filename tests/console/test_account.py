"""Account actions on both database backends: users, sessions, tokens and their audit rows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from console.account import (
    Actor,
    LoginOutcome,
    add_user,
    change_disabled,
    change_password,
    issue_api_token,
    login,
    withdraw_api_token,
)
from console.credential import token_hash
from console.rate_limit import LoginRateLimiter
from storage.api_token import ApiTokenNotFoundError, find_active_token
from storage.audit import verify_audit_chain
from storage.database import Database
from storage.login_session import find_active_session
from storage.model import AuditEntry, Role, utcnow
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
