"""Request-body caps, enforced while the body streams in: an oversized request gets 413, never buffered.

:class:`BodyLimitMiddleware` is plain ASGI and sits outside the routes, so it answers before any route,
dependency or sign-in check runs:

- a ``Content-Length`` over the cap is answered at once, and the body is never read (a client sending
  ``Expect: 100-continue`` does not even get to send it);
- without one (chunked), the bytes are counted as the app pulls them, and the read that crosses the cap
  raises :class:`BodyTooLargeError` (an :class:`console.error.ApiError`, so the route's body parsing passes it
  on to the error handlers and the answer has the one error shape, in the request's language).

Caps (:class:`BodyLimits`): JSON and form bodies get :data:`DEFAULT_BODY_BYTES`; upload routes are listed by
path with their own, larger cap (``console.max_upload_mb``), built in :func:`console.app.create_app`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Final

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.types import Message as AsgiMessage

from console.error import ApiError
from console.i18n import Message

logger = logging.getLogger(__name__)

KIB: Final = 1024
MIB: Final = 1024 * KIB
# JSON and form bodies. The largest legitimate one is a WebRTC offer (SDP up to 64 Ki characters, a little
# more once JSON-escaped); everything else is a few KiB at most.
DEFAULT_BODY_BYTES: Final = 128 * KIB
# Room for the multipart framing and small form fields around an uploaded file.
FORM_OVERHEAD_BYTES: Final = 64 * KIB

ErrorAnswer = Callable[[Request, Exception], Awaitable[Response]]


class BodyTooLargeError(ApiError):
    """The request body is over its cap (413, code ``too_large``); ``limit_bytes`` is in the answer too."""

    def __init__(self, limit_bytes: int) -> None:
        super().__init__(
            413,
            "too_large",
            Message(
                "the request is larger than {limit}, the most this address accepts",
                limit=format_size(limit_bytes),
            ),
            extra={"limit_bytes": limit_bytes},
        )
        self.limit_bytes = limit_bytes


def format_size(size_bytes: int) -> str:
    """``131072`` -> ``128 KiB``; ``4294967296`` -> ``4096 MiB`` (whole units, rounded down)."""
    if size_bytes >= MIB:
        return f"{size_bytes // MIB} MiB"
    if size_bytes >= KIB:
        return f"{size_bytes // KIB} KiB"
    return f"{size_bytes} bytes"


def upload_limit_bytes(max_upload_mb: int) -> int:
    """The body cap of an upload route: the file (``console.max_upload_mb``) plus its form around it."""
    return max_upload_mb * MIB + FORM_OVERHEAD_BYTES


@dataclass(frozen=True)
class BodyLimits:
    """``default_bytes`` for every request; ``by_path``: exact request paths with a cap of their own."""

    default_bytes: int = DEFAULT_BODY_BYTES
    by_path: Mapping[str, int] = field(default_factory=dict)

    def bytes_for(self, path: str) -> int:
        return self.by_path.get(path, self.default_bytes)


def declared_length(scope: Scope) -> int | None:
    """The request's ``Content-Length``; None when absent or unreadable (then the bytes are counted)."""
    value = Headers(scope=scope).get("content-length")
    if value is None or not value.isdigit():
        return None
    return int(value)


def _log_refusal(scope: Scope, size: str, limit_bytes: int) -> None:
    client = scope.get("client") or ("?", 0)
    logger.info(
        "413 for %s %s from %s: body of %s bytes, limit %d",
        scope.get("method"),
        scope.get("path"),
        client[0],
        size,
        limit_bytes,
    )


class _CountedBody:
    """The ``receive`` the app gets: passes messages on, counting body bytes, and raises past the cap."""

    def __init__(self, scope: Scope, receive: Receive, limit_bytes: int) -> None:
        self._scope = scope
        self._receive = receive
        self.limit_bytes = limit_bytes
        self.received_bytes = 0

    async def receive(self) -> AsgiMessage:
        message = await self._receive()
        if message["type"] == "http.request":
            self.received_bytes += len(message.get("body", b""))
            if self.received_bytes > self.limit_bytes:
                _log_refusal(self._scope, f"over {self.received_bytes}", self.limit_bytes)
                raise BodyTooLargeError(self.limit_bytes)
        return message


class BodyLimitMiddleware:
    """Cap request bodies (see the module docstring); ``answer`` renders the 413 like every other error."""

    def __init__(self, app: ASGIApp, *, limits: BodyLimits, answer: ErrorAnswer) -> None:
        self.app = app
        self.limits = limits
        self.answer = answer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit_bytes = self.limits.bytes_for(scope["path"])
        declared = declared_length(scope)
        if declared is not None and declared > limit_bytes:
            _log_refusal(scope, str(declared), limit_bytes)
            await self._answer(scope, receive, send, BodyTooLargeError(limit_bytes))
            return
        body = _CountedBody(scope, receive, limit_bytes)
        response_started = False

        async def tracked_send(message: AsgiMessage) -> None:
            nonlocal response_started
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, body.receive, tracked_send)
        except BodyTooLargeError as exc:  # raised where no error handler was around to answer it
            if response_started:
                raise
            await self._answer(scope, receive, send, exc)

    async def _answer(self, scope: Scope, receive: Receive, send: Send, exc: BodyTooLargeError) -> None:
        response = await self.answer(Request(scope, receive), exc)
        await response(scope, receive, send)
