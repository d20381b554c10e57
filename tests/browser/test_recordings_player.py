"""Issue 25, player and "from live to evidence", in real headless Chromium over footage the station records
from the real RTSP test server (two cameras, 25 fps, 4 s segments, served under uvicorn).

One walk, as an officer works a complaint (one station start for all of it: recording takes real time):
the complaint page opens the recordings page for the complaint's cameras at the incident time with the
incident window marked on the timelines; there the player changes the speed of every synced tile (select
and + / − keys), jumps ±10 s, steps one frame while paused, zooms (buttons, wheel, drag, z), and attaches a
still of the frame on screen to the complaint: the station extracts it from the recording and the complaint
lists it with the SHA-256 of the very bytes it serves. Then a live wall tile's "replay the last minute"
lands on the recordings page for that camera at that time, playing. The player screenshot goes to docs/.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from config.schema import CameraConfig, Location, RecordingConfig, StationConfig, StationInfo, StorageConfig
from config.settings import Settings
from console.app import create_app
from storage.complaint import ComplaintFields, create_complaint
from storage.database import Database
from storage.model import Role, Segment, User, utcnow
from storage.segment import FINISHED_STATUSES
from storage.user import create_user
from tests.browser.test_recordings_newest import wait_until
from tests.support.browser import (
    CHROMIUM,
    launch_chromium,
    require_chromium,
    save_screenshot,
    sign_in_page,
)
from tests.support.console import running_station
from tests.support.rtsp_server import RtspServer
from tests.support.served_console import served_console
from tests.support.station_media import password_hash

pytestmark = [pytest.mark.browser, pytest.mark.rtsp, pytest.mark.slow, pytest.mark.timeout(180)]
ZONE = "Asia/Almaty"
CAMERAS = ("b5-e1", "b5-yard")
FRAME_S = 1 / 25  # the RTSP test server's clip


def video(camera: str) -> str:
    return f"document.querySelector('[data-testid=player-{camera}] video')"


V1, V2 = video("b5-e1"), video("b5-yard")


@pytest.fixture
def player_console(tmp_path: Path, rtsp_server: RtspServer) -> Iterator[tuple[str, Settings]]:
    config = StationConfig(
        station=StationInfo(name="ЖК Плеер", timezone=ZONE),
        storage=StorageConfig(data_dir=tmp_path / "data"),
        recording=RecordingConfig(segment_seconds=4),
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
    with TestClient(create_app(settings)) as client, running_station(client).database.session() as session:
        create_user(session, username="officer", role=Role.OFFICER, password_hash=password_hash())
    with served_console(settings, name="console-player") as base:
        yield base, settings


def closed_segments(database: Database, camera: str) -> list[tuple[datetime, datetime]]:
    with database.session() as session:
        rows = session.execute(
            select(Segment.start_utc, Segment.end_utc)
            .where(Segment.camera_id == camera, Segment.status.in_(FINISHED_STATUSES))
            .order_by(Segment.start_utc)
        ).all()
    return [(start, end) for start, end in rows]


def wait_for_footage(database: Database, *, segments: int) -> list[tuple[datetime, datetime]]:
    """Both cameras' closed segments, once each camera has ``segments`` of them (b5-e1's returned)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if all(len(closed_segments(database, c)) >= segments for c in CAMERAS):
            return closed_segments(database, "b5-e1")
        time.sleep(0.3)
    raise AssertionError(f"fewer than {segments} closed segments per camera after 60 s")


def register_complaint(
    database: Database, incident_start: datetime, incident_end: datetime
) -> tuple[int, str]:
    now = utcnow()
    with database.session() as session:
        user_id = session.scalars(select(User.id).where(User.username == "officer")).one()
        complaint = create_complaint(
            session,
            fields=ComplaintFields(
                received_at=now,
                channel="phone",
                category="littering",
                incident_start=incident_start,
                incident_end=incident_end,
                description="Мусор у подъезда",
                building="5",
                entrance="1",
            ),
            created_by=user_id,
            now=now,
            year=now.year,
            due_at=None,
        )
        return complaint.id, complaint.number


def current(page: Any, expression: str) -> float:
    value: float = page.evaluate(f"{expression}.currentTime")
    return value


def test_player_from_complaint_to_still_and_replay_from_the_wall(
    player_console: tuple[str, Settings], tmp_path: Path
) -> None:
    require_chromium()
    from playwright.sync_api import sync_playwright

    base, settings = player_console
    database = Database(settings.db_url)
    try:
        footage = wait_for_footage(database, segments=3)
        # the served run's newest files (the first start, before serving, may have left a short one)
        incident_start = footage[-2][0] + timedelta(seconds=1)
        incident_end = footage[-1][0] + timedelta(seconds=2)
        complaint_id, number = register_complaint(database, incident_start, incident_end)
    finally:
        database.engine.dispose()
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright, executable=CHROMIUM, home=tmp_path / "home")
        try:
            page: Any = browser.new_page(viewport={"width": 1280, "height": 1000}, locale="ru-RU")
            sign_in_page(page, base, "officer")
            # --- complaint -> recordings at the incident time, the window marked ---------------------------
            page.goto(f"{base}/complaints/{complaint_id}")
            link = page.locator("[data-testid=open-recordings]")
            link.wait_for(state="visible")
            link.click()
            page.wait_for_url(f"{base}/recordings?**")
            query = parse_qs(urlparse(page.url).query)
            assert query["cameras"] == [",".join(CAMERAS)] and query["complaint"] == [number]
            page.wait_for_selector("[data-testid=timeline-b5-e1] [data-testid=timeline-mark]")
            page.wait_for_selector("[data-testid=timeline-b5-yard] [data-testid=timeline-mark]")
            range_start = datetime.fromtimestamp(
                (incident_start - timedelta(minutes=2)).timestamp() // 60 * 60, tz=incident_start.tzinfo
            )
            assert page.input_value("[data-testid=jump-start]") == range_start.astimezone(
                ZoneInfo(ZONE)
            ).strftime("%Y-%m-%dT%H:%M")
            assert page.input_value("select[name=length]") == "900"
            assert page.input_value("input[name=complaint]") == number
            bar = page.locator("[data-testid=timeline-b5-e1]").bounding_box()
            mark = page.locator("[data-testid=timeline-b5-e1] [data-testid=timeline-mark]").bounding_box()
            expected_left = (incident_start - range_start).total_seconds() / 900 * bar["width"]
            expected_width = (incident_end - incident_start).total_seconds() / 900 * bar["width"]
            assert abs(mark["x"] - bar["x"] - expected_left) < 2, (mark, bar, expected_left)
            assert abs(mark["width"] - expected_width) < 3, (mark, expected_width)
            at_s = (incident_start - range_start).total_seconds()
            wait_until(page, f"{V1} && {V2} && Math.abs({V1}.currentTime - {at_s}) < 0.3", timeout_s=20)
            assert page.evaluate(f"{V1}.paused")  # opened from a complaint: at the moment, not playing

            # --- speed on every tile ------------------------------------------------------------------------
            page.select_option("[data-testid=speed]", "2")
            assert page.evaluate(f"[{V1}.playbackRate, {V2}.playbackRate]") == [2, 2]
            page.keyboard.press("+")
            assert page.evaluate(f"[{V1}.playbackRate, {V2}.playbackRate]") == [4, 4]
            assert page.input_value("[data-testid=speed]") == "4"
            page.keyboard.press("-")
            assert page.evaluate(f"[{V1}.playbackRate, {V2}.playbackRate]") == [2, 2]
            page.keyboard.press("-")
            page.keyboard.press("-")  # 1.5x, then 1x
            assert page.evaluate(f"[{V1}.playbackRate, {V2}.playbackRate]") == [1, 1]
            # play at 1x (the page measures the frame duration), then pause with the space bar
            started = current(page, V1)
            page.keyboard.press(" ")
            wait_until(page, f"{V1}.currentTime > {started + 1.5}", timeout_s=15)
            page.keyboard.press(" ")
            wait_until(page, f"{V1}.paused && {V2}.paused", timeout_s=5)

            # --- ±10 s -------------------------------------------------------------------------------------
            t = current(page, V1)
            page.keyboard.press("ArrowRight")
            wait_until(page, f"Math.abs({V1}.currentTime - {t + 10}) < 0.05", timeout_s=5)
            page.keyboard.press("ArrowLeft")
            wait_until(page, f"Math.abs({V1}.currentTime - {t}) < 0.05", timeout_s=5)
            page.click("[data-testid=back10]")
            wait_until(page, f"Math.abs({V1}.currentTime - {max(t - 10, 0)}) < 0.05", timeout_s=5)
            page.click("[data-testid=forward10]")
            wait_until(page, f"Math.abs({V1}.currentTime - {t}) < 0.05", timeout_s=5)
            wait_until(page, f"Math.abs({V2}.currentTime - {V1}.currentTime) < 0.3", timeout_s=5)

            # --- one frame forward and back while paused ---------------------------------------------------
            page.locator("h1").first.click()  # focus off the button: keys go to the page
            t = current(page, V1)
            page.keyboard.press(".")
            wait_until(page, f"{V1}.currentTime > {t + 0.001}", timeout_s=5)
            step = current(page, V1) - t
            assert abs(step - FRAME_S) < 0.01, step
            page.keyboard.press(",")
            wait_until(page, f"{V1}.currentTime < {t + step - 0.001}", timeout_s=5)
            assert abs(current(page, V1) - t) < 0.01
            page.click("[data-testid=frame-forward]")
            wait_until(page, f"{V1}.currentTime > {t + 0.001}", timeout_s=5)
            assert page.evaluate(f"{V1}.paused")

            # --- digital zoom: buttons (every tile), wheel and drag (one tile), z resets -------------------
            zoom = "document.querySelector('[data-testid=player-{}] .screen').dataset.zoom"
            page.click("[data-testid=zoom-in]")
            assert [page.evaluate(zoom.format(c)) for c in CAMERAS] == ["1.25", "1.25"]
            assert "scale(1.25)" in page.evaluate(f"{V1}.style.transform")
            screen = page.locator("[data-testid=player-b5-e1] .screen").bounding_box()
            page.mouse.move(screen["x"] + screen["width"] / 2, screen["y"] + screen["height"] / 2)
            page.mouse.wheel(0, -120)
            wait_until(page, f"{zoom.format('b5-e1')} === '1.56'", timeout_s=5)
            before = page.evaluate(f"{V1}.style.transform")
            page.mouse.down()
            page.mouse.move(screen["x"] + screen["width"] / 2 + 60, screen["y"] + screen["height"] / 2 + 30)
            page.mouse.up()
            assert page.evaluate(f"{V1}.style.transform") != before
            page.locator("h1").first.click()
            page.keyboard.press("z")
            assert [page.evaluate(zoom.format(c)) for c in CAMERAS] == ["1.00", "1.00"]
            assert page.evaluate(f"{V1}.style.transform") == ""
            help_line = page.inner_text("[data-testid=player-help]")
            assert "Пробел" in help_line and "скорость" in help_line

            # --- a still of the frame on screen, attached to the complaint with its hash --------------------
            origin = range_start.timestamp()
            shown_at = origin + round(current(page, V1) * 1000) / 1000
            page.click("[data-testid=still-b5-e1]")
            status = page.locator("[data-testid=still-status]")
            status.wait_for(state="visible")
            wait_until(
                page,
                "document.querySelector('[data-testid=still-status]').textContent.includes('SHA-256')",
                timeout_s=15,
            )
            assert page.inner_text("#recordings-error") == ""
            detail = page.evaluate(
                "async (cid) => (await fetch(`/api/complaints/${cid}`)).json()", complaint_id
            )
            [still] = detail["stills"]
            assert still["camera_id"] == "b5-e1" and still["sha256"] in status.inner_text()
            frame_at = datetime.fromisoformat(still["frame_at"]).timestamp()
            assert shown_at - FRAME_S - 0.002 <= frame_at <= shown_at + 0.002, (frame_at, shown_at)
            served_sha256 = page.evaluate(
                """async (url) => {
                  const data = await (await fetch(url)).arrayBuffer();
                  const digest = await crypto.subtle.digest("SHA-256", data);
                  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
                }""",
                still["url"],
            )
            assert served_sha256 == still["sha256"]
            page.click("[data-testid=zoom-in]")  # the screenshot shows a zoomed tile
            page.click("[data-testid=zoom-in]")
            save_screenshot(page, "player.png")
            page.goto(f"{base}/complaints/{complaint_id}")
            item = page.locator("[data-testid=still-item]")
            item.wait_for()
            assert page.inner_text("[data-testid=still-sha256]") == still["sha256"]
            assert "b5-e1" in item.inner_text()

            # --- live wall: replay the last minute of a camera ----------------------------------------------
            page.goto(f"{base}/live")
            replay = page.locator("[data-testid=tile][data-camera=b5-e1] [data-testid=replay-1]")
            replay.wait_for(state="visible")
            clicked = time.time()
            replay.click()
            page.wait_for_url(f"{base}/recordings?**")
            query = parse_qs(urlparse(page.url).query)
            assert query["cameras"] == ["b5-e1"]
            at = datetime.fromisoformat(query["at"][0].replace("Z", "+00:00")).timestamp()
            assert abs(at - (clicked - 60)) < 3, at - clicked
            page.wait_for_selector("[data-testid=player-b5-e1] video")
            assert page.locator("[data-testid=player-b5-yard]").count() == 0
            wait_until(page, f"{V1} && !{V1}.paused && {V1}.currentTime > 0", timeout_s=20)
            start_value = page.input_value("[data-testid=jump-start]")
            local = datetime.strptime(start_value, "%Y-%m-%dT%H:%M").replace(tzinfo=ZoneInfo(ZONE))
            at_s = at - local.timestamp()
            assert 0 < at_s < 900
            # at that moment, or where the footage begins when the station recorded less than a minute
            first = footage[-2][0].timestamp() - local.timestamp()
            wait_until(page, f"{V1}.currentTime > {at_s + 0.5}", timeout_s=15)
            assert current(page, V1) < max(at_s, first) + 15
            assert page.inner_text("#recordings-error") == ""
            print(f"\nplayer: frame step {step * 1000:.1f} ms; replay opened at now-{clicked - at:.1f} s")
        finally:
            browser.close()
