"""Per-field errors of a form the console saves (cameras, station settings): one translated message per field.

Forms post JSON that the route validates itself (pydantic models with the same bounds as the config schema):
:func:`field_messages` turns each pydantic error into a :class:`Message` keyed by the field's dotted name,
and :func:`invalid_fields` makes the 422 whose ``fields`` object carries them in the request's language, so
the page shows each message under its own input.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request

from console.error import ApiError, request_translations
from console.i18n import Message


class FieldProblemError(ValueError):
    """A value a form may not save, with its translatable message (raised by console-side checks)."""

    def __init__(self, field: str, message: Message) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _field_name(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "_form"


def error_message(error: Mapping[str, Any]) -> Message:
    """The translatable message of one pydantic error (its English text as the fallback)."""
    kind = str(error.get("type", ""))
    ctx = error.get("ctx") or {}
    if kind == "extra_forbidden":
        return Message("unknown setting: not part of this form")
    if kind == "missing":
        return Message("required")
    if kind in ("less_than_equal", "less_than"):
        return Message("must be at most {limit}", limit=ctx.get("le", ctx.get("lt")))
    if kind in ("greater_than_equal", "greater_than"):
        return Message("must be at least {limit}", limit=ctx.get("ge", ctx.get("gt")))
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return Message("must be a whole number")
    if kind in ("float_parsing", "float_type"):
        return Message("must be a number")
    if kind in ("bool_parsing", "bool_type"):
        return Message("must be yes or no")
    if kind == "string_too_short":
        return Message("required")
    if kind == "string_too_long":
        return Message("too long: at most {limit} characters", limit=ctx.get("max_length"))
    if kind == "string_pattern_mismatch":
        return Message("use lower-case Latin letters, digits, '-' and '_' (1-32 characters)")
    if kind in ("enum", "literal_error"):
        return Message("not one of the allowed values")
    return Message(
        "invalid value: {problem}", problem=str(error.get("msg", "")).removeprefix("Value error, ")
    )


def field_messages(exc: ValidationError) -> dict[str, Message]:
    """The first problem of each field of ``exc``."""
    out: dict[str, Message] = {}
    for error in exc.errors():
        out.setdefault(_field_name(tuple(error["loc"])), error_message(error))
    return out


def invalid_fields(request: Request, fields: Mapping[str, Message]) -> ApiError:
    """The 422 of a form: ``{"error": {"code": "invalid_fields", "fields": {"name": "translated"}}}``."""
    translations = request_translations(request)
    translated = {name: message.translate(translations) for name, message in fields.items()}
    english = {name: str(message) for name, message in fields.items()}
    return ApiError(
        422,
        "invalid_fields",
        "check the marked fields",
        cause="; ".join(f"{name}: {text}" for name, text in english.items()),
        extra={"fields": translated},
    )
