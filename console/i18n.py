"""UI translations: gettext catalogs compiled from the ``.po`` files at start-up, and language choice.

The ``.po`` sources live in ``console/locale/<lang>/LC_MESSAGES/messages.po``; they are compiled in memory
with Babel when the station starts, so no ``.mo`` build step exists to forget. Message ids are English.

Language choice (:func:`negotiate_language`): ``?lang=`` > the ``station_lang`` cookie > Accept-Language >
the configured default (``console.language``).

Messages built in Python (API errors) are :class:`Message` values: the English msgid with named ``{field}``
placeholders plus their values, translated only when the response is written::

    Message("no camera {camera} on this station", camera=camera_id).translate(catalogs.get("kk"))

A translation that lost or renamed a placeholder falls back to the English text instead of failing.
"""

from __future__ import annotations

import gettext
import io
import logging
import string
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from starlette.requests import HTTPConnection

logger = logging.getLogger(__name__)

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


def placeholders(template: str) -> frozenset[str]:
    """The named ``{field}`` placeholders of a message (``{{`` is a literal brace)."""
    return frozenset(
        field.split(".")[0].split("[")[0]
        for _text, field, _spec, _conversion in string.Formatter().parse(template)
        if field is not None
    )


def format_message(template: str, params: Mapping[str, object]) -> str:
    """Fill ``{field}`` placeholders; raises KeyError/ValueError/IndexError on a broken template."""
    return template.format_map(params)


class Message:
    """A translatable text: the English msgid with ``{field}`` placeholders and their values.

    A value may itself be a :class:`Message` (a role name, say), or a tuple of them (joined with ", "): it is
    translated with the same catalog.

    ``str(message)`` is the English text (for logs and exception strings); :meth:`translate` renders it in
    the language of the given catalog.
    """

    __slots__ = ("msgid", "params")

    def __init__(self, msgid: str, /, **params: object) -> None:
        self.msgid = msgid
        self.params: Mapping[str, object] = params

    def __str__(self) -> str:
        try:
            return format_message(self.msgid, _render_params(self.params, None))
        except (KeyError, ValueError, IndexError):
            logger.error("message %r lacks its placeholders (given %s)", self.msgid, sorted(self.params))
            return self.msgid

    def __repr__(self) -> str:
        return f"Message({self.msgid!r}, {dict(self.params)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Message):
            return NotImplemented
        return self.msgid == other.msgid and dict(self.params) == dict(other.params)

    def __hash__(self) -> int:
        return hash(self.msgid)

    def translate(self, translations: gettext.NullTranslations | None) -> str:
        if translations is None:
            return str(self)
        translated = translations.gettext(self.msgid)
        try:
            return format_message(translated, _render_params(self.params, translations))
        except (KeyError, ValueError, IndexError):
            logger.error("translation of %r is broken: %r", self.msgid, translated)
            return str(self)


def _render_value(value: object, translations: gettext.NullTranslations | None) -> object:
    if isinstance(value, Message):
        return value.translate(translations)
    if isinstance(value, tuple):
        return ", ".join(str(_render_value(item, translations)) for item in value)
    return value


def _render_params(
    params: Mapping[str, object], translations: gettext.NullTranslations | None
) -> dict[str, object]:
    return {name: _render_value(value, translations) for name, value in params.items()}


PLURAL_SAMPLES: Final = {"one": 1, "few": 2, "many": 5, "other": 5}
"""A number of each CLDR plural category (as ``Intl.PluralRules`` names them) for the three languages: the
gettext plural formula of the catalog picks the form, the browser picks the category."""


def plural_forms(translations: gettext.NullTranslations, singular: str, plural: str) -> dict[str, str]:
    """A plural message's translated forms by CLDR category, for ``plural()`` in ``static/js/plural.js``.

    The numbers go in as ``{num}`` in the msgids; the browser fills them in.
    """
    return {category: translations.ngettext(singular, plural, n) for category, n in PLURAL_SAMPLES.items()}


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


def request_language(request: HTTPConnection, *, default: str) -> str:
    """The language of one request, chosen by :func:`negotiate_language`."""
    return negotiate_language(
        query=request.query_params.get("lang"),
        cookie=request.cookies.get(LANGUAGE_COOKIE),
        accept_language=request.headers.get("accept-language"),
        default=default,
    )
