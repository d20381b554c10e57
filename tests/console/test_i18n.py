"""Language choice, and that every UI string is translated in every catalog."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from jinja2.ext import babel_extract

from console.deps import ROLE_LABELS
from console.i18n import LOCALE_DIR, SUPPORTED_LANGUAGES, Catalogs, negotiate_language
from console.template import TEMPLATE_DIR

# msgids used from Python code (the login form's messages and the role names)
PYTHON_MESSAGES = {
    "Enter your user name and password.",
    "Too many failed attempts. Try again in %(seconds)d s.",
    "Wrong user name or password.",
    *ROLE_LABELS.values(),
}


@pytest.mark.parametrize(
    ("query", "cookie", "accept", "expected"),
    [
        ("kk", "en", "en", "kk"),
        (None, "en", "kk", "en"),
        ("de", "en", None, "en"),
        (None, None, "kk-KZ,ru;q=0.8", "kk"),
        (None, None, "de-DE, en;q=0.5, ru;q=0.9", "ru"),
        (None, None, "fr, de", "ru"),
        (None, None, "en;q=0, kk;q=0.1", "kk"),
        (None, None, "", "ru"),
        (None, "xx", "garbage;q=abc", "ru"),
        ("EN", None, None, "en"),
    ],
)
def test_negotiate_language(query: str | None, cookie: str | None, accept: str | None, expected: str) -> None:
    assert negotiate_language(query=query, cookie=cookie, accept_language=accept, default="ru") == expected


def template_messages() -> set[str]:
    found: set[str] = set()
    for path in sorted(TEMPLATE_DIR.glob("*.html")):
        with path.open("rb") as handle:
            for _line, _func, message, _comments in babel_extract(
                handle, ("_", "gettext", "ngettext"), [], {}
            ):
                parts = message if isinstance(message, tuple) else (message,)
                found.update(m for m in parts if isinstance(m, str) and m)
    return found


@pytest.mark.parametrize("lang", SUPPORTED_LANGUAGES)
def test_every_message_is_translated(lang: str) -> None:
    wanted = template_messages() | PYTHON_MESSAGES
    assert "Sign in" in wanted
    with (LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog = read_po(handle)
    translated: set[str] = set()
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if all(strings):
            translated.update(str(i) for i in ids)
    missing = sorted(wanted - translated)
    assert not missing, f"{lang}: untranslated {missing}"


def test_catalogs_compile_and_translate() -> None:
    catalogs = Catalogs.load("ru")
    assert catalogs.get("ru").gettext("Sign in") == "Войти"
    assert catalogs.get("kk").gettext("Sign in") == "Кіру"
    assert catalogs.get("en").gettext("Sign in") == "Sign in"
    assert catalogs.get("xx").gettext("Sign in") == "Войти"  # unknown -> default
    ru = catalogs.get("ru")
    assert [ru.ngettext("%(num)d camera", "%(num)d cameras", n) % {"num": n} for n in (1, 3, 5, 21)] == [
        "1 камера",
        "3 камеры",
        "5 камер",
        "21 камера",
    ]


def test_catalog_files_are_packaged() -> None:
    assert {p.parent.parent.name for p in Path(LOCALE_DIR).glob("*/LC_MESSAGES/messages.po")} == set(
        SUPPORTED_LANGUAGES
    )
