"""Typed FastAPI dependencies. Use the ``Annotated`` aliases in route signatures::

    @router.get("/api/things")
    def list_things(session: SessionDep, user: CurrentUser) -> list[ThingPublic]: ...

    @router.post("/api/cameras", dependencies=[require(Permission.CAMERAS_MANAGE)])
    def add_camera(...): ...

    # or, to get the checked user as a value:
    def export(user: Annotated[Principal, require(Permission.EXPORTS_CREATE)]): ...

Authentication: ``Authorization: Bearer <api token>`` or the ``station_session`` cookie. A request
authenticated by cookie that changes state (any method but GET/HEAD/OPTIONS) must carry the session's CSRF
token in the ``X-CSRF-Token`` header (pages get it from ``<meta name="csrf-token">``). Bearer requests are
exempt: a browser never sends them on its own. A browser session unused for ``console.idle_timeout_minutes``
ends (``auth.idle_timeout``); a refused bearer token is audited (``auth.token``, throttled per address and
token); the client's address honours ``console.trusted_proxies`` (:mod:`console.client_address`). While the
database does not answer, a request with a credential gets 503 ``database_unavailable`` (it cannot be
checked), not a 500; an anonymous one goes on.

All dependencies here are sync and touch the database, so FastAPI runs them in its thread pool; routes that
use ``SessionDep`` should be plain ``def`` too.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from console.account import Actor
from console.client_address import client_address as client_address  # re-exported for routes
from console.credential import csrf_token_for, is_valid_csrf, token_hash
from console.denial_audit import PRINCIPAL_STATE, mark_denial_audited
from console.error import ApiError, LoginRequiredError
from console.i18n import Message, request_language
from console.permission import Permission, permissions_for
from console.station import Station
from storage.api_token import find_active_token, mark_token_used, token_refusal
from storage.audit import append_audit
from storage.login_session import find_active_session, revoke_session, touch_session
from storage.model import AuditEntry, Role, User, utcnow

SESSION_COOKIE = "station_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
TOUCH_EVERY = timedelta(minutes=1)  # how often last_seen_at / last_used_at are written
_CHALLENGE = {"WWW-Authenticate": "Bearer"}

# Message ids of the role names (translated in the catalogs like template strings).
ROLE_LABELS: Mapping[str, str] = {
    Role.OFFICER.value: "Officer",
    Role.INVESTIGATOR.value: "Investigator",
    Role.SUPERVISOR.value: "Supervisor",
    Role.ADMIN.value: "Administrator",
    Role.AUDITOR.value: "Auditor",
}


def role_name(role: Role | str) -> Message:
    """The translatable name of a role (a message parameter: ``params={"role": role_name(user.role)}``)."""
    value = role.value if isinstance(role, Role) else str(role)
    return Message(ROLE_LABELS.get(value, value))


class AuthMethod(StrEnum):
    SESSION = "session"
    TOKEN = "token"  # noqa: S105 - an auth method name


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated user of one request (a snapshot, safe to pass around)."""

    user_id: int
    username: str
    display_name: str | None
    role: Role
    permissions: frozenset[Permission]
    auth: AuthMethod
    source: str
    session_id: int | None = None
    token_id: int | None = None
    csrf_token: str | None = None

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions

    @property
    def label(self) -> str:
        return self.display_name or self.username

    def actor(self) -> Actor:
        return Actor(source=self.source, user_id=self.user_id, username=self.username)


def get_station(request: Request) -> Station:
    station = getattr(request.app.state, "station", None)
    if not isinstance(station, Station):
        raise ApiError(503, "starting", "the station is not running yet")
    return station


StationDep = Annotated[Station, Depends(get_station)]


def get_db_session(station: StationDep) -> Iterator[Session]:
    """One session per request; commits when the route returns, rolls back when it raises. Used with
    ``scope="function"`` (``SessionDep``): the commit happens before the answer is sent, so a client told
    "done" finds it done, and a failed commit is an error answer (FastAPI's default runs it afterwards)."""
    with station.database.session() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_db_session, scope="function")]


def _principal(user: User, request: Request, **kwargs: Any) -> Principal:
    role = Role(user.role)
    return Principal(
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=role,
        permissions=permissions_for(role),
        source=client_address(request),
        **kwargs,
    )


def audit_refused_token(session: Session, station: Station, request: Request, secret: str) -> None:
    """Record a refused bearer token (unknown, revoked, expired, user disabled) and commit: the 401 that
    follows rolls the request's session back. A script retrying with it is recorded once per address,
    token and interval (:class:`console.audit_throttle.AuditThrottle`)."""
    digest = token_hash(secret)
    source = client_address(request)
    if not station.audit_throttle.should_audit(("token", source, digest), time.monotonic()):
        return
    reason, token = token_refusal(session, token_hash=digest, now=utcnow())
    append_audit(
        session,
        action="auth.token",
        allowed=False,
        user_id=token.user_id if token is not None else None,
        source=source,
        resource_type="api_token",
        resource_id=str(token.id) if token is not None else None,
        reason=reason,
        detail={
            "route": f"{request.method} {request.url.path}"[:128],
            **({"prefix": token.prefix} if token is not None else {}),  # never a part of an unknown secret
        },
    )
    session.commit()


def _token_user(request: Request, session: Session, station: Station, authorization: str) -> Principal:
    now = utcnow()
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise ApiError(401, "invalid_token", "expected 'Authorization: Bearer <token>'", headers=_CHALLENGE)
    found_token = find_active_token(session, token_hash=token_hash(value.strip()), now=now)
    if found_token is None:
        audit_refused_token(session, station, request, value.strip())
        raise ApiError(401, "invalid_token", "API token is unknown, revoked or expired", headers=_CHALLENGE)
    token, user = found_token
    if token.last_used_at is None or now - token.last_used_at > TOUCH_EVERY:
        mark_token_used(session, token=token, now=now)
        session.commit()  # see _session_user
    return _principal(user, request, auth=AuthMethod.TOKEN, token_id=token.id)


def is_idle(last_seen_at: datetime, now: datetime, idle_minutes: int) -> bool:
    """True when a session unused since ``last_seen_at`` has passed its idle timeout (0: none; pure).
    ``last_seen_at`` is written at most every ``TOUCH_EVERY``, so the timeout is exact to that much."""
    return idle_minutes > 0 and now - last_seen_at > timedelta(minutes=idle_minutes)


def _session_user(request: Request, session: Session, station: Station, cookie: str) -> Principal | None:
    now = utcnow()
    found_session = find_active_session(session, token_hash=token_hash(cookie), now=now)
    if found_session is None:
        return None
    login_session, user = found_session
    idle_minutes = station.settings.config.console.idle_timeout_minutes
    if is_idle(login_session.last_seen_at, now, idle_minutes):
        revoke_session(session, session_id=login_session.id, now=now)
        append_audit(
            session,
            action="auth.idle_timeout",
            allowed=True,
            user_id=user.id,
            username=user.username,
            source=client_address(request),
            resource_type="session",
            resource_id=str(login_session.id),
            detail={"idle_minutes": idle_minutes},
        )
        session.commit()
        return None
    if now - login_session.last_seen_at > TOUCH_EVERY:
        touch_session(session, login_session=login_session, now=now)
        # commit now: a pending write would hold SQLite's write lock for the whole request, and a route
        # that writes through sessions of its own (an export job) would wait on it until the busy timeout
        session.commit()
    return _principal(
        user,
        request,
        auth=AuthMethod.SESSION,
        session_id=login_session.id,
        csrf_token=csrf_token_for(cookie),
    )


def get_optional_user(request: Request, session: SessionDep, station: StationDep) -> Principal | None:
    """The authenticated user, or None for an anonymous request. A bad bearer token is an error; a
    session idle past ``console.idle_timeout_minutes`` ends. The user is kept in ``request.state`` for
    :mod:`console.denial_audit`."""
    authorization = request.headers.get("authorization")
    try:
        if authorization:
            principal: Principal | None = _token_user(request, session, station, authorization)
        else:
            cookie = request.cookies.get(SESSION_COOKIE)
            principal = _session_user(request, session, station, cookie) if cookie else None
    except (OperationalError, InterfaceError) as exc:  # database down: the credential cannot be checked
        raise ApiError(
            503,
            "database_unavailable",
            "the database does not answer; try again in a few seconds",
            cause=type(exc).__name__,
            headers={"Retry-After": "5"},
        ) from exc
    setattr(request.state, PRINCIPAL_STATE, principal)
    return principal


OptionalUser = Annotated[Principal | None, Depends(get_optional_user)]


def get_current_user(request: Request, user: OptionalUser) -> Principal:
    """An authenticated user (401 otherwise); cookie requests that change state must pass CSRF."""
    if user is None:
        raise ApiError(401, "not_authenticated", "sign in or send an API token", headers=_CHALLENGE)
    if user.auth is AuthMethod.SESSION and request.method not in SAFE_METHODS:
        cookie = request.cookies.get(SESSION_COOKIE, "")
        if not is_valid_csrf(cookie, request.headers.get(CSRF_HEADER)):
            raise ApiError(
                403,
                "csrf_failed",
                "missing or wrong {header} header for this session",
                params={"header": CSRF_HEADER},
            )
    return user


CurrentUser = Annotated[Principal, Depends(get_current_user)]


def get_page_user(request: Request, user: OptionalUser) -> Principal:
    """For HTML pages: an anonymous browser is redirected to the login page."""
    if user is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequiredError(target)
    return user


PageUser = Annotated[Principal, Depends(get_page_user)]


def audit_as(
    session: Session,
    principal: Principal,
    *,
    action: str,
    resource_type: str,
    resource_id: str,
    allowed: bool = True,
    reason: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Append an audit row for an action of ``principal`` (its user id, name and address filled in)."""
    return append_audit(
        session,
        action=action,
        allowed=allowed,
        user_id=principal.user_id,
        username=principal.username,
        source=principal.source,
        resource_type=resource_type,
        resource_id=resource_id,
        reason=reason,
        detail=detail,
    )


def audit_route_denied(session: Session, request: Request, user: Principal, reason: str) -> None:
    """Write the ``access.denied`` row for a refused request and commit it: the 403 that follows rolls the
    request's session back, and the refusal must stay on record."""
    audit_as(
        session,
        user,
        action="access.denied",
        allowed=False,
        resource_type="route",
        resource_id=f"{request.method} {request.url.path}"[:128],
        reason=reason,
    )
    session.commit()
    mark_denial_audited(request)


def require(*permissions: Permission) -> Any:
    """A dependency that lets the request through only when the user holds every permission.

    Refusals are audited (``access.denied``) and answered with 403 ``forbidden``.
    """
    wanted = frozenset(permissions)

    def check(request: Request, user: CurrentUser, session: SessionDep) -> Principal:
        missing = sorted(wanted - user.permissions)
        if missing:
            audit_route_denied(session, request, user, "missing permission: " + ", ".join(missing))
            raise ApiError(
                403,
                "forbidden",
                "the {role} role may not do this (needs {permissions})",
                params={"role": role_name(user.role), "permissions": ", ".join(missing)},
                extra={"missing": missing},
            )
        return user

    return Depends(check)


def get_language(request: Request, station: StationDep) -> str:
    return request_language(request, default=station.settings.config.console.language)


LanguageDep = Annotated[str, Depends(get_language)]
