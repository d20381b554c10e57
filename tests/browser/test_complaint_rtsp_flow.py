"""In real headless Chromium, on footage the running station itself recorded from the real RTSP test server:
an officer opens a complaint about entrance 1, sees the entrance camera proposed with its recorded span,
previews it and attaches it; a supervisor exports the signed package from the complaint page and the verify
page finds it valid.

The station (ingest -> recorder -> index, 2 s segments) runs in-process under uvicorn on 127.0.0.1 with two
RTSP cameras; the complaint is registered through the API with a window to the second (the page's form
takes minutes), everything after that is clicked in the browser.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from config.schema import CameraConfig, Location, RecordingConfig, StationConfig, StationInfo, StorageConfig
from config.settings import Settings
from console.app import create_app
from console.password import hash_password
from storage.database import Database
from storage.evidence import verify_package
from storage.model import Role, Segment, utcnow
from storage.segment import FINISHED_STATUSES
from storage.user import create_user
from tests.browser.test_complaint_flow import PASSWORD, free_port, sign_in
from tests.support.browser import CHROMIUM, artifacts_dir, launch_chromium, require_chromium
from tests.support.console import running_station
from tests.support.rtsp_server import RtspServer

pytestmark = [pytest.mark.browser, pytest.mark.rtsp, pytest.mark.slow, pytest.mark.timeout(180)]
CSRF_OF_PAGE = "document.querySelector('meta[name=csrf-token]').content"


def _newest_closed(
    database: Database, camera_id: str, since: datetime
) -> tuple[int, datetime | None, datetime | None]:
    with database.session() as session:
        count, first, newest = session.execute(
            select(func.count(), func.min(Segment.start_utc), func.max(Segment.end_utc)).where(
                Segment.camera_id == camera_id,
                Segment.status.in_(FINISHED_STATUSES),
                Segment.sha256.is_not(None),
                Segment.start_utc >= since,
            )
        ).one()
    return int(count), first, newest


@pytest.fixture
def recording_console(tmp_path: Path, rtsp_server: RtspServer) -> Iterator[tuple[str, Settings, datetime]]:
    config = StationConfig(
        station=StationInfo(name="ЖК RTSP", timezone="Asia/Almaty"),
        storage=StorageConfig(data_dir=tmp_path / "data"),
        recording=RecordingConfig(segment_seconds=2),
        cameras=[
            CameraConfig(
                id="b5-e1",
                name="Дом 5, подъезд 1",
                url=rtsp_server.url("cam1"),
                location=Location(building="5", entrance="1"),
            ),
            CameraConfig(
                id="b5-yard",
                name="Дом 5, двор",
                url=rtsp_server.url("cam2"),
                location=Location(building="5", area="двор"),
            ),
        ],
    )
    settings = Settings(config=config, config_path=None)
    with TestClient(create_app(settings)) as client:  # migrations and users, before serving
        database = running_station(client).database
        with database.session() as session:
            for name, role in (("officer", Role.OFFICER), ("chief", Role.SUPERVISOR)):
                create_user(session, username=name, role=role, password_hash=hash_password(PASSWORD))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, name="console-rtsp-e2e", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the console did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", settings, utcnow()
    finally:
        server.should_exit = True
        thread.join(timeout=20)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def test_attach_and_export_footage_recorded_from_rtsp(
    recording_console: tuple[str, Settings, datetime], tmp_path: Path
) -> None:
    require_chromium()
    from playwright.sync_api import sync_playwright

    base, settings, served_at = recording_console
    database = Database(settings.db_url)
    deadline = time.monotonic() + 45
    while True:
        count, first, newest = _newest_closed(database, "b5-e1", served_at)
        if count >= 4 or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert count >= 4 and first is not None and newest is not None, "the station recorded too little"
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
            page.wait_for_function("document.getElementById('preview-video').readyState >= 2", timeout=30000)
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
            assert report.valid, report.render()
            assert report.manifest is not None
            assert [c["camera"]["id"] for c in report.manifest["clips"]] == ["b5-e1"]
            chief.goto(f"{base}/verify")
            chief.set_input_files("input[name=package]", str(package))
            chief.click("#verify-form button[type=submit]")
            chief.wait_for_selector("#verify-result.valid", timeout=30000)
        finally:
            browser.close()
            database.engine.dispose()
