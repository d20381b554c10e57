"""Issue 25, defect 2, in real headless Chromium: the recordings page plays the minute being recorded.

The station records the real RTSP test server with the default 60 s segments (in-process under uvicorn);
an investigator opens the recordings page on the last hour: the file still being written is on the bar and
in the player up to a second or two ago, playing it reaches that moment, and the player keeps following the
file as it grows (Media Source Extensions, the page's own code).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from config.schema import CameraConfig, Location, StationConfig, StationInfo, StorageConfig
from config.settings import Settings
from console.app import create_app
from console.password import hash_password
from storage.database import Database
from storage.model import Role, Segment, utcnow
from storage.user import create_user
from tests.browser.test_complaint_flow import PASSWORD, sign_in
from tests.support.browser import CHROMIUM, artifacts_dir, launch_chromium, require_chromium
from tests.support.console import running_station
from tests.support.rtsp_server import RtspServer
from tests.support.served_console import served_console

pytestmark = [pytest.mark.browser, pytest.mark.rtsp, pytest.mark.slow, pytest.mark.timeout(180)]
ZONE = "Asia/Almaty"
RECORDED_S = 8.0
VIDEO = "document.querySelector('[data-testid=player-b5-e1] video')"
LAST_BUFFERED = f"{VIDEO}.buffered.end({VIDEO}.buffered.length - 1)"


def wait_until(page: Any, expression: str, *, timeout_s: float) -> None:
    """Poll ``expression`` in the page (the console's CSP forbids the eval that wait_for_function uses)."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"not true after {timeout_s} s: {expression}")
        time.sleep(0.1)


@pytest.fixture
def recording_console(tmp_path: Path, rtsp_server: RtspServer) -> Iterator[tuple[str, Settings]]:
    config = StationConfig(
        station=StationInfo(name="ЖК RTSP", timezone=ZONE),
        storage=StorageConfig(data_dir=tmp_path / "data"),
        cameras=[
            CameraConfig(
                id="b5-e1",
                name="Дом 5, подъезд 1",
                url=rtsp_server.url("cam1"),
                location=Location(building="5", entrance="1"),
            )
        ],
    )  # the default recording settings: 60 s segments
    settings = Settings(config=config, config_path=None)
    # migrations and the user, before serving (this first start records a second or so: a closed file)
    with TestClient(create_app(settings)) as client, running_station(client).database.session() as session:
        create_user(
            session,
            username="investigator",
            role=Role.INVESTIGATOR,
            password_hash=hash_password(PASSWORD),
        )
    with served_console(settings, name="console-newest") as base:
        yield base, settings


def wait_for_open_segment(database: Database, *, recorded_s: float) -> datetime:
    """The start of the file being written, once it holds ``recorded_s`` of footage."""
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        with database.session() as session:
            start = session.scalars(
                select(Segment.start_utc).where(Segment.camera_id == "b5-e1", Segment.status == "open")
            ).first()
        if start is not None:
            time.sleep(max((start + timedelta(seconds=recorded_s) - utcnow()).total_seconds(), 0.0))
            return start
        time.sleep(0.2)
    raise AssertionError("no file being written after 40 s")


def test_the_recordings_page_plays_the_minute_being_recorded(
    recording_console: tuple[str, Settings], tmp_path: Path
) -> None:
    require_chromium()
    from playwright.sync_api import sync_playwright

    base, settings = recording_console
    database = Database(settings.db_url)
    try:
        segment_start = wait_for_open_segment(database, recorded_s=RECORDED_S)
    finally:
        database.engine.dispose()
    # the page's form takes minutes: its view starts on a whole minute, half an hour before the file
    page_start = (
        (segment_start - timedelta(minutes=30)).astimezone(ZoneInfo(ZONE)).replace(second=0, microsecond=0)
    )
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright, executable=CHROMIUM, home=tmp_path / "home")
        try:
            page: Any = browser.new_page(viewport={"width": 1280, "height": 900}, locale="ru-RU")
            sign_in(page, base, "investigator")
            page.goto(f"{base}/recordings?start={page_start:%Y-%m-%dT%H:%M}&cameras=b5-e1")
            page.wait_for_selector("[data-testid=timeline-b5-e1] .tl-span")
            origin = page_start.timestamp()
            # the file being written is appended after any closed one before it (the first start's 1 s file)
            newest = segment_start.timestamp() + 1.0 - origin
            wait_until(page, f"{VIDEO}.buffered.length && {LAST_BUFFERED} > {newest}", timeout_s=30)
            opened_at = utcnow()

            def buffered_end_utc() -> float:
                end: float = page.evaluate(LAST_BUFFERED)
                return origin + end

            behind_s = opened_at.timestamp() - buffered_end_utc()
            assert behind_s <= 3.0, behind_s  # the page holds footage up to a few seconds ago
            # play the newest seconds: the player reaches the end of what was there when the page opened
            target = buffered_end_utc() - origin
            page.evaluate(f"{VIDEO}.currentTime = {target - 2.0}; {VIDEO}.play()")
            wait_until(page, f"{VIDEO}.currentTime >= {target - 0.2}", timeout_s=15)
            # and goes on: the file is fetched again as it grows
            wait_until(page, f"{VIDEO}.currentTime >= {target + 2.0}", timeout_s=15)
            played_to = origin + float(page.evaluate(f"{VIDEO}.currentTime"))
            errors = page.evaluate("document.getElementById('recordings-error').textContent")
            assert errors == ""
            page.screenshot(path=str(artifacts_dir() / "recordings-newest.png"), full_page=True)
            # defect 9: a click on the bar where nothing is recorded (after the newest footage) says so on the
            # tile instead of a black picture; a click on the footage takes the message away
            bar = page.locator("[data-testid=timeline-b5-e1]")
            box = bar.bounding_box()
            bar.click(position={"x": box["width"] * 0.97, "y": box["height"] / 2})
            note = page.locator("[data-testid=note-b5-e1]")
            note.wait_for(state="visible", timeout=5000)
            assert note.inner_text() == "Нет записи в это время"
            bar.click(position={"x": box["width"] * (target - 1.0) / 3600, "y": box["height"] / 2})
            note.wait_for(state="hidden", timeout=5000)
            # a new search (three hours earlier, nothing recorded): the clock shows the new range, not the
            # previous playback position
            earlier = page_start - timedelta(hours=3)
            page.fill("[data-testid=jump-start]", f"{earlier:%Y-%m-%dT%H:%M}")
            page.click("[data-testid=show]")
            wait_until(
                page,
                "document.querySelector('[data-testid=position]').textContent"
                f".includes('{earlier:%d.%m.%Y}, {earlier:%H:%M}:00')",
                timeout_s=10,
            )
            print(
                f"\nrecordings page: footage up to {behind_s:.2f} s before opening; "
                f"played to {time.time() - played_to:.2f} s before now while following"
            )
        finally:
            browser.close()
