"""API tokens for scripts: only the SHA-256 of the token is stored, with a short prefix to recognise it.

A token is revoked by marking it (``revoked_at`` and why, ``revoked_reason``), never by hiding it: a revoked
token stays revoked whatever happens to its user later, re-enabling included. How long a new token lives is
the console's policy (:mod:`console.account`); a token without ``expires_at`` (made before migration 0002)
does not expire.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from storage.model import ApiToken, User, utcnow


class TokenRevokeReason(StrEnum):
    REVOKED = "revoked"  # by its owner or an admin, one token or all of a user's
    PASSWORD_RESET = "password_reset"  # noqa: S105 - a reason: the password was set anew
    USER_DISABLED = "user_disabled"  # the user was disabled


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


def token_refusal(session: Session, *, token_hash: str, now: datetime) -> tuple[str, ApiToken | None]:
    """Why a token that :func:`find_active_token` refused is refused, with its row when it exists:
    ``unknown``, ``revoked``, ``expired`` or ``user_disabled`` (for the audit log)."""
    row = session.execute(
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == token_hash)
    ).first()
    if row is None:
        return "unknown", None
    token, user = row[0], row[1]
    if token.revoked_at is not None:
        return "revoked", token
    if token.expires_at is not None and token.expires_at <= now:
        return "expired", token
    if user.disabled:
        return "user_disabled", token
    return "unknown", token


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
    session: Session,
    *,
    user_id: int,
    token_id: int,
    reason: TokenRevokeReason = TokenRevokeReason.REVOKED,
    now: datetime | None = None,
) -> ApiToken:
    """Revoke one token of a user (a token already revoked keeps its first time and reason)."""
    token = session.execute(
        select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user_id)
    ).scalar_one_or_none()
    if token is None:
        raise ApiTokenNotFoundError(f"no API token {token_id} for this user")
    if token.revoked_at is None:
        token.revoked_at = now or utcnow()
        token.revoked_reason = reason.value
        session.flush()
    return token


def revoke_user_tokens(
    session: Session,
    *,
    user_id: int,
    reason: TokenRevokeReason = TokenRevokeReason.REVOKED,
    now: datetime | None = None,
) -> int:
    """Revoke every token of a user not revoked yet, expired ones included; returns how many."""
    result = session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now or utcnow(), revoked_reason=reason.value)
    )
    return int(getattr(result, "rowcount", 0))
