"""API tokens for scripts: only the SHA-256 of the token is stored, with a short prefix to recognise it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from storage.model import ApiToken, User, utcnow


class ApiTokenNotFoundError(LookupError):
    """No such token for this user."""


def create_api_token(
    session: Session,
    *,
    user_id: int,
    name: str,
    prefix: str,
    token_hash: str,
    expires_at: datetime | None = None,
    now: datetime | None = None,
) -> ApiToken:
    clean = name.strip()
    if not clean or len(clean) > 64:
        raise ValueError("token name must be 1-64 characters")
    row = ApiToken(
        user_id=user_id,
        name=clean,
        prefix=prefix,
        token_hash=token_hash,
        created_at=now or utcnow(),
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    return row


def find_active_token(session: Session, *, token_hash: str, now: datetime) -> tuple[ApiToken, User] | None:
    """The token with this hash and its user, or None when unknown, revoked, expired or the user disabled."""
    row = session.execute(
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(
            ApiToken.token_hash == token_hash,
            ApiToken.revoked_at.is_(None),
            (ApiToken.expires_at.is_(None)) | (ApiToken.expires_at > now),
            User.disabled.is_(False),
        )
    ).first()
    return None if row is None else (row[0], row[1])


def list_api_tokens(session: Session, *, user_id: int) -> Sequence[ApiToken]:
    return (
        session.execute(select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id))
        .scalars()
        .all()
    )


def mark_token_used(session: Session, *, token: ApiToken, now: datetime) -> None:
    token.last_used_at = now
    session.flush()


def revoke_api_token(
    session: Session, *, user_id: int, token_id: int, now: datetime | None = None
) -> ApiToken:
    token = session.execute(
        select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user_id)
    ).scalar_one_or_none()
    if token is None:
        raise ApiTokenNotFoundError(f"no API token {token_id} for this user")
    if token.revoked_at is None:
        token.revoked_at = now or utcnow()
        session.flush()
    return token


def revoke_user_tokens(session: Session, *, user_id: int, now: datetime | None = None) -> int:
    result = session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now or utcnow())
    )
    return int(getattr(result, "rowcount", 0))
