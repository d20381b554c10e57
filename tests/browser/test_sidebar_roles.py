"""The sidebar and the page permissions agree, per role, in real headless Chromium.

Each role signs in, reads its sidebar, opens every page it links to (200) and every page it does not link
to (refused with 403); every page it opens has no horizontal overflow at 1024 px and at 390 px, and at
390 px the sign-out button is on screen. The expected sidebars are written out as a table here, apart from
:data:`console.permission.PAGE_LINKS`, so a change to the table shows up as a failing row.

The console runs in-process (uvicorn in a thread) on 127.0.0.1; plain HTTP on loopback needs no network
namespace.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from config.settings import Settings
from console.app import create_app
from console.routes import page as page_routes
from console.station import Station
from storage.model import Role
from tests.support.browser import CHROMIUM, launch_chromium, require_chromium, sign_in_page
from tests.support.console import make_user, station_config
from tests.support.page_content import add_content
from tests.support.served_console import served_app

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

WIDTHS_PX = (1024, 390)
SIDEBARS: dict[Role, tuple[str, ...]] = {
    Role.OFFICER: ("/", "/live", "/events", "/complaints", "/recordings", "/verify"),
    Role.INVESTIGATOR: ("/", "/complaints", "/recordings", "/exports", "/verify"),
    Role.SUPERVISOR: ("/", "/live", "/events", "/complaints", "/recordings", "/exports", "/verify"),
    Role.ADMIN: ("/", "/verify", "/admin/cameras", "/admin/zones", "/admin/users", "/admin/settings"),
    Role.AUDITOR: ("/", "/complaints", "/exports", "/verify", "/audit"),
}
ALL_PAGES = (
    "/",
    "/live",
    "/events",
    "/complaints",
    "/recordings",
    "/exports",
    "/verify",
    "/audit",
    "/admin/cameras",
    "/admin/zones",
    "/admin/users",
    "/admin/settings",
)
SUB_PAGES = {"/complaints": ("/complaints/1",)}
"""Pages reached from a linked page, not from the sidebar: open exactly when their section is."""

OVERFLOW_JS = """() => Math.max(...[document.documentElement, document.querySelector('main.content')]
  .filter(Boolean).map(e => e.scrollWidth - e.clientWidth))"""
"""How much wider than the screen the page is, or its content (which would scroll sideways inside it)."""
LOGOUT_BOX_JS = """() => {
  const r = document.querySelector('form[action="/logout"] button').getBoundingClientRect();
  return [r.left, r.right, r.top, r.bottom, window.innerWidth];
}"""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Station]]:
    settings = Settings(config=station_config(tmp_path_factory.mktemp("sidebar") / "data"), config_path=None)
    app = create_app(settings)
    with served_app(app, name="sidebar-e2e") as base:
        station = app.state.station
        assert isinstance(station, Station)
        for role in Role:
            make_user(station.database, role.value, role)
        add_content(base, station)
        yield base, station


@pytest.fixture(scope="module")
def served_station(served: tuple[str, Station]) -> str:
    return served[0]


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = launch_chromium(
            playwright, executable=CHROMIUM, home=tmp_path_factory.mktemp("chromium-home")
        )
        try:
            yield launched
        finally:
            launched.close()


def overflow_px(page: Any, width_px: int) -> int:
    page.set_viewport_size({"width": width_px, "height": 800})
    page.wait_for_timeout(150)
    result: int = page.evaluate(OVERFLOW_JS)
    return result


def check_layout(page: Any, path: str) -> list[str]:
    problems = []
    for width_px in WIDTHS_PX:
        extra_px = overflow_px(page, width_px)
        if extra_px > 0:
            problems.append(f"{path} at {width_px} px is {extra_px} px too wide")
        left, right, top, bottom, inner = page.evaluate(LOGOUT_BOX_JS)
        if left < 0 or right > inner or bottom <= top:
            problems.append(f"{path} at {width_px} px: sign-out button at x {left}..{right} of {inner}")
    return problems


@pytest.mark.parametrize("role", list(Role), ids=lambda role: role.value)
def test_sidebar_matches_what_the_role_may_open(served_station: str, browser: Any, role: Role) -> None:
    base = served_station
    context = browser.new_context(locale="ru-RU", viewport={"width": 1024, "height": 800})
    try:
        page = context.new_page()
        sign_in_page(page, base, role.value)
        links = page.eval_on_selector_all(
            "[data-testid=sidebar-nav] a", "links => links.map(a => a.getAttribute('href'))"
        )
        assert tuple(links) == SIDEBARS[role]
        linked = set(links) | {sub for path in links for sub in SUB_PAGES.get(path, ())}
        problems: list[str] = []
        for path in ALL_PAGES + tuple(sub for subs in SUB_PAGES.values() for sub in subs):
            response = page.goto(f"{base}{path}")
            assert response is not None
            if path not in linked:
                assert response.status == 403, f"{role.value} opened {path} without a link"
                continue
            assert response.status == 200, f"{role.value} has a link to {path} but got {response.status}"
            page.wait_for_load_state("load")
            if path in links:
                current = page.get_attribute("[data-testid=sidebar-nav] a[aria-current=page]", "href")
                assert current == path
            problems += check_layout(page, path)
            page.set_viewport_size({"width": 1024, "height": 800})
        assert not problems, "\n".join(problems)
    finally:
        context.close()


def test_printed_page_shows_the_content_without_the_frame(
    served_station: str, browser: Any, tmp_path: Path
) -> None:
    context = browser.new_context(locale="ru-RU", viewport={"width": 390, "height": 800})
    try:
        page = context.new_page()
        sign_in_page(page, served_station, Role.SUPERVISOR.value)
        page.screenshot(path=str(tmp_path / "narrow.png"), full_page=True)
        page.emulate_media(media="print")
        assert not page.is_visible(".sidebar")
        assert not page.is_visible("form[action='/logout'] button")
        assert not page.is_visible("#lang-select")
        assert page.is_visible("main.content .camera-grid")
        assert page.is_visible(".page-title")
        background = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(255, 255, 255)"
        assert len(page.pdf(format="A4")) > 1000
    finally:
        context.close()


def test_overview_refreshes_its_parts_without_a_reload(
    served: tuple[str, Station], browser: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, station = served
    monkeypatch.setattr(page_routes, "REFRESH_S", 2)
    context = browser.new_context(locale="ru-RU", viewport={"width": 1024, "height": 800})
    try:
        page = context.new_page()
        sign_in_page(page, base, Role.OFFICER.value)
        assert page.get_attribute("#overview-parts", "data-refresh-s") == "2"
        page.evaluate("() => { window.notReloaded = true; }")
        assert "Новая камера" not in (page.text_content("#overview-parts") or "")
        station.health.register("new-cam", "Новая камера")
        page.wait_for_function(
            "() => document.querySelector('#overview-parts').textContent.includes('Новая камера')",
            timeout=10000,
        )
        assert page.evaluate("() => window.notReloaded") is True
        assert "3 камеры" in (page.text_content("#overview-parts") or "")  # the count follows
    finally:
        context.close()
