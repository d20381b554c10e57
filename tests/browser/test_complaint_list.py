"""The complaints list in real headless Chromium (issue 25, defect 3): it opens on "open cases / mine",
pages past 50 rows, and searches number, description, reporter and phone as the officer types."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from console.app import create_app
from console.password import hash_password
from storage.complaint import ComplaintFields, create_complaint, transition_complaint
from storage.model import ComplaintStatus, Role, utcnow
from storage.user import create_user
from tests.support.browser import CHROMIUM, launch_chromium, require_chromium
from tests.support.console import running_station
from tests.support.served_console import served_console
from tests.support.station_media import media_settings

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(240)]
PASSWORD = "complaint-list-password"
MINE = 55  # registered by the officer, open
OTHERS = 3  # registered by the supervisor
CLOSED = 2  # of the officer's, closed


@pytest.fixture
def served_list(tmp_path: Path) -> Iterator[str]:
    settings = media_settings(tmp_path / "data")
    with TestClient(create_app(settings)) as client:
        station = running_station(client)
        now = utcnow()
        with station.database.session() as session:
            ids = {
                name: create_user(session, username=name, role=role, password_hash=hash_password(PASSWORD)).id
                for name, role in (("officer", Role.OFFICER), ("chief", Role.SUPERVISOR))
            }
            for i in range(MINE + OTHERS + CLOSED):
                at = now - timedelta(minutes=200 - i)
                complaint = create_complaint(
                    session,
                    fields=ComplaintFields(
                        received_at=at,
                        channel="phone",
                        category="noise",
                        incident_start=at - timedelta(minutes=30),
                        incident_end=at - timedelta(minutes=10),
                        description="Шумят соседи" if i != 7 else "Мусор у подъезда",
                        reporter_name="Ерлан Ахметов" if i == 3 else "Айгуль",
                        reporter_contact="+7 (777) 123-45-67" if i == 3 else None,
                        building="5",
                    ),
                    created_by=ids["chief"] if MINE <= i < MINE + OTHERS else ids["officer"],
                    now=at,
                    year=now.year,
                    due_at=None,
                )
                if i >= MINE + OTHERS:
                    transition_complaint(
                        session,
                        complaint=complaint,
                        to_status=ComplaintStatus.REJECTED,
                        outcome="referred",
                        user_id=ids["chief"],
                        now=now,
                        closed_case_retention_days=30,
                    )
    with served_console(settings) as base:
        yield base


def rows(page: Any) -> int:
    count: int = page.locator("#complaint-rows tr").count()
    return count


def total(page: Any) -> str:
    return page.text_content("[data-testid=complaint-total]") or ""


def test_list_opens_on_open_and_mine_pages_and_searches(served_list: str, tmp_path: Path) -> None:
    require_chromium()
    from playwright.sync_api import sync_playwright

    base = served_list
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright, executable=CHROMIUM, home=tmp_path / "home")
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="ru-RU")
            page.goto(f"{base}/login")
            page.fill("#username", "officer")
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{base}/")
            page.goto(f"{base}/complaints")
            page.wait_for_function(
                "() => document.getElementById('complaint-total').textContent.includes('55')"
            )
            assert page.input_value("[data-testid=status-filter]") == "open"
            assert page.is_checked("[data-testid=mine]")
            assert rows(page) == 50 and total(page) == "1–50 из 55"
            assert page.locator("[data-testid=page-prev]").is_disabled()

            page.click("[data-testid=page-next]")
            page.wait_for_function(
                "() => document.getElementById('complaint-total').textContent.startsWith('51')"
            )
            assert rows(page) == 5 and total(page) == "51–55 из 55"
            assert page.locator("[data-testid=page-next]").is_disabled()
            page.click("[data-testid=page-prev]")
            page.wait_for_function(
                "() => document.getElementById('complaint-total').textContent.startsWith('1–')"
            )

            page.uncheck("[data-testid=mine]")  # everyone's open cases: back to the first page
            page.wait_for_function(
                "() => document.getElementById('complaint-total').textContent.endsWith(' 58')"
            )
            page.select_option("[data-testid=status-filter]", "")  # any status
            page.wait_for_function(
                "() => document.getElementById('complaint-total').textContent.endsWith(' 60')"
            )

            page.fill("[data-testid=complaint-search]", "МУСОР")
            page.wait_for_function("() => document.querySelectorAll('#complaint-rows tr').length === 1")
            page.fill("[data-testid=complaint-search]", "123-45-67")
            page.wait_for_function(
                "() => document.querySelectorAll('#complaint-rows tr').length === 1"
                " && document.getElementById('complaint-total').textContent === '1–1 из 1'"
            )
            page.fill("[data-testid=complaint-search]", "ахметов ерлан")
            page.wait_for_function(
                "() => document.getElementById('complaint-total').textContent === '1–1 из 1'"
            )
            page.fill("[data-testid=complaint-search]", "нет такого")
            page.wait_for_function("() => document.querySelectorAll('#complaint-rows tr').length === 0")
        finally:
            browser.close()
