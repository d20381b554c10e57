"""Security headers on every response: a strict Content-Security-Policy, no framing, no sniffing, no
referrer outside the console, optional HSTS, and ``Cache-Control: no-store`` for what is personal data.

The policy allows only the console's own origin: no inline script or style (the pages keep their scripts in
``/static/js`` and their JSON data in ``<script type="application/json">``, which is not executed), no
``eval``. ``blob:`` is allowed for media (recorded playback feeds ``<video>`` through Media Source
Extensions) and images; live WebRTC video needs no source (``srcObject``), and ``connect-src 'self'`` covers
``fetch``, the offer and the event stream (SSE).

``no-store``: every answer except static files and responses that set their own ``Cache-Control`` (media
routes choose theirs) holds names, complaints, audit rows or tokens, and must not stay in a shared browser
cache or a proxy. :class:`SecurityHeadersMiddleware` is plain ASGI and adds the headers a response lacks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.types import Message as AsgiMessage

CONTENT_SECURITY_POLICY: Final = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
STATIC_PREFIX: Final = "/static/"


def security_headers(path: str, *, has_cache_control: bool, hsts_seconds: int) -> list[tuple[str, str]]:
    """The headers to add to the answer for ``path`` (pure)."""
    headers = [
        ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "same-origin"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
        ("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()"),
    ]
    if hsts_seconds > 0:
        headers.append(("Strict-Transport-Security", f"max-age={hsts_seconds}"))
    if not has_cache_control and not path.startswith(STATIC_PREFIX):
        headers.append(("Cache-Control", "no-store"))
    return headers


class SecurityHeadersMiddleware:
    """Adds :func:`security_headers` to every HTTP response; a header the route set itself is kept."""

    def __init__(self, app: ASGIApp, *, hsts_seconds: int = 0) -> None:
        self.app = app
        self.hsts_seconds = hsts_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]

        async def send_with_headers(message: AsgiMessage) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                _add_missing(
                    headers,
                    security_headers(
                        path, has_cache_control="cache-control" in headers, hsts_seconds=self.hsts_seconds
                    ),
                )
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _add_missing(headers: MutableHeaders, wanted: Sequence[tuple[str, str]]) -> None:
    for name, value in wanted:
        if name not in headers:
            headers.append(name, value)
