"""API tokens of the signed-in user: list, create (the token is shown once), revoke."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter
from pydantic import BaseModel, Field

from console.account import issue_api_token, withdraw_api_token
from console.deps import CurrentUser, SessionDep
from console.error import ApiError
from storage.api_token import ApiTokenNotFoundError, list_api_tokens
from storage.model import ApiToken, utcnow
from storage.user import get_user_by_id

router = APIRouter(prefix="/api/tokens", tags=["tokens"])


class TokenPublic(BaseModel):
    id: int
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    @classmethod
    def of(cls, row: ApiToken) -> TokenPublic:
        return cls(
            id=row.id,
            name=row.name,
            prefix=row.prefix,
            created_at=row.created_at,
            expires_at=row.expires_at,
            revoked_at=row.revoked_at,
            last_used_at=row.last_used_at,
        )


class TokenCreate(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    expires_days: int | None = Field(default=None, ge=1, le=3650)


class TokenCreated(TokenPublic):
    token: str = Field(description="The secret; shown only in this response")


@router.get("", summary="List my API tokens")
def get_tokens(user: CurrentUser, session: SessionDep) -> list[TokenPublic]:
    return [TokenPublic.of(row) for row in list_api_tokens(session, user_id=user.user_id)]


@router.post("", status_code=201, summary="Create an API token (the secret is returned once)")
def post_token(body: TokenCreate, user: CurrentUser, session: SessionDep) -> TokenCreated:
    expires_at = utcnow() + timedelta(days=body.expires_days) if body.expires_days else None
    owner = get_user_by_id(session, user_id=user.user_id)
    row, secret = issue_api_token(
        session, actor=user.actor(), user=owner, name=body.name, expires_at=expires_at
    )
    return TokenCreated(**TokenPublic.of(row).model_dump(), token=secret)


@router.delete("/{token_id}", status_code=204, summary="Revoke one of my API tokens")
def delete_token(token_id: int, user: CurrentUser, session: SessionDep) -> None:
    owner = get_user_by_id(session, user_id=user.user_id)
    try:
        withdraw_api_token(session, actor=user.actor(), user=owner, token_id=token_id)
    except ApiTokenNotFoundError as exc:
        raise ApiError(
            404, "token_not_found", "you have no API token {token_id}", params={"token_id": token_id}
        ) from exc
