"""The printable complaint card in real headless Chromium: in Kazakh and Russian it shows no English
sentence, it carries the attached footage's SHA-256 hashes and the package fingerprint, and printed to PDF
(A4, Chromium's own ``page.pdf()``) a typical complaint fits on one or two pages.

The console runs in-process (uvicorn in a thread) on 127.0.0.1 over real recorded segments and a real signed
export.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from console.app import create_app
from console.station import Station
from storage.model import utcnow
from storage.user import create_user
from tests.browser.test_page_language import TEXTS_JS, english_in
from tests.support.browser import CHROMIUM, artifacts_dir, launch_chromium, require_chromium, sign_in_page
from tests.support.console import DEFAULT_PASSWORD
from tests.support.segments import insert_segment_rows, write_segment_set
from tests.support.served_console import served_app
from tests.support.station_media import ROLES, media_settings, password_hash

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

PDF_PAGE = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")


@dataclass(frozen=True)
class CardStation:
    base: str
    complaint_id: int
    number: str
    file_hashes: list[str]
    package_hash: str


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _file_complaint(base: str, start: datetime) -> tuple[int, str, str]:
    """Register, attach two cameras and export, as the supervisor; returns id, number, package hash."""
    with httpx.Client(base_url=base, timeout=60) as client:
        login = client.post("/api/auth/login", json={"username": "supervisor", "password": DEFAULT_PASSWORD})
        login.raise_for_status()
        client.headers["X-CSRF-Token"] = login.json()["csrf_token"]
        created = client.post(
            "/api/complaints",
            json={
                "received_at": iso(start + timedelta(minutes=5)),
                "channel": "phone",
                "category": "littering",
                "reporter_name": "Жанұзақова Айгерім Серікқызы",
                "reporter_contact": "+7 701 123 45 67",
                "description": "Мусор у подъезда, выброшен из окна второго этажа. " * 3,
                "building": "5",
                "entrance": "1",
                "incident_start": iso(start),
                "incident_end": iso(start + timedelta(seconds=6)),
            },
        )
        assert created.status_code == 201, created.text
        cid, number = created.json()["complaint"]["id"], created.json()["complaint"]["number"]
        for camera in ("b5-e1", "b5-bins"):
            attached = client.post(
                f"/api/complaints/{cid}/evidence",
                json={
                    "camera_id": camera,
                    "start": iso(start + timedelta(seconds=1)),
                    "end": iso(start + timedelta(seconds=5)),
                },
            )
            assert attached.status_code == 201, attached.text
        taken = client.post(f"/api/complaints/{cid}/status", json={"status": "in_progress"})
        assert taken.status_code == 200, taken.text
        made = client.post(f"/api/complaints/{cid}/export", json={"reason": "запрос суда"})
        assert made.status_code == 201, made.text
        deadline = time.monotonic() + 30
        while True:
            state = client.get(made.json()["url"]).json()
            if state.get("sha256") or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert state["sha256"], state
        return cid, number, str(state["sha256"])


@pytest.fixture(scope="module")
def card_station(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CardStation]:
    app = create_app(media_settings(tmp_path_factory.mktemp("card") / "data"))
    with served_app(app, name="card-e2e") as base:
        station = app.state.station
        assert isinstance(station, Station)
        with station.database.session() as session:
            for username, role in ROLES.items():
                create_user(
                    session, username=username, role=role, password_hash=password_hash(), display_name="Айгүл"
                )
        start = (utcnow() - timedelta(minutes=30)).replace(microsecond=0)
        hashes: list[str] = []
        for camera in ("b5-e1", "b5-bins"):
            files = write_segment_set(
                station.settings.recordings_dir, camera, start, count=3, segment_s=2.0, gop=25
            )
            with station.database.session() as session:
                insert_segment_rows(session, camera, files)
            hashes += [f.sha256 for f in files if f.start_utc < start + timedelta(seconds=5)]
        cid, number, package_hash = _file_complaint(base, start)
        yield CardStation(base, cid, number, hashes, package_hash)


def test_card_in_kazakh_and_russian_prints_to_one_or_two_a4_pages(
    card_station: CardStation, tmp_path_factory: pytest.TempPathFactory
) -> None:
    require_chromium()
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    pages: dict[str, int] = {}
    with sync_playwright() as playwright:
        browser = launch_chromium(
            playwright, executable=CHROMIUM, home=tmp_path_factory.mktemp("chromium-home")
        )
        try:
            for lang in ("kk", "ru"):
                context = browser.new_context(locale=f"{lang}-KZ", viewport={"width": 1024, "height": 800})
                page = context.new_page()
                try:
                    sign_in_page(page, card_station.base, "supervisor", lang=lang)
                    page.goto(f"{card_station.base}/complaints/{card_station.complaint_id}")
                    page.click("[data-testid=print-card-link]")
                    page.wait_for_url(f"**/complaints/{card_station.complaint_id}/card")
                    page.wait_for_selector("[data-testid=complaint-card]")
                    text: str = page.evaluate(TEXTS_JS)
                    english = english_in(text)
                    if english:
                        problems.append(f"{lang}: {sorted(set(english))}")
                    for wanted in (*card_station.file_hashes, card_station.package_hash, card_station.number):
                        assert wanted in text, f"{lang}: {wanted} not on the card"
                    assert "Жанұзақова Айгерім Серікқызы" in text
                    assert page.evaluate("() => document.documentElement.scrollWidth") <= 1024
                    page.emulate_media(media="print")
                    assert (
                        page.evaluate("() => getComputedStyle(document.querySelector('.sidebar')).display")
                        == "none"
                    )
                    pdf: bytes = page.pdf(format="A4", print_background=False, prefer_css_page_size=True)
                    assert pdf.startswith(b"%PDF")
                    (artifacts_dir() / f"complaint-card-{lang}.pdf").write_bytes(pdf)
                    pages[lang] = len(PDF_PAGE.findall(pdf))
                finally:
                    context.close()
        finally:
            browser.close()
    assert not problems, "\n".join(problems)
    assert all(1 <= count <= 2 for count in pages.values()), pages


def test_print_button_opens_the_print_dialog(card_station: CardStation, tmp_path_factory: Any) -> None:
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(
            playwright, executable=CHROMIUM, home=tmp_path_factory.mktemp("chromium-home")
        )
        try:
            page = browser.new_page()
            sign_in_page(page, card_station.base, "officer", lang="ru")
            page.goto(f"{card_station.base}/complaints/{card_station.complaint_id}/card")
            page.evaluate("() => { window.__printed = 0; window.print = () => { window.__printed += 1; }; }")
            page.click("[data-testid=print-card]")
            page.wait_for_function("() => window.__printed === 1")
            page.goto(f"{card_station.base}/complaints/{card_station.complaint_id}/card?lang=kk")
            assert page.locator("[data-testid=card-reporter]").inner_text().startswith("Жанұзақова")
        finally:
            browser.close()
