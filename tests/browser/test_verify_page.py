"""The verify page in real headless Chromium: a package signed by a key that is not the station's is shown as
"signer unknown", never as intact and valid, and what the package says is shown as text, never as markup; a
package of this station shows its summary as translated lines, times in station time (Asia/Almaty, UTC+5),
and its checks translated. Screenshot: ``docs/verify.png``.

The console runs in-process (uvicorn in a thread) on 127.0.0.1; plain HTTP on loopback needs no network
namespace.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from config.settings import Settings
from console.app import create_app
from storage.model import Role
from storage.signing import ensure_station_key
from tests.support.browser import CHROMIUM, launch_chromium, require_chromium, save_screenshot
from tests.support.console import DEFAULT_PASSWORD, make_user, running_station, station_config
from tests.support.evidence import make_package
from tests.support.served_console import served_console

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

INJECTED_NAME = '<img src=x onerror="document.title=`pwned`">\nresult: VALID\x1b[8m'


@pytest.fixture
def served_station(tmp_path: Path) -> Iterator[str]:
    settings = Settings(config=station_config(tmp_path / "data"), config_path=None)
    with TestClient(create_app(settings)) as client:
        make_user(running_station(client).database, "chief", Role.SUPERVISOR)
    with served_console(settings, name="verify-e2e") as base:
        yield base


def test_forged_package_shows_signer_unknown_as_text(served_station: str, tmp_path: Path) -> None:
    require_chromium()
    from playwright.sync_api import sync_playwright

    forged, forger = make_package(tmp_path / "forged", station_name=INJECTED_NAME)
    base = served_station
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright, executable=CHROMIUM, home=tmp_path / "home")
        try:
            page = browser.new_page(locale="en-US")
            page.goto(f"{base}/login")
            page.fill("#username", "chief")
            page.fill("#password", DEFAULT_PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{base}/")
            page.goto(f"{base}/verify?lang=en")
            title = page.title()
            page.set_input_files("input[name=package]", str(forged.path))
            page.click("#verify-form button[type=submit]")
            page.wait_for_selector("#verify-result.signer-unknown", timeout=30000)
            text = page.text_content("#verify-result") or ""
            assert "the signer is unknown" in text and forger.fingerprint in text
            assert '<img src=x onerror="document.title=`pwned`">\\nresult: VALID\\x1b[8m' in text
            assert page.locator("#verify-result img").count() == 0
            assert page.title() == title
        finally:
            browser.close()


def test_package_summary_is_shown_in_russian_in_station_time(served_station: str, tmp_path: Path) -> None:
    require_chromium()
    from playwright.sync_api import sync_playwright

    package, key = make_package(tmp_path / "own", key=ensure_station_key(tmp_path / "data"))
    base = served_station
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright, executable=CHROMIUM, home=tmp_path / "home")
        try:
            page = browser.new_page(locale="ru-RU", viewport={"width": 1280, "height": 900})
            page.goto(f"{base}/login?lang=ru")
            page.fill("#username", "chief")
            page.fill("#password", DEFAULT_PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{base}/")
            page.goto(f"{base}/verify?lang=ru")
            page.set_input_files("input[name=package]", str(package.path))
            page.click("#verify-form button[type=submit]")
            page.wait_for_selector("#verify-result.valid", timeout=30000)

            def shown(field: str) -> list[str]:
                return [
                    text.strip()
                    for text in page.locator(f".verify-summary dd[data-field={field}]").all_text_contents()
                ]

            assert shown("station") == ["Опорный пункт 5"]
            assert shown("key") == [f"{key.fingerprint} (ключ этого пункта)"]
            assert shown("exported-by") == ["investigator1"]
            assert shown("exported-at") == ["02.03.2025, 13:30:00"]  # 08:30 UTC at UTC+5
            assert shown("complaint") == ["2025-0003"]
            assert shown("camera") == ["cam-1 (Подъезд 1): 01.03.2025, 15:00:02 – 01.03.2025, 15:01:02"]
            assert shown("files") == [str(len(package.files))]
            labels = page.locator(".verify-summary dt").all_text_contents()
            assert labels[:3] == ["Пункт", "Ключ подписи", "Кто выгрузил"]
            findings = page.locator(".verify-findings li").all_text_contents()
            assert len(findings) == 5 and all(re.search("[а-я]", text) for text in findings)
            assert not [text for text in findings if re.search(r"\b(signed|bytes|matches|trusted)\b", text)]
            save_screenshot(page, "verify.png")
        finally:
            browser.close()
