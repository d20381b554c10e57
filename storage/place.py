"""Places (building, entrance, area) as the cameras' configured locations name them.

The complaint form and the list filters offer these values, and what an officer types is spelled as
configured when it names one of them in another case (so "ПАРКОВКА" files under the cameras' "парковка").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.model import Camera

PlaceKey = Literal["building", "entrance", "area"]
PLACE_KEYS: Final[tuple[PlaceKey, ...]] = ("building", "entrance", "area")


def clean_text(value: str | None) -> str | None:
    """Whitespace collapsed; None for nothing left (pure)."""
    if value is None:
        return None
    value = " ".join(value.split())
    return value or None


def known_places(session: Session) -> dict[PlaceKey, set[str]]:
    """Building, entrance and area values configured on the cameras."""
    places: dict[PlaceKey, set[str]] = {key: set() for key in PLACE_KEYS}
    for camera in session.scalars(select(Camera).where(Camera.in_config.is_(True))):
        for key, values in places.items():
            value = getattr(camera, key)
            if value:
                values.add(value)
    return places


def canonical_place(places: Mapping[PlaceKey, set[str]], key: PlaceKey, value: str | None) -> str | None:
    """``value`` cleaned and, when it names a configured place (``places``, from :func:`known_places`) in
    another case, spelled as configured."""
    cleaned = clean_text(value)
    if cleaned is None:
        return None
    for known in places[key]:
        if known.casefold() == cleaned.casefold():
            return known
    return cleaned
