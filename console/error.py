"""One error shape for every API error: ``{"error": {"code": "...", "message": "...", ...}}``.

Raise :class:`ApiError` (an :class:`HTTPException` with a machine-readable ``code``) from routes and
dependencies; plain ``HTTPException`` and validation errors are translated to the same shape. Browser pages
(paths outside ``/api``) get a rendered error page instead, and an anonymous browser is redirected to the
login page by :class:`LoginRequiredError`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException

logger = logging.getLogger(__name__)

DEFAULT_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}


class ApiError(HTTPException):
    """An error with a stable ``code`` for clients; ``extra`` is merged into the error object."""

    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(status_code=status_code, detail=message, headers=headers)
        self.code = code
        self.extra = extra or {}


class LoginRequiredError(Exception):
    """An anonymous browser asked for a page: send it to the login page and back afterwards."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **extra}}


def _format_loc(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in loc)


PageRenderer = Callable[..., Response]


def _http_error_handler(
    render_page_error: PageRenderer | None,
) -> Callable[[Request, Exception], Awaitable[Response]]:
    async def handle(request: Request, exc: Exception) -> Response:
        if not isinstance(exc, HTTPException):
            raise TypeError("handler registered for HTTPException")
        code = exc.code if isinstance(exc, ApiError) else DEFAULT_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code
        if exc.status_code == 404 and not isinstance(exc, ApiError):
            message = "not found"
        if render_page_error is not None and _wants_page(request):
            return render_page_error(request, exc.status_code, message, headers=exc.headers)
        extra = exc.extra if isinstance(exc, ApiError) else {}
        return JSONResponse(
            error_body(code, message, **extra), status_code=exc.status_code, headers=exc.headers
        )

    return handle


async def _validation_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, RequestValidationError):
        raise TypeError("handler registered for RequestValidationError")
    details = [
        {"loc": _format_loc(error.get("loc", ())), "message": str(error.get("msg", "invalid"))}
        for error in exc.errors()
    ]
    first = details[0] if details else {"loc": "", "message": "invalid request"}
    message = f"{first['loc']}: {first['message']}" if first["loc"] else first["message"]
    return JSONResponse(error_body("validation_error", message, details=details), status_code=422)


async def _login_required(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, LoginRequiredError):
        raise TypeError("handler registered for LoginRequiredError")
    return RedirectResponse(f"/login?next={quote(exc.next_url, safe='/')}", status_code=303)


async def _unexpected(request: Request, exc: Exception) -> Response:
    logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse(error_body("internal_error", "internal error; see the station log"), status_code=500)


def _wants_page(request: Request) -> bool:
    if request.url.path.startswith("/api/") or request.url.path == "/api":
        return False
    return "text/html" in request.headers.get("accept", "")


def install_error_handlers(app: FastAPI, *, render_page_error: PageRenderer | None = None) -> None:
    """Register the handlers; ``render_page_error(request, status, message, headers=)`` serves browsers."""
    app.add_exception_handler(HTTPException, _http_error_handler(render_page_error))
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(LoginRequiredError, _login_required)
    app.add_exception_handler(Exception, _unexpected)
