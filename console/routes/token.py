"""API tokens of the signed-in user: list, create (the token is shown once), revoke.

A token lives ``expires_days`` (default :data:`console.account.DEFAULT_TOKEN_DAYS`, at most
:data:`console.account.MAX_TOKEN_DAYS`). Admins list and revoke any user's tokens under
``/api/users/{id}/tokens`` (:mod:`console.routes.user`).
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from console.account import DEFAULT_TOKEN_DAYS, MAX_TOKEN_DAYS, issue_api_token, withdraw_api_token
from console.deps import CurrentUser, SessionDep
from console.error import ApiError
from console.request_types import DbId
from storage.api_token import ApiTokenNotFoundError, TokenRevokeReason, list_api_tokens
from storage.model import ApiToken
from storage.user import get_user_by_id

router = APIRouter(prefix="/api/tokens", tags=["tokens"])


class TokenPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None = Field(description="None only for tokens made before tokens expired")
    revoked_at: datetime | None
    revoked_reason: TokenRevokeReason | None
    last_used_at: datetime | None

    @classmethod
    def of(cls, row: ApiToken) -> TokenPublic:
        return cls.model_validate(row)


class TokenCreate(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    expires_days: int = Field(
        default=DEFAULT_TOKEN_DAYS,
        ge=1,
        le=MAX_TOKEN_DAYS,
        description=f"days the token lives (default {DEFAULT_TOKEN_DAYS}, at most {MAX_TOKEN_DAYS})",
    )


class TokenCreated(TokenPublic):
    token: str = Field(description="The secret; shown only in this response")


@router.get("", summary="List my API tokens")
def get_tokens(user: CurrentUser, session: SessionDep) -> list[TokenPublic]:
    return [TokenPublic.of(row) for row in list_api_tokens(session, user_id=user.user_id)]


@router.post("", status_code=201, summary="Create an API token (the secret is returned once)")
def post_token(body: TokenCreate, user: CurrentUser, session: SessionDep) -> TokenCreated:
    owner = get_user_by_id(session, user_id=user.user_id)
    try:
        row, secret = issue_api_token(
            session, actor=user.actor(), user=owner, name=body.name, expires_days=body.expires_days
        )
    except ValueError as exc:  # a blank name (storage.api_token.create_api_token)
        raise ApiError(
            422, "invalid_token_name", "a token name must be 1-64 characters", cause=str(exc)
        ) from exc
    return TokenCreated(**TokenPublic.of(row).model_dump(), token=secret)


@router.delete("/{token_id}", status_code=204, summary="Revoke one of my API tokens")
def delete_token(token_id: DbId, user: CurrentUser, session: SessionDep) -> None:
    owner = get_user_by_id(session, user_id=user.user_id)
    try:
        withdraw_api_token(session, actor=user.actor(), user=owner, token_id=token_id)
    except ApiTokenNotFoundError as exc:
        raise ApiError(
            404, "token_not_found", "you have no API token {token_id}", params={"token_id": token_id}
        ) from exc
