"""Notifications on the wall and the overview, in real headless Chromium: the bell shows a camera that
cannot be reached, and a detection event that appears while the wall is open shows up without a reload,
in Kazakh; the sound toggle is remembered, and it is the same setting as the wall's "Sound on new events":
one beep per new thing, whichever of the two hears of it first. The console runs in-process (uvicorn in a
thread) on 127.0.0.1; its camera points at a closed port, so it goes offline for real.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from config.settings import Settings
from console.app import create_app
from console.station import Station
from storage.event import open_event
from storage.model import Role, utcnow
from tests.browser.test_page_language import TEXTS_JS, english_in
from tests.support.browser import CHROMIUM, launch_chromium, require_chromium, sign_in_page
from tests.support.console import make_user, station_config
from tests.support.served_console import served_app

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Station]]:
    app = create_app(
        Settings(config=station_config(tmp_path_factory.mktemp("notify") / "data"), config_path=None)
    )
    with served_app(app, name="notify-e2e") as base:
        station = app.state.station
        assert isinstance(station, Station)
        make_user(station.database, "officer", Role.OFFICER, display_name="Айгүл")
        yield base, station


def test_wall_shows_new_notifications_without_reload(
    served: tuple[str, Station], tmp_path_factory: pytest.TempPathFactory
) -> None:
    require_chromium()
    from playwright.sync_api import sync_playwright

    base, station = served
    with sync_playwright() as playwright:
        browser = launch_chromium(
            playwright, executable=CHROMIUM, home=tmp_path_factory.mktemp("chromium-home")
        )
        try:
            context = browser.new_context(locale="kk-KZ", viewport={"width": 1024, "height": 800})
            page = context.new_page()
            sign_in_page(page, base, "officer", lang="kk")
            # the overview has the bell too
            page.wait_for_selector("[data-testid=notify-bell]")
            page.goto(f"{base}/live")
            page.evaluate("() => { window.__sameDocument = true; }")
            page.wait_for_function(
                "() => document.querySelector('#notify [data-kind=camera_offline]') !== null",
                timeout=30_000,
            )
            assert not page.locator("[data-testid=notify-count]").is_hidden()
            with station.database.session() as session:
                open_event(
                    session,
                    camera_id="entrance-1",
                    kind="littering",
                    zone=None,
                    start_utc=utcnow() - timedelta(seconds=5),
                    score=0.9,
                    detail={},
                )
            page.wait_for_function(
                "() => document.querySelector('#notify [data-kind=events_pending]') !== null",
                timeout=30_000,
            )
            assert page.evaluate("() => window.__sameDocument === true")  # no reload
            page.click("[data-testid=notify-bell]")
            panel = page.locator("[data-testid=notify-panel]")
            assert panel.is_visible()
            shown = panel.inner_text()
            assert "Подъезд 1 камерасы бейне бермейді." in shown
            assert "Тексеруді күтетін тану оқиғалары: 1." in shown
            assert page.locator("[data-kind=events_pending] a").get_attribute("href") == "/events"
            assert not english_in(page.evaluate(TEXTS_JS))
            # the sound is off by default; turned on, it is remembered
            sound = page.locator("[data-testid=notify-sound]")
            assert not sound.is_checked()
            sound.check()
            page.reload()
            page.click("[data-testid=notify-bell]")
            assert page.locator("[data-testid=notify-sound]").is_checked()
            assert page.evaluate("() => localStorage.getItem('station.sound')") == "on"
            page.keyboard.press("Escape")
            assert page.locator("[data-testid=notify-panel]").is_hidden()
            context.close()
        finally:
            browser.close()


def test_wall_and_notifications_share_one_sound_setting_and_beep_once(
    served: tuple[str, Station], tmp_path_factory: pytest.TempPathFactory
) -> None:
    require_chromium()
    from playwright.sync_api import sync_playwright

    base, station = served
    with sync_playwright() as playwright:
        browser = launch_chromium(
            playwright, executable=CHROMIUM, home=tmp_path_factory.mktemp("chromium-home")
        )
        try:
            context = browser.new_context(locale="ru-RU", viewport={"width": 1280, "height": 800})
            # a user who had turned the panel's sound on under its former key keeps that choice
            context.add_init_script(
                "if (location.pathname === '/live' && localStorage.getItem('station.sound') === null)"
                " localStorage.setItem('station.notifications.sound', 'on');"
            )
            page = context.new_page()
            sign_in_page(page, base, "officer", lang="ru")
            page.goto(f"{base}/live")
            page.wait_for_function("() => window.stationWall !== undefined")
            wall_sound = page.locator("[data-testid=wall-sound]")
            panel_sound = page.locator("[data-testid=notify-sound]")
            assert wall_sound.is_checked()
            page.click("[data-testid=notify-bell]")
            assert panel_sound.is_checked()
            # unticking one unticks the other at once, and both read one key
            wall_sound.uncheck()
            assert not panel_sound.is_checked()
            keys = "() => Object.keys(localStorage).filter((k) => k.includes('sound')).sort()"
            assert page.evaluate(keys) == ["station.sound"]
            assert page.evaluate("() => localStorage.getItem('station.sound')") == "off"
            panel_sound.check()
            page.reload()
            page.wait_for_function("() => window.stationWall !== undefined")
            assert wall_sound.is_checked()
            page.click("[data-testid=notify-bell]")
            assert panel_sound.is_checked()

            # what is there when the page opens does not beep (the camera may go offline after it opened)
            page.wait_for_function(
                "() => document.querySelector('#notify [data-kind=camera_offline]') !== null",
                timeout=30_000,
            )
            beeps = "() => window.stationWall.describe().beeps"
            before = page.evaluate(beeps)
            assert before <= 1
            # a new detection event: the panel's poll hears of it and beeps once ...
            with station.database.session() as session:
                first = open_event(
                    session,
                    camera_id="entrance-1",
                    kind="smoking",
                    zone=None,
                    start_utc=utcnow() - timedelta(seconds=5),
                    score=0.9,
                    detail={},
                ).id
            page.wait_for_function(
                f"() => document.querySelector('#notify [data-key=\"events_pending:{first}\"]') !== null",
                timeout=30_000,
            )
            page.wait_for_function("(n) => window.stationWall.describe().beeps === n", arg=before + 1)
            # ... and the wall, hearing of the same event from its event stream, stays quiet
            active = "(id) => window.stationWall.setEvents([{id, camera_id: 'entrance-1', kind: 'smoking'}])"
            page.evaluate(active, first)
            assert page.evaluate(beeps) == before + 1
            # the other way round: the wall hears first and beeps, the panel's next poll stays quiet
            with station.database.session() as session:
                second = open_event(
                    session,
                    camera_id="entrance-1",
                    kind="smoking",
                    zone=None,
                    start_utc=utcnow() - timedelta(seconds=2),
                    score=0.9,
                    detail={},
                ).id
            page.evaluate(active, second)
            assert page.evaluate(beeps) == before + 2
            page.wait_for_function(
                f"() => document.querySelector('#notify [data-key=\"events_pending:{second}\"]') !== null",
                timeout=30_000,
            )
            assert page.evaluate(beeps) == before + 2
            context.close()
        finally:
            browser.close()
