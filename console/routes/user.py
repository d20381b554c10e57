"""User administration (``users.manage``): list, create, change role / name / disabled, reset password, and
list or revoke any user's API tokens and open browser sessions.

A password reset and a disable end every session and revoke every API token of the user
(:mod:`console.account`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from console.account import (
    add_user,
    change_disabled,
    change_password,
    change_role,
    rename_user,
    withdraw_all_tokens,
    withdraw_api_token,
    withdraw_session,
)
from console.deps import Principal, SessionDep, require
from console.error import ApiError
from console.i18n import Message
from console.password import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    WeakPasswordError,
    is_common_password,
)
from console.permission import Permission, permissions_for
from console.request_types import DbId
from console.routes.token import TokenPublic
from storage.api_token import ApiTokenNotFoundError, list_api_tokens
from storage.login_session import list_active_sessions
from storage.model import LoginSession, Role, User, utcnow
from storage.user import UserExistsError, get_user_by_id, list_users

router = APIRouter(prefix="/api/users", tags=["users"])
UserAdmin = Annotated[Principal, require(Permission.USERS_MANAGE)]


class UserPublic(BaseModel):
    id: int
    username: str
    display_name: str | None
    role: Role
    permissions: list[str]
    disabled: bool
    created_at: datetime
    last_login_at: datetime | None

    @classmethod
    def of(cls, user: User) -> UserPublic:
        return cls(
            id=user.id,
            username=user.username,
            display_name=user.display_name,
            role=Role(user.role),
            permissions=sorted(permissions_for(user.role)),
            disabled=user.disabled,
            created_at=user.created_at,
            last_login_at=user.last_login_at,
        )


class UserCreate(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    role: Role
    password: str = Field(min_length=1, max_length=256)
    display_name: str | None = Field(default=None, max_length=120)


class UserUpdate(BaseModel):
    role: Role | None = None
    disabled: bool | None = None
    display_name: str | None = Field(default=None, max_length=120)


class PasswordSet(BaseModel):
    password: str = Field(min_length=1, max_length=256)


class SessionPublic(BaseModel):
    """An open browser session (neither revoked nor expired); the cookie itself is never shown."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    created_at: datetime
    expires_at: datetime
    last_seen_at: datetime
    source_ip: str | None
    user_agent: str | None

    @classmethod
    def of(cls, row: LoginSession) -> SessionPublic:
        return cls.model_validate(row)


class TokensRevoked(BaseModel):
    revoked: int = Field(description="how many tokens were revoked (those revoked before are not counted)")


def password_problem(password: str, *, username: str | None) -> Message:
    """The translatable text of the rule of :func:`console.password.check_password_policy` that a refused
    password breaks (same rules, same order)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return Message("the password is too short: at least {count} characters", count=MIN_PASSWORD_LENGTH)
    if len(password) > MAX_PASSWORD_LENGTH:
        return Message("the password is too long: at most {count} characters", count=MAX_PASSWORD_LENGTH)
    if not password.strip():
        return Message("the password must not be blank")
    if username and password.strip().lower() == username.strip().lower():
        return Message("the password must differ from the user name")
    if is_common_password(password):
        return Message("the password is too common: choose one that is not on the list of common passwords")
    return Message("the password does not meet the password policy")


def _user(session: SessionDep, user_id: int) -> User:
    return get_user_by_id(session, user_id=user_id)


@router.get("", summary="List users")
def get_users(session: SessionDep, _admin: UserAdmin) -> list[UserPublic]:
    return [UserPublic.of(user) for user in list_users(session)]


@router.post("", status_code=201, summary="Create a user")
def post_user(body: UserCreate, session: SessionDep, admin: UserAdmin) -> UserPublic:
    try:
        user = add_user(
            session,
            actor=admin.actor(),
            username=body.username,
            role=body.role,
            password=body.password,
            display_name=body.display_name,
        )
    except UserExistsError as exc:
        raise ApiError(
            409, "user_exists", "user {username} already exists", params={"username": body.username.strip()}
        ) from exc
    except WeakPasswordError as exc:
        message = password_problem(body.password, username=body.username)
        raise ApiError(422, "invalid_user", message, cause=str(exc)) from exc
    except ValueError as exc:  # the user name breaks the rule (storage.user.parse_username)
        raise ApiError(
            422,
            "invalid_user",
            "invalid user name: use 1-64 latin letters, digits, '.', '_' or '-', "
            "starting with a letter or digit",
            cause=str(exc),
        ) from exc
    return UserPublic.of(user)


@router.patch("/{user_id}", summary="Change role, display name or disabled")
def patch_user(user_id: DbId, body: UserUpdate, session: SessionDep, admin: UserAdmin) -> UserPublic:
    user = _user(session, user_id)
    if user.id == admin.user_id and (body.disabled or (body.role is not None and body.role != Role.ADMIN)):
        raise ApiError(409, "self_lockout", "you cannot disable yourself or drop your own admin role")
    if body.display_name is not None:
        rename_user(session, actor=admin.actor(), user=user, display_name=body.display_name)
    if body.role is not None and body.role.value != user.role:
        change_role(session, actor=admin.actor(), user=user, role=body.role)
    if body.disabled is not None and body.disabled != user.disabled:
        change_disabled(session, actor=admin.actor(), user=user, disabled=body.disabled)
    return UserPublic.of(user)


@router.put(
    "/{user_id}/password",
    status_code=204,
    summary="Set a user's password (ends their sessions, revokes their API tokens)",
)
def put_password(user_id: DbId, body: PasswordSet, session: SessionDep, admin: UserAdmin) -> None:
    user = _user(session, user_id)
    try:
        change_password(session, actor=admin.actor(), user=user, password=body.password)
    except WeakPasswordError as exc:
        message = password_problem(body.password, username=user.username)
        raise ApiError(422, "weak_password", message, cause=str(exc)) from exc


@router.get("/{user_id}/tokens", summary="List a user's API tokens (revoked and expired ones included)")
def get_user_tokens(user_id: DbId, session: SessionDep, _admin: UserAdmin) -> list[TokenPublic]:
    user = _user(session, user_id)
    return [TokenPublic.of(row) for row in list_api_tokens(session, user_id=user.id)]


@router.delete("/{user_id}/tokens/{token_id}", status_code=204, summary="Revoke one API token of a user")
def delete_user_token(user_id: DbId, token_id: DbId, session: SessionDep, admin: UserAdmin) -> None:
    user = _user(session, user_id)
    try:
        withdraw_api_token(session, actor=admin.actor(), user=user, token_id=token_id)
    except ApiTokenNotFoundError as exc:
        raise ApiError(
            404,
            "token_not_found",
            "user {user_id} has no API token {token_id}",
            params={"user_id": user_id, "token_id": token_id},
        ) from exc


@router.delete("/{user_id}/tokens", summary="Revoke every API token of a user")
def delete_user_tokens(user_id: DbId, session: SessionDep, admin: UserAdmin) -> TokensRevoked:
    user = _user(session, user_id)
    revoked = withdraw_all_tokens(session, actor=admin.actor(), user=user)
    return TokensRevoked(revoked=revoked)


@router.get("/{user_id}/sessions", summary="List a user's open browser sessions")
def get_user_sessions(user_id: DbId, session: SessionDep, _admin: UserAdmin) -> list[SessionPublic]:
    user = _user(session, user_id)
    return [SessionPublic.of(row) for row in list_active_sessions(session, user_id=user.id, now=utcnow())]


@router.delete(
    "/{user_id}/sessions/{session_id}", status_code=204, summary="End one browser session of a user"
)
def delete_user_session(user_id: DbId, session_id: DbId, session: SessionDep, admin: UserAdmin) -> None:
    user = _user(session, user_id)
    if not withdraw_session(session, actor=admin.actor(), user=user, session_id=session_id):
        raise ApiError(
            404,
            "session_not_found",
            "user {user_id} has no open session {session_id}",
            params={"user_id": user_id, "session_id": session_id},
        )
