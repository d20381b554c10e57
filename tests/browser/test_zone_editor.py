"""End to end in real headless Chromium: an admin draws a zone on the camera's current picture and saves it.

The station runs from a real config file (a looped file camera gives the picture); the saved zone must be in
the file on disk, with the previous file kept as ``.bak``; an invalid schedule is refused with the server's
translated message and leaves the file as it was. Screenshot: ``docs/zone_editor.png``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from config.loader import load_config
from config.settings import Settings
from console.app import create_app
from storage.model import Role
from storage.user import create_user
from tests.support.browser import CHROMIUM, launch_chromium, require_chromium, save_screenshot
from tests.support.console import DEFAULT_PASSWORD
from tests.support.served_console import served_app
from tests.support.station_media import password_hash

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(240)]


@dataclass
class ZoneStation:
    base: str
    config_path: Path


@pytest.fixture
def zone_station(tmp_path: Path, small_clip: Path) -> Iterator[ZoneStation]:
    path = tmp_path / "station.yaml"
    path.write_text(
        "station: {name: ЖК Зоны, timezone: Asia/Almaty}\n"
        f"storage: {{data_dir: {tmp_path / 'data'}}}\n"
        "cameras:\n"
        "  - id: gate\n"
        "    name: Ворота\n"
        f"    url: {small_clip.as_uri()}\n"
        "    detection: {enabled: true, kinds: [motion], fps: 1}\n",
        encoding="utf-8",
    )
    app = create_app(Settings(config=load_config(path), config_path=path))
    with served_app(app, name="zones-e2e") as base:
        with app.state.station.database.session() as session:
            create_user(session, username="admin", role=Role.ADMIN, password_hash=password_hash())
        yield ZoneStation(base, path)


def sign_in(page: Any, base: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#username", "admin")
    page.fill("#password", DEFAULT_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def draw(page: Any, button: str, fractions: list[tuple[float, float]]) -> None:
    """Draw a polygon: the tool's button, a click per point, then close it."""
    page.click(f"[data-testid={button}]")
    canvas = page.locator("[data-testid=zones-canvas]")
    box = canvas.bounding_box()
    for x, y in fractions:
        canvas.click(position={"x": x * box["width"], "y": y * box["height"]})
    page.click("[data-testid=zones-close]")


def drag(page: Any, start: tuple[float, float], end: tuple[float, float]) -> None:
    box = page.locator("[data-testid=zones-canvas]").bounding_box()
    page.mouse.move(box["x"] + start[0] * box["width"], box["y"] + start[1] * box["height"])
    page.mouse.down()
    page.mouse.move(box["x"] + end[0] * box["width"], box["y"] + end[1] * box["height"], steps=5)
    page.mouse.up()


def test_admin_draws_and_saves_a_zone(zone_station: ZoneStation, tmp_path: Path) -> None:
    require_chromium()
    from playwright.sync_api import sync_playwright

    base, path = zone_station.base, zone_station.config_path
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright, executable=CHROMIUM, home=tmp_path / "home")
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1000}, locale="ru-RU")
            sign_in(page, base)
            page.click("nav a[href='/admin/zones']")
            page.wait_for_url(f"{base}/admin/zones")
            page.wait_for_function(
                "() => window.stationZones && window.stationZones.describe().picture", timeout=30000
            )
            assert page.evaluate("() => document.getElementById('zones-snapshot').naturalWidth") == 640

            draw(page, "zones-new-zone", [(0.2, 0.3), (0.6, 0.3), (0.65, 0.85), (0.15, 0.85)])
            drag(page, (0.6, 0.3), (0.7, 0.25))  # a corner moved after closing
            draw(page, "zones-new-mask", [(0.7, 0.02), (0.98, 0.02), (0.98, 0.12)])
            page.fill("[data-testid=zone-name]", "door")
            page.check("[data-testid=zone-kind-motion]")
            page.fill("[data-testid=zone-schedule]", "22:00-06:00")
            page.click("[data-testid=zones-save]")
            status = page.locator("[data-testid=zones-status]")
            status.filter(has_text="station.yaml.bak").wait_for(timeout=15000)
            assert status.inner_text().startswith("Сохранено; уже применено.")

            zone = load_config(path).camera("gate").detection.zones[0]
            assert zone.name == "door" and zone.schedule == ["22:00-06:00"] and zone.kinds == ["motion"]
            assert len(zone.points) == 4
            assert zone.points[0] == pytest.approx((0.2, 0.3), abs=0.01)
            assert zone.points[1] == pytest.approx((0.7, 0.25), abs=0.01)
            assert zone.points[2] == pytest.approx((0.65, 0.85), abs=0.01)
            assert len(load_config(path).camera("gate").detection.masks) == 1
            assert path.with_name("station.yaml.bak").exists()
            page.locator("[data-testid=zones-list] li.selected").filter(has_text="door").wait_for()
            save_screenshot(page, "zone_editor.png")

            saved = path.read_text(encoding="utf-8")
            page.fill("[data-testid=zone-schedule]", "22-06")
            page.click("[data-testid=zones-save]")
            error = page.locator("[data-testid=zones-error]")
            error.filter(has_text="Недопустимое значение").wait_for(timeout=15000)
            assert "HH:MM-HH:MM" in error.inner_text()
            assert path.read_text(encoding="utf-8") == saved
        finally:
            browser.close()
