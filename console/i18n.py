"""UI translations: gettext catalogs compiled from the ``.po`` files at start-up, and language choice.

The ``.po`` sources live in ``console/locale/<lang>/LC_MESSAGES/messages.po``; they are compiled in memory
with Babel when the station starts, so no ``.mo`` build step exists to forget. Message ids are English.

Language choice (:func:`negotiate_language`): ``?lang=`` > the ``station_lang`` cookie > Accept-Language >
the configured default (``console.language``).
"""

from __future__ import annotations

import gettext
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE_DIR: Final = Path(__file__).resolve().parent / "locale"
DOMAIN: Final = "messages"
SUPPORTED_LANGUAGES: Final = ("ru", "kk", "en")
LANGUAGE_NAMES: Final = {"ru": "Русский", "kk": "Қазақша", "en": "English"}
LANGUAGE_COOKIE: Final = "station_lang"


class CatalogError(ValueError):
    """A translation catalog is missing or cannot be parsed."""


def compile_catalog(po_path: Path) -> gettext.GNUTranslations:
    try:
        with po_path.open("rb") as handle:
            catalog = read_po(handle, locale=po_path.parent.parent.name)
    except OSError as exc:
        raise CatalogError(f"cannot read translation catalog {po_path}: {exc}") from exc
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


class Catalogs:
    """One compiled catalog per supported language."""

    def __init__(self, translations: Mapping[str, gettext.NullTranslations], default: str) -> None:
        if default not in translations:
            raise CatalogError(f"no catalog for the default language {default!r}")
        self._translations = dict(translations)
        self.default = default

    @classmethod
    def load(cls, default: str, locale_dir: Path = LOCALE_DIR) -> Catalogs:
        translations = {
            lang: compile_catalog(locale_dir / lang / "LC_MESSAGES" / f"{DOMAIN}.po")
            for lang in SUPPORTED_LANGUAGES
        }
        return cls(translations, default)

    def get(self, language: str) -> gettext.NullTranslations:
        return self._translations.get(language) or self._translations[self.default]


def _parse_accept_language(header: str) -> list[str]:
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        pieces = part.strip().split(";")
        tag = pieces[0].strip().lower()
        if not tag:
            continue
        quality = 1.0
        for param in pieces[1:]:
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0:
            weighted.append((-quality, index, tag))
    return [tag for _q, _i, tag in sorted(weighted)]


def negotiate_language(
    *, query: str | None, cookie: str | None, accept_language: str | None, default: str
) -> str:
    """Pure choice of the UI language."""
    for candidate in (query, cookie):
        if candidate and candidate.lower() in SUPPORTED_LANGUAGES:
            return candidate.lower()
    for tag in _parse_accept_language(accept_language or ""):
        primary = tag.split("-")[0]
        if primary in SUPPORTED_LANGUAGES:
            return primary
    return default
