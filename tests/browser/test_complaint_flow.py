"""End to end in real headless Chromium: register a complaint, see and preview proposed footage, attach it,
take the case into work; an investigator plays two cameras side by side on the recordings page; a supervisor
exports the case as a signed package and verifies it on the verify page (and sees a changed clip caught).

The console runs in-process (uvicorn in a thread) on 127.0.0.1 over a temp data dir with real encoded
segments; plain HTTP on loopback needs no network namespace. Screenshots: ``docs/complaints.png`` and
``docs/timeline.png`` (and copies in the artefacts folder).
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from console.app import create_app
from console.password import hash_password
from console.station import Station
from storage.evidence.verifier import verify_package
from storage.model import Role, utcnow
from storage.user import create_user
from tests.support.browser import CHROMIUM, launch_chromium, require_chromium, save_screenshot
from tests.support.console import running_station
from tests.support.evidence import flip_byte
from tests.support.segments import insert_segment_rows, write_segment_set
from tests.support.served_console import served_console
from tests.support.station_media import media_settings

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(240)]
PASSWORD = "complaint-e2e-password"


def seed_users(station: Station) -> None:
    with station.database.session() as session:
        users = (
            ("officer", Role.OFFICER),
            ("investigator", Role.INVESTIGATOR),
            ("chief", Role.SUPERVISOR),
        )
        for name, role in users:
            create_user(session, username=name, role=role, password_hash=hash_password(PASSWORD))


@pytest.fixture
def served_station(tmp_path: Path) -> Iterator[str]:
    settings = media_settings(tmp_path / "data")
    app = create_app(settings)
    # Seed through a TestClient lifespan first (migrations, cameras), then serve the same data dir.
    with TestClient(app) as client:
        station = running_station(client)
        seed_users(station)
        start = (utcnow() - timedelta(minutes=40)).replace(microsecond=0)
        for camera_id, skip in (("b5-e1", (3,)), ("b5-bins", ())):
            files = write_segment_set(
                settings.recordings_dir, camera_id, start, count=6, segment_s=2.0, gop=25, skip=skip
            )
            with station.database.session() as session:
                insert_segment_rows(session, camera_id, files)
    with served_console(settings) as base:
        yield base


@pytest.fixture
def served_station_without_footage(tmp_path: Path) -> Iterator[str]:
    settings = media_settings(tmp_path / "data")
    with TestClient(create_app(settings)) as client:
        seed_users(running_station(client))
    with served_console(settings) as base:
        yield base


def sign_in(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def test_register_attach_and_play(served_station: str, tmp_path: Path) -> None:
    require_chromium()
    from playwright.sync_api import sync_playwright

    base = served_station
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright, executable=CHROMIUM, home=tmp_path / "home")
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1100}, locale="ru-RU")
            sign_in(page, base, "officer")
            page.goto(f"{base}/complaints")
            page.fill("[data-testid=reporter-name]", "Айгуль Садыкова")
            page.fill("[data-testid=building]", "5")
            page.fill("[data-testid=entrance]", "1")
            page.fill("[data-testid=description]", "Мусор оставлен у подъезда")
            page.select_option("select[name=category]", "littering")
            page.click("[data-testid=register]")
            page.wait_for_url(f"{base}/complaints/*")
            complaint_url = page.url
            page.wait_for_selector("[data-testid=proposal-b5-e1]")
            number = page.text_content("[data-testid=complaint-number]") or ""
            assert number.count("-") == 1 and len(number) == 11
            assert page.locator("[data-testid=proposal-b5-bins]").count() == 1
            assert page.locator("[data-testid=proposal-b7-e2]").count() == 0
            assert page.locator("[data-testid=proposal-b5-e1] .tl-gap").count() >= 1

            page.click("[data-testid=proposal-b5-e1] button:not([data-testid])")  # preview
            page.wait_for_function(
                "() => document.getElementById('preview-video').readyState >= 2", timeout=30000
            )
            page.click("[data-testid=attach-b5-e1]")
            page.wait_for_selector("[data-testid=evidence-item]")
            page.click("[data-testid=to-in_progress]")
            page.wait_for_selector("[data-testid=status].status-in_progress")
            save_screenshot(page, "complaints.png")

            investigator = browser.new_page(
                viewport={"width": 1440, "height": 900}, locale="ru-RU", accept_downloads=True
            )
            sign_in(investigator, base, "investigator")
            start = page.evaluate(
                "() => { const s = new Date(Date.now() - 41 * 60000);"
                " return new Intl.DateTimeFormat('sv-SE', {timeZone: 'Asia/Almaty', dateStyle: 'short',"
                " timeStyle: 'short'}).format(s).replace(' ', 'T'); }"
            )
            investigator.goto(f"{base}/recordings?start={start}&cameras=b5-e1,b5-bins")
            investigator.wait_for_selector("[data-testid=player-b5-bins] .tl-span")
            investigator.select_option("select[name=length]", "900")
            investigator.click("[data-testid=show]")
            investigator.wait_for_function(
                "() => [...document.querySelectorAll('.player video')].length === 2 &&"
                " [...document.querySelectorAll('.player video')].every(v => v.readyState >= 2)",
                timeout=30000,
            )
            investigator.click("#play")
            investigator.wait_for_function(
                "() => document.querySelector('.player video').currentTime > 61", timeout=30000
            )
            times = investigator.evaluate(
                "[...document.querySelectorAll('.player video')].map(v => v.currentTime)"
            )
            assert abs(times[0] - times[1]) < 0.6, times
            # scrubbing by eye: hovering the bar shows the keyframe thumbnail of the segment there
            span = investigator.locator("[data-testid=timeline-b5-e1] .tl-span").first
            box = span.bounding_box()
            assert box is not None
            investigator.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            investigator.wait_for_function(
                "() => { const img = document.querySelector('[data-testid=timeline-b5-e1] .tl-hover img');"
                " return img && !img.hidden && img.complete && img.naturalWidth > 0; }",
                timeout=15000,
            )
            save_screenshot(investigator, "timeline.png")

            # days at a glance: a 3-day overview draws the bars only; a click opens the hour there, played
            investigator.select_option("select[name=length]", "259200")
            investigator.click("[data-testid=show]")
            investigator.wait_for_selector("#overview-hint:not([hidden])")
            investigator.wait_for_selector("[data-testid=timeline-b5-e1] .tl-span", state="attached")
            assert investigator.locator(".player video:not([hidden])").count() == 0
            investigator.locator("[data-testid=timeline-b5-e1]").click(position={"x": 2, "y": 10})
            investigator.wait_for_function(
                "() => document.querySelector('select[name=length]').value === '3600' &&"
                " [...document.querySelectorAll('.player video')].length === 2 &&"
                " [...document.querySelectorAll('.player video')].every(v => !v.hidden && v.readyState >= 2)",
                timeout=30000,
            )
            # the investigator exports both cameras over the shown hour as one signed package
            investigator.fill("input[name=reason]", "запрос следователя")
            with investigator.expect_download(timeout=60000) as range_download:
                investigator.click("[data-testid=export-range]")
            range_package = tmp_path / "range.zip"
            range_download.value.save_as(range_package)
            range_report = verify_package(range_package)
            assert range_report.intact, range_report.render()
            assert range_report.manifest is not None
            assert {c["camera"]["id"] for c in range_report.manifest["clips"]} == {"b5-e1", "b5-bins"}

            # The supervisor exports the case as a signed package and checks it on the verify page.
            chief = browser.new_page(
                viewport={"width": 1440, "height": 1000}, locale="ru-RU", accept_downloads=True
            )
            sign_in(chief, base, "chief")
            chief.goto(complaint_url)
            chief.wait_for_selector("#export-package:not([hidden])")
            with chief.expect_download(timeout=60000) as download_info:
                chief.click("#export-package")
            package = tmp_path / "evidence.zip"
            download_info.value.save_as(package)
            assert verify_package(package).intact

            chief.goto(f"{base}/verify")
            chief.set_input_files("input[name=package]", str(package))
            chief.click("#verify-form button[type=submit]")
            chief.wait_for_selector("#verify-result.valid", timeout=30000)
            save_screenshot(chief, "verify.png")

            with zipfile.ZipFile(package) as archive:
                clip = next(n for n in archive.namelist() if n.startswith("clips/"))
            flip_byte(package, clip)
            chief.set_input_files("input[name=package]", str(package))
            chief.click("#verify-form button[type=submit]")
            chief.wait_for_selector("#verify-result.invalid", timeout=30000)
            assert clip in (chief.text_content("#verify-result") or "")
        finally:
            browser.close()


def test_closing_records_exactly_the_chosen_outcome(
    served_station_without_footage: str, tmp_path: Path
) -> None:
    """Issue 25: "Не подтвердилось" chosen, "Закрыть как решённое" clicked was saved as resolved with
    "Составлен протокол". The page offers only the closing actions the chosen outcome fits, sends exactly the
    chosen outcome, and shows the server's refusal; the record holds what the officer chose."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    base = served_station_without_footage
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright, executable=CHROMIUM, home=tmp_path / "home")
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="ru-RU")
            sign_in(page, base, "officer")
            page.goto(f"{base}/complaints")
            page.fill("[data-testid=building]", "5")
            page.fill("[data-testid=description]", "Курят у подъезда")
            page.select_option("select[name=category]", "smoking")
            page.click("[data-testid=register]")
            page.wait_for_url(f"{base}/complaints/*")
            complaint_id = page.url.rstrip("/").rsplit("/", 1)[-1]
            page.wait_for_selector("[data-testid=to-rejected]")
            # issue 25, defect 4: nothing was recorded, so there is nothing to attach
            page.wait_for_selector("[data-testid=attach-b5-e1]")
            assert page.locator("[data-testid=attach-b5-e1]").is_disabled()
            # ... and a supervisor (who may export) sees no export button while nothing is attached
            chief = browser.new_page(viewport={"width": 1280, "height": 900}, locale="ru-RU")
            sign_in(chief, base, "chief")
            chief.goto(page.url)
            chief.wait_for_selector("[data-testid=to-rejected]")
            assert (
                chief.locator("#export-package").count() == 1 and chief.locator("#export-package").is_hidden()
            )
            chief.close()
            # a new complaint can only be rejected: only the outcomes of a rejection are offered
            assert outcome_values(page) == ["", "referred", "unfounded"]
            assert page.locator("[data-testid=to-rejected]").is_disabled()  # no outcome chosen yet
            page.click("[data-testid=to-in_progress]")
            page.wait_for_selector("[data-testid=status].status-in_progress")

            values = outcome_values(page)
            assert values[0] == "" and set(values[1:]) == {
                "warning_given",
                "protocol_drawn_up",
                "referred",
                "unfounded",
            }
            assert page.locator("[data-testid=to-resolved]").is_disabled()
            page.select_option("#outcome", label="Составлен протокол")
            assert page.locator("[data-testid=to-resolved]").is_enabled()
            assert page.locator("[data-testid=to-rejected]").is_disabled()

            page.select_option("#outcome", label="Не подтвердилось")
            resolve = page.locator("[data-testid=to-resolved]")
            assert resolve.text_content() == "Закрыть как решённое"
            assert resolve.is_disabled(), "resolving must not be offered for an unfounded outcome"
            assert page.locator("[data-testid=to-rejected]").is_enabled()

            # Even if the button is forced on, the page sends the chosen outcome and shows the refusal.
            resolve.evaluate("button => { button.disabled = false; }")
            resolve.click()
            page.wait_for_function(
                "() => document.getElementById('complaint-error').textContent.length > 0"
                " || !document.querySelector('[data-testid=status]').classList.contains('status-in_progress')"
            )
            stored = api_complaint(page, complaint_id)[:2]
            assert stored == ("in_progress", None), f"saved as {stored} instead of refused"
            refusal = page.text_content("#complaint-error") or ""
            assert refusal.startswith("Результат для статуса «Решено» должен быть одним из"), refusal

            page.fill("[data-testid=status-note]", "Факт не подтвердился при проверке")
            page.click("[data-testid=to-rejected]")
            page.wait_for_selector("[data-testid=status].status-rejected")
            badge = page.text_content("[data-testid=status]") or ""
            assert "Не подтвердилось" in badge and "Составлен протокол" not in badge, badge
            assert api_complaint(page, complaint_id)[:2] == ("rejected", "unfounded")
            history = api_complaint(page, complaint_id)[2]
            assert history[-1]["note"] == "Факт не подтвердился при проверке"
            assert history[-1]["detail"] == {"outcome": "unfounded"}
            # issue 25, defect 4: the earlier refusal is gone after the success; no attaching to a closed case
            assert (page.text_content("#complaint-error") or "") == ""
            page.wait_for_function("() => !document.querySelector('[data-testid=attach-b5-e1]')")
            # issue 25, defect 5: the history shows names, translated values and station time
            shown = page.text_content("#history") or ""
            assert "Не подтвердилось" in shown and "officer" in shown, shown
            for raw in ("unfounded", "+00:00", "user ", "outcome:", "T0", "T1", "T2"):
                assert raw not in shown, (raw, shown)

            # reopening takes no outcome: none is offered, none is sent, the reopened record holds none
            assert page.locator("#outcome").is_hidden()
            page.fill("[data-testid=status-note]", "Жильцы прислали видео")
            page.click("[data-testid=to-in_progress]")
            page.wait_for_selector("[data-testid=status].status-in_progress")
            assert api_complaint(page, complaint_id)[:2] == ("in_progress", None)
        finally:
            browser.close()


def api_complaint(page: Any, complaint_id: str) -> tuple[str, str | None, list[dict[str, Any]]]:
    """The stored record, read through the API with the page's session."""
    detail = page.evaluate(
        "async (cid) => (await fetch(`/api/complaints/${cid}`,"
        " {headers: {Accept: 'application/json'}})).json()",
        complaint_id,
    )
    return detail["complaint"]["status"], detail["complaint"]["outcome"], detail["history"]


def outcome_values(page: Any) -> list[str]:
    values: list[str] = page.eval_on_selector_all("#outcome option", "options => options.map(o => o.value)")
    return values
