"""Account actions shared by the web console and the CLI; each one writes its audit row.

Functions take an open SQLAlchemy session (the caller's transaction) and an :class:`Actor` saying who acts
and from where (``source`` is an IP address or ``"cli"``).

A new password and a disable end every session and revoke every API token of the user (marked revoked, so
re-enabling the user brings none of them back). API tokens live ``DEFAULT_TOKEN_DAYS`` unless asked for
fewer or more days, at most ``MAX_TOKEN_DAYS``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from sqlalchemy.orm import Session

from console.credential import new_api_token, new_session_token, token_hash, token_prefix
from console.password import (
    burn_verify_time,
    check_password_policy,
    hash_password,
    verify_password,
)
from console.rate_limit import LoginRateLimiter
from storage.api_token import TokenRevokeReason, create_api_token, revoke_api_token, revoke_user_tokens
from storage.audit import append_audit
from storage.login_session import (
    create_login_session,
    revoke_session,
    revoke_user_session,
    revoke_user_sessions,
)
from storage.model import ApiToken, Role, User, utcnow
from storage.user import (
    create_user,
    find_user,
    parse_username,
    record_login,
    set_disabled,
    set_password_hash,
    set_role,
)

DEFAULT_TOKEN_DAYS: Final = 90
MAX_TOKEN_DAYS: Final = 365


class TokenLifetimeError(ValueError):
    """An API token lifetime outside 1..``MAX_TOKEN_DAYS`` days."""


@dataclass(frozen=True, slots=True)
class AccessEnded:
    """How many sessions ended and API tokens were revoked by a password reset or a disable."""

    sessions: int = 0
    tokens: int = 0


@dataclass(frozen=True, slots=True)
class Actor:
    """Who performs an action: a station user, or an operator at the command line."""

    source: str
    user_id: int | None = None
    username: str | None = None
    detail: dict[str, str] = field(default_factory=dict)


class LoginOutcome(StrEnum):
    OK = "ok"
    BAD_CREDENTIALS = "bad_credentials"
    DISABLED = "disabled"
    RATE_LIMITED = "rate_limited"


@dataclass(frozen=True, slots=True)
class LoginResult:
    outcome: LoginOutcome
    user: User | None = None
    session_token: str | None = None
    session_id: int | None = None
    expires_at: datetime | None = None
    retry_after_s: int | None = None


def _audit(
    session: Session,
    actor: Actor,
    action: str,
    *,
    resource_type: str,
    resource_id: str,
    detail: dict[str, str] | None = None,
) -> None:
    append_audit(
        session,
        action=action,
        allowed=True,
        user_id=actor.user_id,
        username=actor.username,
        source=actor.source,
        resource_type=resource_type,
        resource_id=resource_id,
        detail={**actor.detail, **(detail or {})} or None,
    )


ADDRESS_KEY_PREFIX: Final = "ip:"
ADDRESS_LIMIT_FACTOR: Final = 4  # one address may fail this many times more often, over all user names


def limiter_keys(username: str, source_ip: str) -> tuple[str, str]:
    """The user name *at* this address (a lock-out there leaves the user free to sign in from their own
    desk), then the address alone (one address cannot try many user names)."""
    return (f"login:{username.strip().lower()}@{source_ip}", f"{ADDRESS_KEY_PREFIX}{source_ip}")


def new_login_limiter(attempts_per_minute: int) -> LoginRateLimiter:
    """The station's limiter: ``attempts_per_minute`` per user name and address, a few times more per
    address."""
    return LoginRateLimiter(
        attempts_per_minute,
        limits_by_prefix={ADDRESS_KEY_PREFIX: attempts_per_minute * ADDRESS_LIMIT_FACTOR},
    )


def login(
    session: Session,
    *,
    username: str,
    password: str,
    source_ip: str,
    user_agent: str | None,
    limiter: LoginRateLimiter,
    session_hours: float,
    clock: float | None = None,
) -> LoginResult:
    """Check credentials, open a session on success; every checked attempt is audited."""
    now_mono = time.monotonic() if clock is None else clock
    keys = limiter_keys(username, source_ip)
    retry = limiter.retry_after_s(keys, now_mono)
    name = username.strip().lower()
    if retry is not None:
        # Only the first refusal of a lock-out is audited: a flood of refusals would drown the log.
        if limiter.note_refusal(keys, now_mono):
            append_audit(
                session,
                action="auth.login",
                allowed=False,
                username=name[:64] or None,
                source=source_ip,
                reason=LoginOutcome.RATE_LIMITED.value,
                resource_type="user",
                detail={"retry_after_s": retry},
            )
        return LoginResult(LoginOutcome.RATE_LIMITED, retry_after_s=retry)
    user = find_user(session, username=name) if name else None
    if user is None:
        burn_verify_time(password)
        outcome = LoginOutcome.BAD_CREDENTIALS
    else:
        check = verify_password(user.password_hash, password)
        if not check.ok:
            outcome = LoginOutcome.BAD_CREDENTIALS
        elif user.disabled:
            outcome = LoginOutcome.DISABLED
        else:
            if check.needs_rehash:
                user.password_hash = hash_password(password)  # same password, today's parameters
            return _open_session(session, user, source_ip, user_agent, session_hours, limiter, keys[0])
    limiter.record_failure(keys, now_mono)
    append_audit(
        session,
        action="auth.login",
        allowed=False,
        user_id=user.id if user else None,
        username=name[:64] or None,
        source=source_ip,
        reason=outcome.value,
        resource_type="user",
        resource_id=str(user.id) if user else None,
    )
    return LoginResult(outcome)


def _open_session(
    session: Session,
    user: User,
    source_ip: str,
    user_agent: str | None,
    session_hours: float,
    limiter: LoginRateLimiter,
    user_key: str,
) -> LoginResult:
    now = utcnow()
    token = new_session_token()
    expires_at = now + timedelta(hours=session_hours)
    row = create_login_session(
        session,
        user_id=user.id,
        token_hash=token_hash(token),
        expires_at=expires_at,
        source_ip=source_ip,
        user_agent=user_agent,
        now=now,
    )
    record_login(session, user=user, now=now)
    append_audit(
        session,
        action="auth.login",
        allowed=True,
        user_id=user.id,
        username=user.username,
        source=source_ip,
        resource_type="session",
        resource_id=str(row.id),
    )
    limiter.reset(user_key)
    return LoginResult(
        LoginOutcome.OK, user=user, session_token=token, session_id=row.id, expires_at=expires_at
    )


def logout(session: Session, *, actor: Actor, session_id: int) -> None:
    revoke_session(session, session_id=session_id)
    _audit(session, actor, "auth.logout", resource_type="session", resource_id=str(session_id))


def add_user(
    session: Session,
    *,
    actor: Actor,
    username: str,
    role: Role,
    password: str,
    display_name: str | None = None,
) -> User:
    name = parse_username(username)
    check_password_policy(password, username=name)
    user = create_user(
        session, username=name, role=role, password_hash=hash_password(password), display_name=display_name
    )
    _audit(
        session,
        actor,
        "user.create",
        resource_type="user",
        resource_id=str(user.id),
        detail={"username": user.username, "role": role.value},
    )
    return user


def _end_access(session: Session, user: User, reason: TokenRevokeReason) -> AccessEnded:
    """End every session and revoke every API token of ``user``."""
    return AccessEnded(
        sessions=revoke_user_sessions(session, user_id=user.id),
        tokens=revoke_user_tokens(session, user_id=user.id, reason=reason),
    )


def _ended_detail(ended: AccessEnded) -> dict[str, str]:
    return {"sessions_ended": str(ended.sessions), "tokens_revoked": str(ended.tokens)}


def change_password(session: Session, *, actor: Actor, user: User, password: str) -> AccessEnded:
    """Set a new password (whoever sets it), ending every session and revoking every API token of the
    user: whoever knew the old password may have made one."""
    check_password_policy(password, username=user.username)
    set_password_hash(session, user=user, password_hash=hash_password(password))
    ended = _end_access(session, user, TokenRevokeReason.PASSWORD_RESET)
    _audit(
        session,
        actor,
        "user.password",
        resource_type="user",
        resource_id=str(user.id),
        detail={"username": user.username, **_ended_detail(ended)},
    )
    return ended


def change_disabled(session: Session, *, actor: Actor, user: User, disabled: bool) -> AccessEnded:
    """Disable (ending every session and revoking every token for good) or re-enable a user; re-enabling
    brings no session or token back."""
    set_disabled(session, user=user, disabled=disabled)
    ended = _end_access(session, user, TokenRevokeReason.USER_DISABLED) if disabled else AccessEnded()
    _audit(
        session,
        actor,
        "user.disable" if disabled else "user.enable",
        resource_type="user",
        resource_id=str(user.id),
        detail={"username": user.username, **(_ended_detail(ended) if disabled else {})},
    )
    return ended


def rename_user(session: Session, *, actor: Actor, user: User, display_name: str | None) -> bool:
    """Set the display name (blank: none); audited as ``user.rename`` with the old and the new name, so who
    a name stood for at any time stays on record. False (and no row) when the name does not change."""
    before = user.display_name
    after = (display_name or "").strip() or None
    if after == before:
        return False
    user.display_name = after
    _audit(
        session,
        actor,
        "user.rename",
        resource_type="user",
        resource_id=str(user.id),
        detail={"username": user.username, "from": before or "", "to": after or ""},
    )
    return True


def change_role(session: Session, *, actor: Actor, user: User, role: Role) -> None:
    before = user.role
    set_role(session, user=user, role=role)
    revoke_user_sessions(session, user_id=user.id)
    _audit(
        session,
        actor,
        "user.role",
        resource_type="user",
        resource_id=str(user.id),
        detail={"username": user.username, "from": before, "to": role.value},
    )


def token_expiry(expires_days: int, *, now: datetime) -> datetime:
    """When a token made at ``now`` to live ``expires_days`` expires (pure)."""
    if not 1 <= expires_days <= MAX_TOKEN_DAYS:
        raise TokenLifetimeError(
            f"an API token lives between 1 and {MAX_TOKEN_DAYS} days, not {expires_days}"
        )
    return now + timedelta(days=expires_days)


def issue_api_token(
    session: Session,
    *,
    actor: Actor,
    user: User,
    name: str,
    expires_days: int = DEFAULT_TOKEN_DAYS,
) -> tuple[ApiToken, str]:
    """Create a token for ``user`` living ``expires_days``; the clear token is returned once, never stored."""
    now = utcnow()
    expires_at = token_expiry(expires_days, now=now)
    token = new_api_token()
    row = create_api_token(
        session,
        user_id=user.id,
        name=name,
        prefix=token_prefix(token),
        token_hash=token_hash(token),
        expires_at=expires_at,
        now=now,
    )
    _audit(
        session,
        actor,
        "token.create",
        resource_type="api_token",
        resource_id=str(row.id),
        detail={
            "username": user.username,
            "name": row.name,
            "prefix": row.prefix,
            "expires_at": expires_at.isoformat(timespec="seconds"),
        },
    )
    return row, token


def withdraw_api_token(session: Session, *, actor: Actor, user: User, token_id: int) -> ApiToken:
    row = revoke_api_token(session, user_id=user.id, token_id=token_id)
    _audit(
        session,
        actor,
        "token.revoke",
        resource_type="api_token",
        resource_id=str(row.id),
        detail={"username": user.username, "name": row.name},
    )
    return row


def withdraw_all_tokens(session: Session, *, actor: Actor, user: User) -> int:
    """Revoke every token of ``user``; returns how many were still unrevoked."""
    count = revoke_user_tokens(session, user_id=user.id)
    _audit(
        session,
        actor,
        "token.revoke_all",
        resource_type="user",
        resource_id=str(user.id),
        detail={"username": user.username, "revoked": str(count)},
    )
    return count


def withdraw_session(session: Session, *, actor: Actor, user: User, session_id: int) -> bool:
    """End one open browser session of ``user`` (audited as ``session.revoke``); False when the user has no
    such open session."""
    ended = revoke_user_session(session, user_id=user.id, session_id=session_id)
    if ended:
        _audit(
            session,
            actor,
            "session.revoke",
            resource_type="session",
            resource_id=str(session_id),
            detail={"username": user.username},
        )
    return ended
