"""Refuse NUL characters in every text a request carries, before any route runs (issue 26, finding 9).

PostgreSQL cannot store a NUL in text (psycopg refuses such a string outright), so a NUL that reaches a
query is a 500 with a traceback; SQLite stores it, and the same input then breaks the PostgreSQL station.
:class:`NulGuardMiddleware` is plain ASGI and answers 422 ``nul_character`` for a NUL in:

- the path or the query string (``%00`` or a raw byte), answered at once;
- a JSON body (the escape ``\\u0000``) or a form body (``%00``), checked as the app pulls the body: the read
  that completes it raises :class:`NulCharacterError` (an :class:`console.error.ApiError`), which the route's
  body parsing passes on to the error handlers, like :mod:`console.body_limit` does for its 413.

Multipart bodies (uploads) are binary and are not searched; their text fields are checked by the route.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Final

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.types import Message as AsgiMessage

from console.error import ApiError
from console.i18n import Message

# A JSON string escape \u0000: a backslash that is not itself escaped (an even run of backslashes before it).
_JSON_NUL: Final = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
_URL_NUL: Final = re.compile(rb"%00|\x00")

ErrorAnswer = Callable[[Request, Exception], Awaitable[Response]]


class NulCharacterError(ApiError, ValueError):
    """A request carries a NUL character in its text (422, code ``nul_character``)."""

    def __init__(self) -> None:
        super().__init__(
            422, "nul_character", Message("the request contains a NUL character, which text may not hold")
        )


def body_pattern(content_type: str | None) -> re.Pattern[bytes] | None:
    """How a NUL looks in a body of ``content_type``; None for bodies that are not searched (binary)."""
    kind = (content_type or "").split(";", 1)[0].strip().lower()
    if kind == "" or kind == "application/json" or kind.endswith("+json"):
        return _JSON_NUL  # FastAPI reads a body without a content type as JSON
    if kind == "application/x-www-form-urlencoded":
        return _URL_NUL
    return None


def is_nul_in_url(scope: Scope) -> bool:
    query: bytes = scope.get("query_string", b"")
    return "\x00" in scope["path"] or _URL_NUL.search(query) is not None


class _CheckedBody:
    """The ``receive`` the app gets: keeps the body it passes on and searches it once it is complete."""

    def __init__(self, receive: Receive, pattern: re.Pattern[bytes]) -> None:
        self._receive = receive
        self._pattern = pattern
        self._chunks: list[bytes] = []

    async def receive(self) -> AsgiMessage:
        message = await self._receive()
        if message["type"] == "http.request":
            self._chunks.append(message.get("body", b""))
            if not message.get("more_body", False) and self._pattern.search(b"".join(self._chunks)):
                raise NulCharacterError
        return message


class NulGuardMiddleware:
    """Refuse NUL characters in request text (see the module docstring); ``answer`` renders the 422."""

    def __init__(self, app: ASGIApp, *, answer: ErrorAnswer) -> None:
        self.app = app
        self.answer = answer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if is_nul_in_url(scope):
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1007})
                return
            response = await self.answer(Request(scope, receive), NulCharacterError())
            await response(scope, receive, send)
            return
        pattern = body_pattern(Headers(scope=scope).get("content-type")) if scope["type"] == "http" else None
        if pattern is None:
            await self.app(scope, receive, send)
            return
        await self.app(scope, _CheckedBody(receive, pattern).receive, send)
