"""In real headless Chromium, on footage the running station itself recorded from the real RTSP test server:
an officer opens a complaint about entrance 1, sees the entrance camera proposed with its recorded span,
previews it and attaches it; a supervisor exports the signed package from the complaint page and the verify
page finds it valid.

The station (ingest -> recorder -> index, 2 s segments) runs in-process under uvicorn on 127.0.0.1 with two
RTSP cameras; the complaint is registered through the API with a window to the second (the page's form
takes minutes), everything after that is clicked in the browser.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from config.settings import Settings
from console.app import create_app
from console.password import hash_password
from storage.database import Database
from storage.evidence.verifier import verify_package
from storage.model import Role, utcnow
from storage.user import create_user
from tests.browser.test_complaint_flow import PASSWORD, sign_in
from tests.support.browser import CHROMIUM, artifacts_dir, launch_chromium, require_chromium
from tests.support.console import running_station
from tests.support.rtsp_server import RtspServer
from tests.support.rtsp_station import rtsp_station_config, wait_for_footage
from tests.support.served_console import served_console

pytestmark = [pytest.mark.browser, pytest.mark.rtsp, pytest.mark.slow, pytest.mark.timeout(180)]
CSRF_OF_PAGE = "document.querySelector('meta[name=csrf-token]').content"


@pytest.fixture
def recording_console(tmp_path: Path, rtsp_server: RtspServer) -> Iterator[tuple[str, Settings, datetime]]:
    settings = Settings(config=rtsp_station_config(tmp_path / "data", rtsp_server), config_path=None)
    with TestClient(create_app(settings)) as client:  # migrations and users, before serving
        database = running_station(client).database
        with database.session() as session:
            for name, role in (("officer", Role.OFFICER), ("chief", Role.SUPERVISOR)):
                create_user(session, username=name, role=role, password_hash=hash_password(PASSWORD))
    with served_console(settings, name="console-rtsp-e2e") as base:
        yield base, settings, utcnow()


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def test_attach_and_export_footage_recorded_from_rtsp(
    recording_console: tuple[str, Settings, datetime], tmp_path: Path
) -> None:
    require_chromium()
    from playwright.sync_api import sync_playwright

    base, settings, served_at = recording_console
    database = Database(settings.db_url)
    first, newest = wait_for_footage(database, "b5-e1", 4, timeout_s=45, since=served_at)
    incident_start = (first + timedelta(seconds=2.5)).replace(microsecond=0)
    incident_end = incident_start + timedelta(seconds=3)
    assert incident_end < newest

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright, executable=CHROMIUM, home=tmp_path / "home")
        try:
            page: Any = browser.new_page(viewport={"width": 1440, "height": 1100}, locale="ru-RU")
            sign_in(page, base, "officer")
            created = page.request.post(
                f"{base}/api/complaints",
                data={
                    "received_at": _iso(utcnow()),
                    "channel": "association_chair",
                    "category": "smoking",
                    "description": "Курят на лестнице",
                    "building": "5",
                    "entrance": "1",
                    "incident_start": _iso(incident_start),
                    "incident_end": _iso(incident_end),
                },
                headers={"X-CSRF-Token": page.evaluate(CSRF_OF_PAGE)},
            )
            assert created.status == 201, created.text()
            complaint = created.json()["complaint"]
            page.goto(f"{base}/complaints/{complaint['id']}")
            page.wait_for_selector("[data-testid=proposal-b5-e1] .tl-span")
            page.click("[data-testid=proposal-b5-e1] button:not([data-testid])")  # preview
            page.wait_for_function(
                "() => document.getElementById('preview-video').readyState >= 2", timeout=30000
            )
            page.click("[data-testid=attach-b5-e1]")
            page.wait_for_selector("[data-testid=evidence-item]")
            page.screenshot(path=str(artifacts_dir() / "complaint-rtsp.png"), full_page=True)

            chief: Any = browser.new_page(
                viewport={"width": 1440, "height": 1000}, locale="ru-RU", accept_downloads=True
            )
            sign_in(chief, base, "chief")
            chief.goto(f"{base}/complaints/{complaint['id']}")
            chief.wait_for_selector("#export-package:not([hidden])")
            with chief.expect_download(timeout=60000) as download_info:
                chief.click("#export-package")
            package = tmp_path / "evidence.zip"
            download_info.value.save_as(package)
            report = verify_package(package)
            assert report.intact, report.render()
            assert report.manifest is not None
            assert [c["camera"]["id"] for c in report.manifest["clips"]] == ["b5-e1"]
            chief.goto(f"{base}/verify")
            chief.set_input_files("input[name=package]", str(package))
            chief.click("#verify-form button[type=submit]")
            chief.wait_for_selector("#verify-result.valid", timeout=30000)
        finally:
            browser.close()
            database.engine.dispose()
