"""Browser login sessions: only the SHA-256 of the cookie value is stored.

A session counts as active while it is not revoked, not expired and its user is not disabled, so disabling a
user ends every one of their sessions at the next request.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from storage.model import LoginSession, User, utcnow


def create_login_session(
    session: Session,
    *,
    user_id: int,
    token_hash: str,
    expires_at: datetime,
    source_ip: str | None = None,
    user_agent: str | None = None,
    now: datetime | None = None,
) -> LoginSession:
    at = now or utcnow()
    row = LoginSession(
        user_id=user_id,
        token_hash=token_hash,
        created_at=at,
        last_seen_at=at,
        expires_at=expires_at,
        source_ip=source_ip[:64] if source_ip else None,
        user_agent=user_agent[:255] if user_agent else None,
    )
    session.add(row)
    session.flush()
    return row


def find_active_session(
    session: Session, *, token_hash: str, now: datetime
) -> tuple[LoginSession, User] | None:
    """The session with this hash and its user, or None when unknown, revoked, expired or disabled."""
    row = session.execute(
        select(LoginSession, User)
        .join(User, User.id == LoginSession.user_id)
        .where(
            LoginSession.token_hash == token_hash,
            LoginSession.revoked_at.is_(None),
            LoginSession.expires_at > now,
            User.disabled.is_(False),
        )
    ).first()
    return None if row is None else (row[0], row[1])


def touch_session(session: Session, *, login_session: LoginSession, now: datetime) -> None:
    login_session.last_seen_at = now
    session.flush()


def revoke_session(session: Session, *, session_id: int, now: datetime | None = None) -> bool:
    """Revoke one session; False when it was already revoked or does not exist."""
    result = session.execute(
        update(LoginSession)
        .where(LoginSession.id == session_id, LoginSession.revoked_at.is_(None))
        .values(revoked_at=now or utcnow())
    )
    return bool(getattr(result, "rowcount", 0))


def revoke_user_sessions(session: Session, *, user_id: int, now: datetime | None = None) -> int:
    """Revoke every open session of a user; returns how many."""
    result = session.execute(
        update(LoginSession)
        .where(LoginSession.user_id == user_id, LoginSession.revoked_at.is_(None))
        .values(revoked_at=now or utcnow())
    )
    return int(getattr(result, "rowcount", 0))


def list_active_sessions(session: Session, *, user_id: int, now: datetime) -> list[LoginSession]:
    """The user's sessions that are neither revoked nor expired, oldest first."""
    return list(
        session.scalars(
            select(LoginSession)
            .where(
                LoginSession.user_id == user_id,
                LoginSession.revoked_at.is_(None),
                LoginSession.expires_at > now,
            )
            .order_by(LoginSession.id)
        )
    )


def revoke_user_session(
    session: Session, *, user_id: int, session_id: int, now: datetime | None = None
) -> bool:
    """Revoke one open session of this user; False when the user has no such open session."""
    result = session.execute(
        update(LoginSession)
        .where(
            LoginSession.id == session_id,
            LoginSession.user_id == user_id,
            LoginSession.revoked_at.is_(None),
        )
        .values(revoked_at=now or utcnow())
    )
    return bool(getattr(result, "rowcount", 0))
