"""HTML pages: login, logout and the signed-in home page.

Pages that change state (the login and logout forms) check their own CSRF defences: the login form checks
the Origin header, the logout form carries the session's CSRF token. Everything else that changes state
belongs in an ``/api`` route called from JavaScript with the ``X-CSRF-Token`` header.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from console.account import LoginOutcome, logout
from console.credential import is_valid_csrf
from console.deps import (
    SESSION_COOKIE,
    LanguageDep,
    OptionalUser,
    PageUser,
    SessionDep,
    StationDep,
)
from console.error import ApiError
from console.overview import REFRESH_S, reason_views
from console.page import render_page
from console.routes.auth import attempt_login, set_session_cookie

router = APIRouter(include_in_schema=False)


def safe_next(value: str | None) -> str:
    """Only same-site paths may be redirected to after sign-in."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    return value


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host", "")


@router.get("/login")
def get_login(
    request: Request, station: StationDep, user: OptionalUser, language: LanguageDep, next: str = "/"
) -> Response:
    if user is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return render_page(
        request, station, "login.html", language=language, user=None, context={"next": safe_next(next)}
    )


@router.post("/login")
def post_login_form(
    request: Request,
    station: StationDep,
    session: SessionDep,
    language: LanguageDep,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    if not _same_origin(request):
        raise ApiError(403, "cross_origin", "sign-in from another site refused")
    target = safe_next(next)
    translations = station.catalogs.get(language)
    if not username or not password:
        error, status, headers = translations.gettext("Enter your user name and password."), 400, {}
    else:
        result = attempt_login(request, station, session, username=username, password=password)
        if result.outcome is LoginOutcome.OK:
            response = RedirectResponse(target, status_code=303)
            set_session_cookie(response, station, result)
            return response
        if result.outcome is LoginOutcome.RATE_LIMITED:
            retry = result.retry_after_s or 60
            error = translations.gettext("Too many failed attempts. Try again in %(seconds)d s.") % {
                "seconds": retry
            }
            status, headers = 429, {"Retry-After": str(retry)}
        else:
            error, status, headers = translations.gettext("Wrong user name or password."), 401, {}
    return render_page(
        request,
        station,
        "login.html",
        language=language,
        user=None,
        context={"next": target, "error": error, "username": username},
        status_code=status,
        headers=headers,
    )


@router.post("/logout")
def post_logout_form(
    request: Request,
    user: PageUser,
    session: SessionDep,
    csrf_token: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    if not is_valid_csrf(request.cookies.get(SESSION_COOKIE, ""), csrf_token):
        raise ApiError(403, "csrf_failed", "the sign-out form expired; reload the page")
    if user.session_id is not None:
        logout(session, actor=user.actor(), session_id=user.session_id)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _overview_context(station: StationDep) -> dict[str, object]:
    # the page itself was just served from the database (the signed-in user), so it answers
    _, status = station.assess(database_ok=True)
    cameras = station.health.snapshot()
    return {
        "cameras": cameras,
        "station_status": status,
        "reasons": reason_views(status, cameras),
        "camera_names": {camera.id: camera.name for camera in cameras},
    }


@router.get("/")
def get_home(request: Request, station: StationDep, user: PageUser, language: LanguageDep) -> Response:
    return render_page(
        request,
        station,
        "home.html",
        language=language,
        user=user,
        context={**_overview_context(station), "active": "home", "refresh_s": REFRESH_S},
    )


@router.get("/overview/parts")
def get_overview_parts(
    request: Request, station: StationDep, user: PageUser, language: LanguageDep
) -> Response:
    """The overview's station status and camera tiles again, for the open page to swap in (overview.js)."""
    return render_page(
        request,
        station,
        "overview_parts.html",
        language=language,
        user=user,
        context=_overview_context(station),
    )
