"""End to end in real headless Chromium: the auditor reads the audit log on ``/audit``.

The auditor signs in, filters the log (a user, refusals only, a period in station time), verifies the hash
chain from the page, downloads the filtered rows as CSV, and then, after a row is tampered with in the
database, sees the chain reported broken at that row. Screenshot: ``docs/audit.png``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import update

from config.settings import Settings
from console.app import create_app
from storage.audit import append_audit
from storage.model import AuditEntry, Role
from tests.support.browser import CHROMIUM, launch_chromium, require_chromium, save_screenshot, sign_in_page
from tests.support.console import make_user, station_config
from tests.support.served_console import served_app

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(240)]

T0 = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)  # 09:00 in Almaty (UTC+5)
ROWS = (
    ("officer1", "auth.login", True, "session", "11", None),
    ("officer1", "complaint.view", True, "complaint", "2026-000014", None),
    ("officer1", "access.denied", False, "route", "GET /api/users", "missing permission: users.manage"),
    ("investigator", "evidence.download", True, "export", "3", None),
    ("officer1", "live.view", True, "camera", "entrance-1", None),
    ("officer1", "access.denied", False, "route", "GET /admin/zones", "missing permission: cameras.manage"),
)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, FastAPI]]:
    app = create_app(Settings(config=station_config(tmp_path / "data"), config_path=None))
    with served_app(app, name="audit-e2e") as base:
        database = app.state.station.database
        make_user(database, "auditor", Role.AUDITOR, display_name="Аудитор")
        with database.session() as session:
            for minutes, (username, action, allowed, rtype, rid, reason) in enumerate(ROWS):
                append_audit(
                    session,
                    action=action,
                    allowed=allowed,
                    username=username,
                    source="10.0.0.21",
                    resource_type=rtype,
                    resource_id=rid,
                    reason=reason,
                    at=T0 + timedelta(minutes=10 * minutes),
                )
        yield base, app


def test_auditor_filters_verifies_and_exports(served: tuple[str, FastAPI], tmp_path: Path) -> None:
    require_chromium()
    from playwright.sync_api import sync_playwright

    base, app = served
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright, executable=CHROMIUM, home=tmp_path / "home")
        try:
            context = browser.new_context(
                locale="ru-RU", viewport={"width": 1440, "height": 900}, accept_downloads=True
            )
            page = context.new_page()
            sign_in_page(page, base, "auditor")
            page.click("nav a[href='/audit']")
            page.wait_for_url(f"{base}/audit")
            page.locator("[data-testid=audit-row]").first.wait_for()

            page.fill("[data-testid=filter-user]", "officer1")
            page.fill("[data-testid=filter-from]", "2026-03-01T09:00")
            page.fill("[data-testid=filter-to]", "2026-03-01T10:00")
            page.select_option("[data-testid=filter-allowed]", "false")  # applies the filters
            rows = page.locator("[data-testid=audit-row]")
            page.locator("[data-testid=audit-shown]").filter(has_text="1–2 из 2").wait_for()
            assert rows.count() == 2
            first = rows.nth(0).inner_text()
            assert "GET /admin/zones" in first and "Отказано" in first and "01.03.2026, 09:50:00" in first
            assert "user=officer1" in page.url and "allowed=false" in page.url

            page.click("[data-testid=audit-verify]")
            verdict = page.locator("[data-testid=audit-verdict]")
            verdict.filter(has_text="Цепочка не нарушена").wait_for()

            with page.expect_download() as download_info:
                page.click("[data-testid=audit-csv]")
            download = download_info.value
            assert download.suggested_filename.startswith("audit-")
            table = list(csv.reader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"))))
            assert table[0][:4] == ["id", "at", "user_id", "username"]
            assert [row[7] for row in table[1:]] == ["GET /api/users", "GET /admin/zones"]
            save_screenshot(page, "audit.png")

            tamper(app, resource_id="GET /api/users")
            page.click("[data-testid=audit-verify]")
            verdict.filter(has_text="Цепочка нарушена в записи").wait_for()
            assert "broken" in (verdict.get_attribute("class") or "")
        finally:
            browser.close()


def tamper(app: Any, *, resource_id: str) -> None:
    """Change a row's outcome behind the station's back (what an intruder with database access would do)."""
    with app.state.station.database.session() as session:
        session.execute(update(AuditEntry).where(AuditEntry.resource_id == resource_id).values(allowed=True))
