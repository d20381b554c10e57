"""Every text the pages show is in all three catalogs, plural texts with every form of their language, and
texts built in code (the overview's causes of a camera's trouble) are translated where they are shown.

The same, read from what Chromium shows after the scripts ran: ``tests/browser/test_page_language.py``.
"""

from __future__ import annotations

import json
import re
import time

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient
from jinja2.ext import babel_extract

from console.i18n import LOCALE_DIR, SUPPORTED_LANGUAGES
from console.overview import CAMERA_CAUSES, camera_cause
from console.permission import PAGE_LINKS
from console.template import TEMPLATE_DIR
from storage.model import Role
from streams import error as stream_error
from streams.clock import ClockEvent
from tests.support.console import make_user, running_station, sign_in

NPLURALS = {"ru": 3, "kk": 2, "en": 2}
CODE_MESSAGES = {*CAMERA_CAUSES.values(), *(page.label for page in PAGE_LINKS)}
"""Texts chosen in Python and translated where they are shown."""


def template_messages() -> set[str | tuple[str, ...]]:
    found: set[str | tuple[str, ...]] = set()
    for path in sorted(TEMPLATE_DIR.glob("*.html")):
        with path.open("rb") as handle:
            for _line, _func, message, _comments in babel_extract(
                handle, ("_", "gettext", "ngettext", "plural_forms"), [], {}
            ):
                if isinstance(message, tuple):
                    strings = tuple(m for m in message if isinstance(m, str) and m)
                    found.add(strings if len(strings) > 1 else strings[0])
                elif isinstance(message, str) and message:
                    found.add(message)
    return found


def load_catalog(lang: str) -> Catalog:
    with (LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale=lang)


@pytest.mark.parametrize("lang", SUPPORTED_LANGUAGES)
def test_every_shown_text_is_translated_with_its_plural_forms(lang: str) -> None:
    catalog = load_catalog(lang)
    assert catalog.num_plurals == NPLURALS[lang]
    problems: list[str] = []
    for wanted in sorted(template_messages() | CODE_MESSAGES, key=str):
        key = wanted[0] if isinstance(wanted, tuple) else wanted
        message = catalog.get(key)
        if message is None:
            problems.append(f"missing {wanted!r}")
            continue
        if isinstance(wanted, tuple) != isinstance(message.id, tuple):
            problems.append(f"{key!r}: plural in one place, singular in the other")
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if isinstance(wanted, tuple) and len(strings) != NPLURALS[lang]:
            problems.append(f"{key!r}: {len(strings)} forms, the language has {NPLURALS[lang]}")
        if not all(strings):
            problems.append(f"{key!r}: empty translation")
    assert not problems, f"{lang}: " + "; ".join(problems)


def test_every_camera_trouble_has_a_cause_in_words() -> None:
    reasons = {
        cls.reason
        for cls in vars(stream_error).values()
        if isinstance(cls, type) and issubclass(cls, stream_error.StreamError)
    }
    reasons |= {event.value for event in ClockEvent} | {"low_fps", "corrupt_packets"}
    assert reasons <= set(CAMERA_CAUSES)
    assert camera_cause("connect_failed: connection refused: [Errno 111]") == CAMERA_CAUSES["connect_failed"]
    assert camera_cause("Unauthorized: 401") == CAMERA_CAUSES["unauthorized"]
    assert camera_cause("something new") is None and camera_cause(None) is None


def test_overview_names_the_cause_in_kazakh(console_client: TestClient) -> None:
    make_user(running_station(console_client).database, "officer", Role.OFFICER)
    sign_in(console_client, "officer")
    deadline = time.monotonic() + 20
    while True:
        response = console_client.get("/overview/parts?lang=kk")
        assert response.status_code == 200
        if 'data-code="camera_offline"' in response.text or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    html = response.text
    assert "Камера жауап бермейді: желі байланысы жоқ немесе камера сөндірулі." in html
    visible = html.split('title="', 1)[0] + html.split('title="', 1)[1].split('"', 1)[1]
    assert "is offline" not in visible and "connect_failed" not in visible
    assert "Подъезд 1" in html and "2 камера" in html  # the camera tiles come along
    page = console_client.get("/?lang=kk").text
    assert 'id="overview-parts"' in page and "/static/js/overview.js" in page
    assert "onerror=" not in page


def test_complaint_page_carries_the_plural_forms_of_its_counts(console_client: TestClient) -> None:
    make_user(running_station(console_client).database, "officer", Role.OFFICER)
    sign_in(console_client, "officer")
    html = console_client.get("/complaints/1?lang=ru").text
    match = re.search(r'<script type="application/json" id="labels">(.*?)</script>', html, re.S)
    assert match is not None
    plural = json.loads(match.group(1))["plural"]
    assert plural["segments"] == {
        "one": "{num} сегмент",
        "few": "{num} сегмента",
        "many": "{num} сегментов",
        "other": "{num} сегментов",
    }
    assert plural["events"]["one"] == "{num} событие" and plural["events"]["many"] == "{num} событий"
