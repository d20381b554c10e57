"""The notifications' "Overdue complaints: N" line opens the complaints list filtered to every overdue
complaint (issue 25), in real headless Chromium: the list reads its filters from the URL, keeps them there
as they change, and a reload shows the same list. The console runs in-process on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from config.settings import Settings
from console.app import create_app
from console.notification import OVERDUE_LIST_LINK, OVERDUE_LISTED
from console.station import Station
from storage.complaint import ComplaintFields, create_complaint
from storage.model import Role, utcnow
from tests.support.browser import CHROMIUM, launch_chromium, require_chromium, sign_in_page
from tests.support.console import make_user, station_config
from tests.support.served_console import served_app

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]
OVERDUE_OTHERS = OVERDUE_LISTED  # registered by the supervisor, past due
OVERDUE_MINE = 1  # registered by the officer, past due
NOT_DUE = 2  # one each, due tomorrow


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[str]]]:
    app = create_app(
        Settings(config=station_config(tmp_path_factory.mktemp("overdue") / "data"), config_path=None)
    )
    with served_app(app, name="overdue-e2e") as base:
        station = app.state.station
        assert isinstance(station, Station)
        officer = make_user(station.database, "officer", Role.OFFICER)
        chief = make_user(station.database, "chief", Role.SUPERVISOR)
        now = utcnow()
        overdue = []
        with station.database.session() as session:
            plan = [(chief, True)] * OVERDUE_OTHERS + [(officer, True)] * OVERDUE_MINE
            plan += [(chief, False), (officer, False)]
            for i, (author, late) in enumerate(plan):
                at = now - timedelta(hours=50 - i)
                complaint = create_complaint(
                    session,
                    fields=ComplaintFields(
                        received_at=at,
                        channel="phone",
                        category="noise",
                        incident_start=at - timedelta(minutes=30),
                        incident_end=at - timedelta(minutes=10),
                        description="Шумят соседи",
                        building="5",
                    ),
                    created_by=author,
                    now=at,
                    year=now.year,
                    due_at=now - timedelta(hours=1) if late else now + timedelta(days=1),
                )
                if late:
                    overdue.append(complaint.number)
        yield base, sorted(overdue)


def test_overdue_line_opens_the_overdue_list(served: tuple[str, list[str]], tmp_path: Path) -> None:
    require_chromium()
    from playwright.sync_api import sync_playwright

    base, overdue = served
    listed = "() => [...document.querySelectorAll('#complaint-rows tr a')].map((a) => a.textContent).sort()"
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright, executable=CHROMIUM, home=tmp_path / "home")
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="ru-RU")
            sign_in_page(page, base, "officer")
            page.wait_for_selector("#notify [data-kind=complaint_overdue] a", state="attached")
            line = page.locator("#notify [data-kind=complaint_overdue] a")
            assert line.count() == 1, "more than OVERDUE_LISTED: one line with the count"
            assert line.get_attribute("href") == OVERDUE_LIST_LINK
            page.click("[data-testid=notify-bell]")
            line.click()
            page.wait_for_url(f"{base}{OVERDUE_LIST_LINK}")
            page.wait_for_function(
                f"() => document.getElementById('complaint-total').textContent.endsWith(' {len(overdue)}')"
            )
            assert page.evaluate(listed) == overdue  # everyone's, not only the officer's
            assert page.is_checked("input[name=overdue]") and not page.is_checked("[data-testid=mine]")
            assert page.locator("#complaint-rows tr.overdue").count() == len(overdue)

            page.reload()  # the URL keeps the filters
            page.wait_for_function(
                f"() => document.getElementById('complaint-total').textContent.endsWith(' {len(overdue)}')"
            )
            assert page.evaluate(listed) == overdue

            # changing a filter rewrites the URL: back to "mine", still overdue
            page.check("[data-testid=mine]")
            page.wait_for_function(
                f"() => document.getElementById('complaint-total').textContent.endsWith(' {OVERDUE_MINE}')"
            )
            assert page.evaluate("() => window.location.search") == "?overdue=1"
            page.uncheck("input[name=overdue]")  # the defaults: a bare URL, the officer's open cases
            page.wait_for_function(
                f"() => document.getElementById('complaint-total').textContent"
                f".endsWith(' {OVERDUE_MINE + 1}')"
            )
            assert page.evaluate("() => window.location.search") == ""

            # a link naming only some filters keeps the defaults for the rest
            page.goto(f"{base}/complaints?overdue=1&status=any&q=%D1%88%D1%83%D0%BC%D1%8F%D1%82")
            page.wait_for_function(
                f"() => document.getElementById('complaint-total').textContent.endsWith(' {OVERDUE_MINE}')"
            )
            assert page.is_checked("[data-testid=mine]")
            assert page.input_value("[data-testid=status-filter]") == ""
            assert page.input_value("[data-testid=complaint-search]") == "шумят"
        finally:
            browser.close()
