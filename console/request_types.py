"""Shared types for what requests carry: database ids and offsets, UTC times, text (issue 26, finding 9).

Use them in every route signature and request body instead of bare ``int``, ``AwareDatetime`` and ``str``,
so that a value the database or ``datetime`` cannot hold is a 422 at the door, never a 500 (with a traceback)
from deep inside a query::

    @router.get("/{event_id}")
    def get_one(event_id: DbId, ...): ...

    offset: Annotated[DbOffset, Query()] = 0
    start: UtcDatetime

- :data:`DbId`: 1 .. 2**31-1, the range of PostgreSQL's ``integer`` (SQLite takes 2**63, PostgreSQL
  ``integer`` only 2**31: the smaller one bounds both).
- :data:`DbOffset`: 0 .. 2**31-1 (``OFFSET`` and ``LIMIT`` are bound as integers too).
- :data:`UtcDatetime`: an aware datetime whose UTC time lies in :data:`EARLIEST_UTC` .. :data:`LATEST_UTC`
  (``9999-12-31T23:59:59-14:00`` is an aware datetime, but its UTC time does not exist in Python).
- :func:`has_nul` / :data:`NUL_FREE`: PostgreSQL refuses NUL characters in text; every text input is checked
  by :class:`console.input_guard.NulGuardMiddleware`, and :data:`NUL_FREE` does the same for a single field.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Final

from annotated_types import Interval
from pydantic import AfterValidator, AwareDatetime

DB_INT_MAX: Final = 2**31 - 1
EARLIEST_UTC: Final = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_UTC: Final = datetime(3000, 1, 1, tzinfo=UTC)

DbId = Annotated[int, Interval(ge=1, le=DB_INT_MAX)]
DbOffset = Annotated[int, Interval(ge=0, le=DB_INT_MAX)]


def check_utc_range(value: datetime) -> datetime:
    """``value`` unchanged when its UTC time is in the station's range; ValueError otherwise (a 422)."""
    try:
        utc = value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("the time in UTC is out of range") from exc
    if not EARLIEST_UTC <= utc < LATEST_UTC:
        raise ValueError(f"the time must lie between {EARLIEST_UTC:%Y-%m-%d} and {LATEST_UTC:%Y-%m-%d} (UTC)")
    return value


UtcDatetime = Annotated[AwareDatetime, AfterValidator(check_utc_range)]


def has_nul(text: str) -> bool:
    return "\x00" in text


def refuse_nul(value: str) -> str:
    if has_nul(value):
        raise ValueError("text must not contain NUL characters")
    return value


NUL_FREE: Final = AfterValidator(refuse_nul)
