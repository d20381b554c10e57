"""End to end in real headless Chromium: an admin adds a camera that points at a real RTSP server (with a
password), tests its address (the camera's picture shows), saves it, edits it without retyping the password
(the stored one is kept and never reaches the page), and disables it; then changes station settings, with
an out-of-range number refused under its field, and is told honestly what applies now and what after a
restart. The URL test also tries a sub-stream address; a camera is removed after a confirmation that shows
what stays of it (its footage and evidence), and the page says it stays connected until the restart.
Screenshots: ``docs/admin_cameras.png``, ``docs/admin_settings.png``.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from config.loader import load_config
from config.settings import Settings
from console.app import create_app
from storage.lock import create_lock
from storage.model import Role, utcnow
from storage.user import create_user
from tests.support.browser import CHROMIUM, launch_chromium, require_chromium, save_screenshot, sign_in_page
from tests.support.rtsp_server import RtspServerFactory
from tests.support.served_console import served_app
from tests.support.station_media import password_hash

pytestmark = [pytest.mark.browser, pytest.mark.rtsp, pytest.mark.slow, pytest.mark.timeout(240)]

CAMERA_PASSWORD = "Yard-pw-5150"
GATE_PASSWORD = "Gate-pw-7"
IMAGE_LOADED_JS = """() => {
  const img = document.querySelector('[data-testid=camera-probe-image]');
  return !img.hidden && img.complete && img.naturalWidth > 0;
}"""


@dataclass
class AdminStation:
    base: str
    config_path: Path
    app: Any = None


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def admin_station(tmp_path: Path) -> Iterator[AdminStation]:
    path = tmp_path / "station.yaml"
    path.write_text(
        "station: {name: ЖК Админ, timezone: Asia/Almaty}\n"
        f"storage: {{data_dir: {tmp_path / 'data'}}}\n"
        "cameras:\n"
        "  - id: gate\n"
        "    name: Ворота\n"
        f"    url: rtsp://admin:{GATE_PASSWORD}@127.0.0.1:{closed_port()}/gate\n"
        "    enabled: false\n"
        "    location: {building: '5', area: ворота}\n",
        encoding="utf-8",
    )
    app = create_app(Settings(config=load_config(path), config_path=path))
    with served_app(app, name="admin-e2e") as base:
        with app.state.station.database.session() as session:
            create_user(session, username="admin", role=Role.ADMIN, password_hash=password_hash())
        yield AdminStation(base, path, app)


def fill_new_camera(page: Any, url: str) -> None:
    page.fill("[data-testid=camera-id]", "yard")
    page.fill("[data-testid=camera-name]", "Двор")
    page.fill("[data-testid=camera-url]", url)
    page.fill("[data-testid=camera-password]", CAMERA_PASSWORD)
    page.fill("[data-testid=camera-building]", "5")
    page.fill("[data-testid=camera-area]", "детская площадка")


def test_admin_adds_tests_edits_and_disables_a_camera_then_changes_settings(
    admin_station: AdminStation, rtsp_server_factory: RtspServerFactory, tmp_path: Path
) -> None:
    require_chromium()
    from playwright.sync_api import sync_playwright

    server = rtsp_server_factory(auth=("viewer", CAMERA_PASSWORD))
    base, path = admin_station.base, admin_station.config_path
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright, executable=CHROMIUM, home=tmp_path / "home")
        try:
            page = browser.new_context(locale="ru-RU", viewport={"width": 1440, "height": 1000}).new_page()
            sign_in_page(page, base, "admin")
            page.click("nav a[href='/admin/cameras']")
            page.wait_for_url(f"{base}/admin/cameras")
            page.locator("[data-testid=camera-row-gate]").wait_for()
            error = page.locator("[data-testid=cameras-error]")
            status = page.locator("[data-testid=cameras-status]")
            probe = page.locator("[data-testid=camera-probe-text]")

            # a bad scheme is refused under its field; nothing is saved
            before = path.read_text(encoding="utf-8")
            fill_new_camera(page, "http://127.0.0.1/cam1")
            page.click("[data-testid=camera-save]")
            page.locator(".field-error[data-field=url]").filter(has_text="rtsp:// или rtsps://").wait_for()
            assert error.inner_text() == "Проверьте отмеченные поля"
            assert path.read_text(encoding="utf-8") == before

            # the address is tried first: the camera's picture and what the stream is
            plain = server.url("cam1", "viewer")
            page.fill("[data-testid=camera-url]", plain)
            page.click("[data-testid=camera-test]")
            probe.filter(has_text="Подключено: H264, 640×360").wait_for(timeout=20000)
            page.wait_for_function(IMAGE_LOADED_JS)
            page.click("[data-testid=camera-save]")
            status.filter(has_text="Камера yard сохранена").wait_for()
            row = page.locator("[data-testid=camera-row-yard]")
            row.wait_for()
            assert row.locator("[data-testid=camera-row-url]").inner_text() == plain.replace(
                "viewer@", "viewer:***@"
            )
            assert load_config(path).camera("yard").url == server.url("cam1", "viewer", CAMERA_PASSWORD)
            assert path.with_name("station.yaml.bak").read_text(encoding="utf-8") == before

            # edit without retyping the password: the form holds *** and the stored password stays
            row.locator("[data-testid=camera-edit]").click()
            assert "***" in page.input_value("[data-testid=camera-url]")
            assert page.input_value("[data-testid=camera-password]") == ""
            page.click("[data-testid=camera-test]")
            page.wait_for_function(IMAGE_LOADED_JS)
            probe.filter(has_text="Подключено").wait_for(timeout=20000)
            page.fill("[data-testid=camera-name]", "Двор (детская площадка)")
            page.set_viewport_size({"width": 1440, "height": 1320})  # the form and the picture in view
            save_screenshot(page, "admin_cameras.png")
            page.set_viewport_size({"width": 1440, "height": 1000})
            page.click("[data-testid=camera-save]")
            status.filter(has_text="вступят в силу после перезапуска").wait_for()
            row.filter(has_text="Двор (детская площадка)").wait_for()
            saved = load_config(path).camera("yard")
            assert saved.name == "Двор (детская площадка)"
            assert saved.url == server.url("cam1", "viewer", CAMERA_PASSWORD)
            assert row.locator("[data-testid=camera-pending]").count() == 1

            row.locator("[data-testid=camera-toggle]").click()
            status.filter(has_text="Камера yard отключена").wait_for()
            assert row.locator("[data-testid=camera-state]").inner_text() == "Отключена"
            assert load_config(path).camera("yard").enabled is False
            html = page.content()
            assert CAMERA_PASSWORD not in html and GATE_PASSWORD not in html

            # station settings: an out-of-range number under its field, then a save that says what applies
            page.click("nav a[href='/admin/settings']")
            page.wait_for_url(f"{base}/admin/settings")
            form = page.locator("[data-testid=settings-form][data-loaded]")
            form.wait_for()
            assert page.input_value("[data-testid=settings-station_name]") == "ЖК Админ"
            before = path.read_text(encoding="utf-8")
            page.fill("[data-testid=settings-live_views_per_user]", "99")
            page.click("[data-testid=settings-save]")
            page.locator(".field-error[data-field=live_views_per_user]").filter(
                has_text="Не больше 32"
            ).wait_for()
            assert path.read_text(encoding="utf-8") == before
            page.fill("[data-testid=settings-live_views_per_user]", "4")
            page.fill("[data-testid=settings-station_name]", "ЖК Админ-Восток")
            page.check("[data-testid=settings-detection-gate]")
            page.click("[data-testid=settings-save]")
            settings_status = page.locator("[data-testid=settings-status]")
            settings_status.filter(has_text="Настройки сохранены").wait_for()
            text = settings_status.inner_text()
            assert "Действуют сразу: Название пункта, Живых просмотров на пользователя." in text
            assert "после перезапуска: детекция на камере «Ворота»" in text
            assert page.locator("[data-testid=settings-error]").inner_text() == ""
            page.locator("[data-testid=settings-pending]").filter(has_text="ждёт перезапуска").wait_for()
            assert page.locator(".field-error[data-field=live_views_per_user]").inner_text() == ""
            assert load_config(path).console.live_views_per_user == 4
            page.reload()
            page.locator(".brand-text small").filter(has_text="ЖК Админ-Восток").wait_for()  # applied now
            form.wait_for()
            save_screenshot(page, "admin_settings.png")
        finally:
            browser.close()


def test_admin_tests_a_sub_stream_and_removes_a_camera_after_confirming(
    admin_station: AdminStation, rtsp_server_factory: RtspServerFactory, small_clip: Path, tmp_path: Path
) -> None:
    require_chromium()
    from playwright.sync_api import sync_playwright

    server = rtsp_server_factory({"main": small_clip, "sub": small_clip}, auth=("viewer", CAMERA_PASSWORD))
    base, path = admin_station.base, admin_station.config_path
    now = utcnow()
    # footage of the gate kept as evidence
    with admin_station.app.state.station.database.session() as session:
        create_lock(
            session, camera_id="gate", start_utc=now - timedelta(hours=2), end_utc=now, reason="complaint 1"
        )
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright, executable=CHROMIUM, home=tmp_path / "home")
        try:
            page = browser.new_context(locale="ru-RU", viewport={"width": 1280, "height": 1000}).new_page()
            sign_in_page(page, base, "admin")
            page.goto(f"{base}/admin/cameras")
            gate = page.locator("[data-testid=camera-row-gate]")
            gate.wait_for()
            assert "записи, события и доказательства остаются" in page.inner_text(
                "[data-testid=camera-remove-note]"
            )

            # the URL test tries both addresses: the main one works, the sub-stream's port is closed
            fill_new_camera(page, server.url("main", "viewer"))
            page.fill("[data-testid=camera-sub-url]", f"rtsp://viewer@127.0.0.1:{closed_port()}/sub")
            page.click("[data-testid=camera-test]")
            sub = page.locator("[data-testid=camera-probe-sub-text]")
            sub.filter(has_text="Дополнительный поток:").wait_for(timeout=30000)
            assert page.inner_text("[data-testid=camera-probe-text]").startswith("Основной поток: Подключено")
            assert page.get_attribute("[data-testid=camera-probe-sub]", "data-ok") == "false"
            page.fill("[data-testid=camera-sub-url]", server.url("sub", "viewer"))
            page.click("[data-testid=camera-test]")
            page.wait_for_function(
                "() => document.querySelector('[data-testid=camera-probe-sub]').dataset.ok === 'true'"
                " && document.querySelector('[data-testid=camera-probe-sub-image]').naturalWidth > 0",
                timeout=30000,
            )
            assert CAMERA_PASSWORD not in page.content()

            # removing asks first and shows what stays; cancelling changes nothing
            before = path.read_text(encoding="utf-8")
            dialog = page.locator("[data-testid=camera-remove-dialog]")
            gate.locator("[data-testid=camera-remove]").click()
            dialog.wait_for()
            assert page.inner_text("[data-testid=camera-remove-title]") == "Удалить камеру gate?"
            records = page.locator("[data-testid=camera-remove-records] dd").all_inner_texts()
            assert records == ["0", "1", "0"]  # segments, evidence locks in force, open complaints
            page.click("[data-testid=camera-remove-cancel]")
            dialog.wait_for(state="hidden")
            assert path.read_text(encoding="utf-8") == before and gate.is_visible()

            gate.locator("[data-testid=camera-remove]").click()
            page.click("[data-testid=camera-remove-confirm]")
            status = page.locator("[data-testid=cameras-status]")
            status.filter(has_text="Камера gate удалена из конфигурации").wait_for()
            assert "записи и доказательства сохраняются" in status.inner_text()
            gate.wait_for(state="detached")
            removed = page.locator("[data-testid=cameras-removed]")
            assert removed.is_visible() and "Ворота (gate)" in removed.inner_text()
            assert [camera.id for camera in load_config(path).cameras] == []
            assert path.with_name("station.yaml.bak").read_text(encoding="utf-8") == before
            assert GATE_PASSWORD not in page.content()
        finally:
            browser.close()
