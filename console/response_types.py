"""Shared types for what responses carry.

- :data:`IsoDatetime`: a datetime written as Python's ``isoformat()`` (``2026-01-01T00:00:00+00:00``), the
  form the routes that returned plain dictionaries have always sent; described as ``date-time`` in OpenAPI.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import PlainSerializer, WithJsonSchema


def _isoformat(value: datetime) -> str:
    return value.isoformat()


IsoDatetime = Annotated[
    datetime,
    PlainSerializer(_isoformat, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
