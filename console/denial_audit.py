"""Every 403 leaves an ``access.denied`` audit row, wherever it was raised.

:func:`console.deps.require` writes its own row (naming the missing permissions); every other refusal, a
page a role may not open, a segment fetched under another user's playback view, a failed CSRF check, a
cross-site sign-in, is recorded here, in the one handler every ``HTTPException`` passes through: the
refusal's ``code`` is the row's reason and the query string (a view id, say) goes into its detail. The
user is the one :func:`console.deps.get_optional_user` found (``request.state.principal``); anonymous
refusals are recorded per address and code at most once per :class:`console.audit_throttle.AuditThrottle`
interval.

The row is written in a worker thread with a session of its own: the request's session was rolled back
with the error.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from anyio import to_thread
from fastapi import Request
from fastapi.responses import Response
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException

from console.client_address import client_address
from console.error import ApiError
from console.station import Station
from storage.audit import append_audit

logger = logging.getLogger(__name__)

ErrorAnswer = Callable[[Request, Exception], Awaitable[Response]]
PRINCIPAL_STATE = "principal"  # request.state attribute holding the request's console.deps.Principal
AUDITED_STATE = "denial_audited"  # set when the refusal already has its row


def mark_denial_audited(request: Request) -> None:
    setattr(request.state, AUDITED_STATE, True)


def needs_denial_row(status_code: int, already_audited: bool) -> bool:
    """A 403 not yet on record (pure)."""
    return status_code == 403 and not already_audited


def denial_row(request: Request, exc: HTTPException, source: str) -> dict[str, Any]:
    """The ``append_audit`` arguments for a refused request (no user fields)."""
    code = exc.code if isinstance(exc, ApiError) else "forbidden"
    query = request.url.query
    return {
        "action": "access.denied",
        "allowed": False,
        "source": source,
        "resource_type": "route",
        "resource_id": f"{request.method} {request.url.path}"[:128],
        "reason": code,
        "detail": {"query": query[:256]} if query else None,
    }


def _write(station: Station, request: Request, exc: HTTPException) -> None:
    principal = getattr(request.state, PRINCIPAL_STATE, None)
    source = getattr(principal, "source", None) or client_address(request)
    row = denial_row(request, exc, source)
    if principal is None and not station.audit_throttle.should_audit(
        ("denied", source, str(row["reason"])), time.monotonic()
    ):
        return
    user = {"user_id": principal.user_id, "username": principal.username} if principal is not None else {}
    try:
        with station.database.session() as session:
            append_audit(session, **row, **user)
    except SQLAlchemyError:
        logger.exception("the refusal of %s could not be audited", row["resource_id"])


def audit_denials(answer: ErrorAnswer) -> ErrorAnswer:
    """Wrap the ``HTTPException`` handler so that a 403 is audited before it is answered."""

    async def handle(request: Request, exc: Exception) -> Response:
        station = getattr(request.app.state, "station", None)
        if (
            isinstance(exc, HTTPException)
            and isinstance(station, Station)
            and needs_denial_row(exc.status_code, bool(getattr(request.state, AUDITED_STATE, False)))
        ):
            await to_thread.run_sync(_write, station, request, exc)
        return await answer(request, exc)

    return handle
