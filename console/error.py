"""One error shape for every API error: ``{"error": {"code": "...", "message": "...", ...}}``.

``code`` is stable (for machines); ``message`` is in the request's language (chosen like pages choose it:
``?lang=`` > cookie > Accept-Language > the configured default); ``message_en`` is the same text in English
(logs, scripts); ``cause`` (when present) is the English text of the underlying error.

Raise :class:`ApiError` (an :class:`HTTPException` with a machine-readable ``code``) from routes and
dependencies. Its message is an English msgid with named placeholders, translated in the catalogs::

    raise ApiError(404, "unknown_camera", "no camera {camera} on this station", params={"camera": camera_id})

(or pass a ready :class:`console.i18n.Message`). Never bake values into the msgid with an f-string: the
catalog lookup would miss.

Domain errors that answer the same way wherever they are raised are mapped once, in :data:`DOMAIN_ERRORS`
(error class → status, code, message, params taken from the exception): routes let them propagate, and
one handler turns them into the :class:`ApiError` of their entry (a subclass uses its nearest base's)::

    UnknownSessionError: ErrorMapping(404, "unknown_session", own_message),

Plain ``HTTPException`` and validation errors are translated to the same shape. A write that failed for want
of space (ENOSPC/EDQUOT), raised by a route or behind FastAPI's form-parsing 400, answers 507
``insufficient_storage`` with ``Retry-After``, logged without a traceback.
Browser pages (paths outside ``/api``) get a rendered error page in the same language instead, and an
anonymous browser is redirected to the login page by :class:`LoginRequiredError`.
"""

from __future__ import annotations

import errno
import gettext
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException

from console.complaint import ComplaintRuleError
from console.export_error import NothingToExportError
from console.i18n import Message, request_language
from console.live import OfferError, UnknownCameraError, UnknownSessionError, ViewerLimitError
from console.station import Station
from console.verify_worker import VerifyBusyError, VerifyCrashError, VerifyTimeoutError
from storage.complaint import ComplaintNotFoundError, EvidenceNotFoundError
from storage.control_char import escape_control_chars
from storage.event import EventNotFoundError, EventReviewError
from storage.evidence.error import PackageUnreadableError
from storage.user import UserNotFoundError

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
    507: "insufficient_storage",
}

# English msgids of the messages of plain HTTPExceptions (raised by FastAPI/Starlette themselves).
DEFAULT_MESSAGES: Final[Mapping[int, str]] = {
    400: "bad request",
    401: "sign in first",
    403: "forbidden",
    404: "not found",
    405: "method not allowed",
    409: "conflict",
    413: "request too large",
    415: "unsupported media type",
    422: "invalid request",
    429: "too many requests",
    500: "internal error; see the station log",
    503: "temporarily unavailable",
}
OTHER_STATUS_MESSAGE: Final = "request failed (HTTP {status})"
INVALID_FIELD_MESSAGE: Final = "invalid value in field {field}: {problem}"
INVALID_REQUEST_MESSAGE: Final = "invalid request: {problem}"
INTERNAL_ERROR_MESSAGE: Final = "internal error; see the station log"
#: a write failed for want of space (the upload spool in $TMPDIR, an export...): 507, not a client error
DISK_FULL_ERRNOS: Final = frozenset({errno.ENOSPC, errno.EDQUOT})
INSUFFICIENT_STORAGE_RETRY_AFTER_S: Final = 60


class ApiError(HTTPException):
    """An error with a stable ``code`` for clients and a translatable message.

    ``message``: an English msgid with ``{field}`` placeholders filled from ``params``, or a ready
    :class:`Message`. ``cause``: untranslated English detail of a lower layer's error (optional).
    ``extra`` is merged into the error object. ``detail`` (of HTTPException) is the English text.
    """

    def __init__(
        self,
        status_code: int,
        code: str,
        message: str | Message,
        *,
        params: Mapping[str, object] | None = None,
        cause: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        if isinstance(message, Message):
            if params:
                raise TypeError("give params either in the Message or in params, not both")
            self.message = message
        else:
            self.message = Message(message, **(params or {}))
        super().__init__(status_code=status_code, detail=str(self.message), headers=headers)
        self.code = code
        self.cause = cause
        self.extra = extra or {}


def own_message(exc: Any) -> Message:
    """The translatable ``message`` a domain error carries (:class:`console.live.LiveError`, ...)."""
    message: Message = exc.message
    return message


def own_code(exc: Any) -> str:
    """The API error code a domain error carries (:class:`console.complaint.ComplaintRuleError`)."""
    code: str = exc.code
    return code


def _no_params(_exc: Any) -> Mapping[str, object]:
    return {}


@dataclass(frozen=True, slots=True)
class ErrorMapping:
    """How one domain error family answers over HTTP.

    ``message``: an English msgid whose placeholders ``params(exc)`` fills, or a function giving the
    exception's own :class:`Message`. ``status`` and ``code`` may also be functions of the exception.
    ``headers``: sent with the answer; ``cause(exc)``: the English detail worth keeping (``cause``).
    """

    status: int | Callable[[Any], int]
    code: str | Callable[[Any], str]
    message: str | Callable[[Any], Message]
    params: Callable[[Any], Mapping[str, object]] = _no_params
    headers: Mapping[str, str] | None = None
    cause: Callable[[Any], str | None] | None = None

    def api_error(self, exc: Exception) -> ApiError:
        status = self.status if isinstance(self.status, int) else self.status(exc)
        code = self.code if isinstance(self.code, str) else self.code(exc)
        headers = dict(self.headers) if self.headers is not None else None
        cause = self.cause(exc) if self.cause is not None else None
        if isinstance(self.message, str):
            return ApiError(status, code, self.message, params=self.params(exc), headers=headers, cause=cause)
        return ApiError(status, code, self.message(exc), headers=headers, cause=cause)


def _package_name(exc: Any) -> dict[str, object]:
    """The checked package's name (from the uploader: escaped)."""
    return {"name": escape_control_chars(exc.package)}


def _escaped_text(exc: Exception) -> str:
    return escape_control_chars(str(exc))


def _complaint_rule_status(exc: Any) -> int:
    return 409 if own_code(exc) == "transition_not_allowed" else 422


VERIFY_BUSY_RETRY_AFTER_S: Final = 60  # as the message says: "try again in a minute"


DOMAIN_ERRORS: Final[Mapping[type[Exception], ErrorMapping]] = {
    ComplaintRuleError: ErrorMapping(_complaint_rule_status, own_code, own_message),
    UnknownCameraError: ErrorMapping(404, "unknown_camera", own_message),
    UnknownSessionError: ErrorMapping(404, "unknown_session", own_message),
    # a user's own limit (UserViewerLimitError) answers 409 with the limit, in console.routes.live
    ViewerLimitError: ErrorMapping(503, "too_many_viewers", own_message, headers={"Retry-After": "10"}),
    OfferError: ErrorMapping(400, "bad_offer", own_message, cause=lambda e: e.cause),
    ComplaintNotFoundError: ErrorMapping(
        404, "complaint_not_found", "no complaint {complaint_id}", lambda e: {"complaint_id": e.complaint_id}
    ),
    EvidenceNotFoundError: ErrorMapping(
        404,
        "evidence_not_found",
        "no footage {evidence_id} attached to complaint {complaint}",
        lambda e: {"evidence_id": e.evidence_id, "complaint": e.complaint_number},
    ),
    NothingToExportError: ErrorMapping(
        409,
        "nothing_to_export",
        "complaint {complaint} has no attached footage",
        lambda e: {"complaint": e.complaint_number},
    ),
    EventNotFoundError: ErrorMapping(404, "event_not_found", "no event {id}", lambda e: {"id": e.event_id}),
    EventReviewError: ErrorMapping(422, "review_reason_required", "a false alarm needs a reason"),
    UserNotFoundError: ErrorMapping(
        404, "user_not_found", "no user {user_id}", lambda e: {"user_id": e.user}
    ),
    VerifyBusyError: ErrorMapping(
        429,
        "verify_busy",
        "{count} package checks are running already; try again in a minute",
        lambda e: {"count": e.max_concurrent},
        headers={"Retry-After": str(VERIFY_BUSY_RETRY_AFTER_S)},
    ),
    VerifyTimeoutError: ErrorMapping(
        422,
        "verify_timeout",
        "checking {name} took longer than {seconds} s and was stopped",
        lambda e: {**_package_name(e), "seconds": round(e.limit_s)},
    ),
    VerifyCrashError: ErrorMapping(
        422, "verify_failed", "{name} could not be checked to the end", _package_name, cause=_escaped_text
    ),
    PackageUnreadableError: ErrorMapping(
        422, "not_a_package", "{name} is not a readable evidence package", _package_name, cause=_escaped_text
    ),
}


def domain_api_error(exc: Exception) -> ApiError:
    """The :class:`ApiError` of a registered domain error (its class's entry, else its nearest base's)."""
    for cls in type(exc).__mro__:
        mapping = DOMAIN_ERRORS.get(cls)
        if mapping is not None:
            return mapping.api_error(exc)
    raise TypeError(f"{type(exc).__name__} is not in DOMAIN_ERRORS")


class LoginRequiredError(Exception):
    """An anonymous browser asked for a page: send it to the login page and back afterwards."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **extra}}


def request_translations(request: Request) -> gettext.NullTranslations | None:
    """The catalog of the request's language; None before the station runs (messages stay English)."""
    station = getattr(request.app.state, "station", None)
    if not isinstance(station, Station):
        return None
    return station.catalogs.get(request_language(request, default=station.settings.config.console.language))


def localized_body(
    request: Request, code: str, message: Message, *, cause: str | None = None, **extra: Any
) -> dict[str, Any]:
    """The error object with ``message`` in the request's language and ``message_en`` in English."""
    english = str(message)
    if cause is not None and cause != english:
        extra["cause"] = cause
    return error_body(code, message.translate(request_translations(request)), message_en=english, **extra)


def _format_loc(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in loc)


def disk_full_cause(exc: BaseException) -> OSError | None:
    """The ENOSPC/EDQUOT error that ``exc`` is or was raised from (FastAPI turns a failed form parse, such
    as an upload spool that hit a full disk, into a 400 ``from`` the error), if any; pure."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, OSError) and current.errno in DISK_FULL_ERRNOS:
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def insufficient_storage_error(exc: OSError) -> ApiError:
    """507: the station cannot store what the request needs right now (RFC 4918 §11.5). Not 413: the
    request is not too large for the station, and the same request succeeds once space returns."""
    return ApiError(
        507,
        "insufficient_storage",
        "the station has no free space left for this request; try again later",
        cause=exc.strerror or str(exc),
        headers={"Retry-After": str(INSUFFICIENT_STORAGE_RETRY_AFTER_S)},
    )


def message_of(exc: HTTPException) -> tuple[Message, str | None]:
    """The translatable message of any HTTPException, and the English cause worth keeping (if any)."""
    if isinstance(exc, ApiError):
        return exc.message, exc.cause
    msgid = DEFAULT_MESSAGES.get(exc.status_code)
    message = Message(msgid) if msgid else Message(OTHER_STATUS_MESSAGE, status=exc.status_code)
    cause = exc.detail if isinstance(exc.detail, str) and exc.status_code != 404 else None
    return message, cause


PageRenderer = Callable[..., Response]


def _http_error_handler(
    render_page_error: PageRenderer | None,
) -> Callable[[Request, Exception], Awaitable[Response]]:
    async def handle(request: Request, exc: Exception) -> Response:
        if not isinstance(exc, HTTPException):
            raise TypeError("handler registered for HTTPException")
        if not isinstance(exc, ApiError) and (disk_full := disk_full_cause(exc)) is not None:
            logger.warning("%s %s: %s", request.method, request.url.path, disk_full)
            exc = insufficient_storage_error(disk_full)
        code = exc.code if isinstance(exc, ApiError) else DEFAULT_CODES.get(exc.status_code, "error")
        message, cause = message_of(exc)
        if render_page_error is not None and _wants_page(request):
            text = message.translate(request_translations(request))
            return render_page_error(request, exc.status_code, text, headers=exc.headers)
        extra = exc.extra if isinstance(exc, ApiError) else {}
        return JSONResponse(
            localized_body(request, code, message, cause=cause, **extra),
            status_code=exc.status_code,
            headers=exc.headers,
        )

    return handle


def validation_message(errors: list[dict[str, str]]) -> Message:
    """The lead of a 422: the first invalid field, with pydantic's (English) text after it."""
    if not errors:
        return Message(DEFAULT_MESSAGES[422])
    first = errors[0]
    if first["loc"]:
        return Message(INVALID_FIELD_MESSAGE, field=first["loc"], problem=first["message"])
    return Message(INVALID_REQUEST_MESSAGE, problem=first["message"])


async def _validation_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, RequestValidationError):
        raise TypeError("handler registered for RequestValidationError")
    details = [
        {"loc": _format_loc(error.get("loc", ())), "message": str(error.get("msg", "invalid"))}
        for error in exc.errors()
    ]
    body = localized_body(request, "validation_error", validation_message(details), details=details)
    return JSONResponse(body, status_code=422)


def _domain_error_handler(
    handle_http_error: Callable[[Request, Exception], Awaitable[Response]],
) -> Callable[[Request, Exception], Awaitable[Response]]:
    """Answer a registered domain error as its ApiError, through the app's current HTTPException handler
    (so that wrappers installed later, such as :func:`console.denial_audit.audit_denials`, see it too)."""

    async def handle(request: Request, exc: Exception) -> Response:
        answer: Callable[[Request, Exception], Awaitable[Response]] = request.app.exception_handlers.get(
            HTTPException, handle_http_error
        )
        return await answer(request, domain_api_error(exc))

    return handle


async def _os_error(request: Request, exc: Exception) -> Response:
    """A disk-full error no route caught answers 507 (logged without a traceback); any other OSError goes
    on to the catch-all, unchanged."""
    disk_full = disk_full_cause(exc)
    if disk_full is None:
        raise exc
    logger.warning("%s %s: %s", request.method, request.url.path, disk_full)
    answer: Callable[[Request, Exception], Awaitable[Response]]
    answer = request.app.exception_handlers[HTTPException]  # the current one: wrappers installed later too
    return await answer(request, insufficient_storage_error(disk_full))


async def _login_required(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, LoginRequiredError):
        raise TypeError("handler registered for LoginRequiredError")
    return RedirectResponse(f"/login?next={quote(exc.next_url, safe='/')}", status_code=303)


async def _unexpected(request: Request, exc: Exception) -> Response:
    logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    body = localized_body(request, "internal_error", Message(INTERNAL_ERROR_MESSAGE))
    return JSONResponse(body, status_code=500)


def _wants_page(request: Request) -> bool:
    if request.url.path.startswith("/api/") or request.url.path == "/api":
        return False
    return "text/html" in request.headers.get("accept", "")


def install_error_handlers(
    app: FastAPI, *, render_page_error: PageRenderer | None = None
) -> Callable[[Request, Exception], Awaitable[Response]]:
    """Register the handlers; ``render_page_error(request, status, message, headers=)`` serves browsers.

    Returns the HTTPException handler, for middleware that answers before the routes do
    (:mod:`console.body_limit`), so that its errors have the same shape.
    """
    handle_http_error = _http_error_handler(render_page_error)
    app.add_exception_handler(HTTPException, handle_http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    handle_domain_error = _domain_error_handler(handle_http_error)
    for error_class in DOMAIN_ERRORS:
        app.add_exception_handler(error_class, handle_domain_error)
    app.add_exception_handler(LoginRequiredError, _login_required)
    app.add_exception_handler(OSError, _os_error)
    app.add_exception_handler(Exception, _unexpected)
    return handle_http_error
