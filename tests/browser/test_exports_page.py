"""End to end in real headless Chromium: the investigator finds a package on ``/exports`` and downloads it
again.

An investigator builds a package filed under a complaint (over HTTP, with an API token), then signs in,
opens the exports list from the sidebar, reads the row (station time, the complaint number, the fingerprint
in groups of four, "Готов"), downloads the package again (named after the complaint; the server audits the
download). Screenshot: ``docs/exports.png``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from console.app import create_app
from console.credential import new_api_token, token_hash, token_prefix
from console.station import Station
from storage.api_token import create_api_token
from storage.model import AuditEntry, Role, utcnow
from tests.support.browser import CHROMIUM, launch_chromium, require_chromium, save_screenshot, sign_in_page
from tests.support.console import make_user
from tests.support.segments import insert_segment_rows, write_segment_set
from tests.support.served_console import served_app
from tests.support.station_media import media_settings

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(240)]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, FastAPI, dict[str, object]]]:
    app = create_app(media_settings(tmp_path / "data"))
    with served_app(app, name="exports-e2e") as base:
        station = app.state.station
        investigator = make_user(
            station.database, "investigator", Role.INVESTIGATOR, display_name="Следователь"
        )
        make_user(station.database, "supervisor", Role.SUPERVISOR)
        start = (utcnow() - timedelta(minutes=30)).replace(microsecond=0)
        files = write_segment_set(
            station.settings.recordings_dir, "b5-e1", start, count=3, segment_s=2.0, gop=25
        )
        with station.database.session() as session:
            insert_segment_rows(session, "b5-e1", files)
        made = build_package(base, station, investigator, start)
        yield base, app, made


def api_client(base: str, station: Station, user_id: int) -> httpx.Client:
    token = new_api_token()
    with station.database.session() as session:
        create_api_token(
            session, user_id=user_id, name="e2e", prefix=token_prefix(token), token_hash=token_hash(token)
        )
    return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60)


def build_package(base: str, station: Station, investigator: int, start: datetime) -> dict[str, object]:
    supervisor = make_user(station.database, "duty", Role.SUPERVISOR)
    with api_client(base, station, supervisor) as duty, api_client(base, station, investigator) as client:
        complaint = duty.post(
            "/api/complaints",
            json={
                "received_at": (utcnow() - timedelta(minutes=5)).isoformat(),
                "channel": "phone",
                "category": "noise",
                "building": "5",
                "entrance": "1",
                "incident_start": (start + timedelta(seconds=1)).isoformat(),
                "incident_end": (start + timedelta(seconds=4)).isoformat(),
            },
        )
        assert complaint.status_code == 201, complaint.text
        number = complaint.json()["complaint"]["number"]
        made = client.post(
            "/api/exports",
            json={
                "cameras": ["b5-e1"],
                "start": (start + timedelta(seconds=1)).isoformat(),
                "end": (start + timedelta(seconds=4)).isoformat(),
                "complaint": number,
            },
        )
        assert made.status_code == 201, made.text
        sha256 = client.get(f"/api/exports/{made.json()['export_id']}").json()["sha256"]
        return {"export_id": made.json()["export_id"], "number": number, "sha256": sha256}


def downloads(app: FastAPI) -> int:
    with app.state.station.database.session() as session:
        count = session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "evidence.download")
        )
    return int(count or 0)


def test_investigator_downloads_a_package_again(
    served: tuple[str, FastAPI, dict[str, object]], tmp_path: Path
) -> None:
    require_chromium()
    from playwright.sync_api import sync_playwright

    base, app, made = served
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright, executable=CHROMIUM, home=tmp_path / "home")
        try:
            context = browser.new_context(
                locale="ru-RU", viewport={"width": 1440, "height": 900}, accept_downloads=True
            )
            page = context.new_page()
            sign_in_page(page, base, "investigator")
            page.click("nav a[href='/exports']")
            page.wait_for_url(f"{base}/exports")
            row = page.locator("[data-testid=export-row]").first
            row.wait_for()
            text = row.inner_text()
            assert str(made["number"]) in text and "Следователь" in text and "Готов" in text
            sha256 = str(made["sha256"])
            assert " ".join(sha256[i : i + 4] for i in range(0, 64, 4)) in text
            assert "b5-e1" in text

            before = downloads(app)
            with page.expect_download() as download_info:
                row.locator("[data-testid=export-download]").click()
            download = download_info.value
            assert download.suggested_filename.startswith(f"complaint-{made['number']}-")
            assert Path(download.path()).stat().st_size > 0
            assert downloads(app) == before + 1
            save_screenshot(page, "exports.png")
        finally:
            browser.close()
