"""Sign-in for scripts and the browser's JavaScript: ``/api/auth/login``, ``/logout``, ``/me``.

The HTML login form posts to ``/login`` (see :mod:`console.routes.page`); both go through
:func:`console.account.login`, so rate limiting and auditing are the same.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from console.account import LoginOutcome, LoginResult, login, logout
from console.credential import csrf_token_for
from console.deps import SESSION_COOKIE, AuthMethod, CurrentUser, SessionDep, StationDep, client_address
from console.error import ApiError
from console.routes.user import UserPublic
from console.station import Station
from storage.user import get_user_by_id

router = APIRouter(prefix="/api/auth", tags=["auth"])


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class SessionPublic(BaseModel):
    user: UserPublic
    auth: AuthMethod
    csrf_token: str | None = None
    expires_at: datetime | None = None


def attempt_login(
    request: Request, station: Station, session: Session, *, username: str, password: str
) -> LoginResult:
    result = login(
        session,
        username=username,
        password=password,
        source_ip=client_address(request),
        user_agent=request.headers.get("user-agent"),
        limiter=station.login_limiter,
        session_hours=station.settings.config.console.session_hours,
    )
    session.commit()  # the audit row of a failed attempt must survive the error response
    return result


def set_session_cookie(response: Response, station: Station, result: LoginResult) -> None:
    if result.session_token is None:
        raise ValueError("no session to set")
    response.set_cookie(
        SESSION_COOKIE,
        result.session_token,
        max_age=int(station.settings.config.console.session_hours * 3600),
        httponly=True,
        samesite="strict",
        secure=station.settings.config.console.secure_cookies,
        path="/",
    )


def login_error(result: LoginResult) -> ApiError:
    if result.outcome is LoginOutcome.RATE_LIMITED:
        retry = result.retry_after_s or 60
        return ApiError(
            429,
            "too_many_attempts",
            "too many failed sign-ins; try again in {seconds} s",
            params={"seconds": retry},
            headers={"Retry-After": str(retry)},
            extra={"retry_after_s": retry},
        )
    return ApiError(401, "invalid_credentials", "wrong user name or password, or the account is disabled")


@router.post("/login", summary="Sign in; sets the session cookie and returns the CSRF token")
def post_login(
    body: LoginRequest, request: Request, response: Response, station: StationDep, session: SessionDep
) -> SessionPublic:
    result = attempt_login(request, station, session, username=body.username, password=body.password)
    if result.outcome is not LoginOutcome.OK or result.user is None or result.session_token is None:
        raise login_error(result)
    set_session_cookie(response, station, result)
    return SessionPublic(
        user=UserPublic.of(result.user),
        auth=AuthMethod.SESSION,
        csrf_token=csrf_token_for(result.session_token),
        expires_at=result.expires_at,
    )


@router.post("/logout", status_code=204, summary="End this browser session")
def post_logout(user: CurrentUser, session: SessionDep, response: Response) -> None:
    if user.auth is not AuthMethod.SESSION or user.session_id is None:
        raise ApiError(400, "not_a_session", "API tokens are revoked with DELETE /api/tokens/{{id}}")
    logout(session, actor=user.actor(), session_id=user.session_id)
    response.delete_cookie(SESSION_COOKIE, path="/")


@router.get("/me", summary="Who am I: user, role, permissions and (for a browser session) the CSRF token")
def get_me(user: CurrentUser, session: SessionDep) -> SessionPublic:
    return SessionPublic(
        user=UserPublic.of(get_user_by_id(session, user_id=user.user_id)),
        auth=user.auth,
        csrf_token=user.csrf_token,
    )
