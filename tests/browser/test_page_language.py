"""Every page in Kazakh (and Russian) shows no English sentence, in real headless Chromium.

What the browser shows is read after the page's scripts ran (``innerText`` of the body, plus the
``placeholder``, ``title`` and ``aria-label`` texts): messages built in code (a camera's cause of trouble on
the overview, API errors shown in the page) count as much as the templates. The overview has a camera that
cannot be reached, so its status panel shows a cause; ``/complaints/999999`` shows the API's not-found error.

The console runs in-process (uvicorn in a thread) on 127.0.0.1.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from config.settings import Settings
from console.app import create_app
from console.station import Station
from storage.model import Role
from tests.support.browser import CHROMIUM, launch_chromium, require_chromium, sign_in_page
from tests.support.console import make_user, station_config
from tests.support.page_content import add_content
from tests.support.served_console import served_app

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

PAGES: dict[Role, tuple[str, ...]] = {
    Role.SUPERVISOR: (
        "/",
        "/live",
        "/events",
        "/complaints",
        "/complaints/1",
        "/complaints/999999",
        "/recordings",
        "/verify",
    ),
    Role.ADMIN: ("/admin/zones", "/admin/cameras", "/admin/settings", "/complaints"),  # the last: refused
}
# Two English words in a row, or one English function word on its own, is an English sentence.
ENGLISH_RUN = re.compile(r"\b[A-Za-z][a-z]+(?:[ ,;:]+[A-Za-z][a-z]+)+\b")
ENGLISH_WORDS = frozenset(
    [
        "the",
        "is",
        "are",
        "was",
        "not",
        "no",
        "of",
        "to",
        "in",
        "on",
        "at",
        "for",
        "with",
        "and",
        "or",
        "from",
        "this",
        "that",
        "be",
        "by",
        "has",
        "have",
        "cannot",
        "may",
    ]
)
LATIN_WORD = re.compile(r"\b[A-Za-z]+\b")
TEXTS_JS = """() => [document.body.innerText,
  ...[...document.querySelectorAll('[placeholder], [title], [aria-label]')].flatMap(
    e => [e.getAttribute('placeholder'), e.getAttribute('title'), e.getAttribute('aria-label')])
].filter(Boolean).join('\\n')"""
TECHNICAL_TITLES = ".status-reason"
"""Elements whose ``title`` is the English technical detail on purpose (a tooltip for the support desk)."""


def english_in(text: str) -> list[str]:
    found = [match.group(0) for match in ENGLISH_RUN.finditer(text)]
    found += [word for word in LATIN_WORD.findall(text) if word.lower() in ENGLISH_WORDS]
    return found


@pytest.fixture(scope="module")
def served_station(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir = tmp_path_factory.mktemp("language") / "data"
    app = create_app(Settings(config=station_config(data_dir), config_path=None))
    with served_app(app, name="language-e2e") as base:
        station = app.state.station
        assert isinstance(station, Station)
        for role in (*PAGES, Role.OFFICER):
            make_user(station.database, role.value, role, display_name="Айгүл")
        add_content(base, station)
        yield base


def open_signed_in(browser: Any, base: str, username: str, lang: str) -> Any:
    context = browser.new_context(locale=f"{lang}-KZ", viewport={"width": 1024, "height": 800})
    page = context.new_page()
    sign_in_page(page, base, username, lang=lang)
    # the overview's camera must have been tried (and failed) before its cause can show
    page.wait_for_timeout(1500)
    return context, page


@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_pages_show_no_english_sentence(served_station: str, tmp_path_factory: Any, lang: str) -> None:
    require_chromium()
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = launch_chromium(
            playwright, executable=CHROMIUM, home=tmp_path_factory.mktemp("chromium-home")
        )
        try:
            for role, paths in PAGES.items():
                context, page = open_signed_in(browser, served_station, role.value, lang)
                try:
                    for path in paths:
                        page.goto(f"{served_station}{path}")
                        page.wait_for_load_state("load")
                        page.wait_for_timeout(1200)  # the page's scripts fetch and render
                        page.evaluate(
                            f"() => document.querySelectorAll('{TECHNICAL_TITLES}')"
                            ".forEach(e => e.removeAttribute('title'))"
                        )
                        english = english_in(page.evaluate(TEXTS_JS))
                        if english:
                            problems.append(f"{lang} {role.value} {path}: {sorted(set(english))}")
                finally:
                    context.close()
        finally:
            browser.close()
    assert not problems, "\n".join(problems)


def test_the_english_detector_finds_sentences_and_spares_names() -> None:
    assert english_in("Подъезд 1 is offline: connect_failed") == ["is offline", "is"]
    assert english_in("Request failed (HTTP 500)") == ["Request failed"]
    assert english_in("entrance-1 · ЖК Test · 0.1.0 · MP4 · supervisor") == []


def test_counts_take_the_plural_form_of_each_language(served_station: str, tmp_path_factory: Any) -> None:
    require_chromium()
    from playwright.sync_api import sync_playwright

    from console.i18n import Catalogs, plural_forms

    catalogs = Catalogs.load("ru")
    counts = [0, 1, 2, 5, 11, 21, 22, 25]
    shown: dict[str, list[str]] = {}
    with sync_playwright() as playwright:
        browser = launch_chromium(
            playwright, executable=CHROMIUM, home=tmp_path_factory.mktemp("chromium-home")
        )
        try:
            page = browser.new_page()
            page.goto(f"{served_station}/login")
            for lang in ("ru", "kk", "en"):
                forms = plural_forms(catalogs.get(lang), "{num} segment", "{num} segments")
                shown[lang] = page.evaluate(
                    """async ([forms, counts, lang]) => {
                      const { plural } = await import('/static/js/plural.js');
                      return counts.map((n) => plural(forms, n, lang));
                    }""",
                    [forms, counts, lang],
                )
        finally:
            browser.close()
    assert shown["ru"] == [
        "0 сегментов",
        "1 сегмент",
        "2 сегмента",
        "5 сегментов",
        "11 сегментов",
        "21 сегмент",
        "22 сегмента",
        "25 сегментов",
    ]
    assert shown["kk"] == [f"{n} сегмент" for n in counts]
    assert shown["en"] == [f"{n} segment" + ("" if n == 1 else "s") for n in counts]
