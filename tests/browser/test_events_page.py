"""End to end in real headless Chromium: the officer's review queue of detection events, and the live wall
marking a camera whose event is going on.

The console runs in-process (uvicorn in a thread) on 127.0.0.1. Events of the review queue are put into the
database directly (``storage.event``), each with a real JPEG picture and one with a real MP4 clip; the wall's
event goes through the station's own event recorder (``station.detection.recorder``), exactly as the
detection worker reports one, so the server-sent-event stream announces it. Screenshots: ``docs/events.png``
and ``docs/wall_event.png`` (and copies in the artefacts folder).
"""

from __future__ import annotations

import hashlib
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from config.schema import (
    CameraConfig,
    CameraDetection,
    DetectionKind,
    Location,
    StationConfig,
    StationInfo,
    StorageConfig,
    Zone,
)
from config.settings import Settings
from console.app import create_app
from console.station import Station
from detection.event import DetectionEvent, render_snapshot
from detection.rule import Episode
from storage.event import (
    close_event,
    event_detail,
    get_event,
    open_event,
    review_event,
    set_event_clip,
)
from storage.model import Clip, Role, Segment, SegmentStatus, utcnow
from storage.user import create_user
from tests.support.browser import CHROMIUM, launch_chromium, require_chromium, save_screenshot
from tests.support.console import DEFAULT_PASSWORD
from tests.support.served_console import served_app
from tests.support.station_media import password_hash

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(300)]
ZONE = ZoneInfo("Asia/Almaty")
BOX = (200.0, 100.0, 330.0, 300.0)


@dataclass
class EventsStation:
    base: str
    station: Station
    officer_id: int

    @property
    def data_dir(self) -> Path:
        return self.station.settings.data_dir


def events_settings(data_dir: Path, live_clip: Path) -> Settings:
    """Two located cameras; ``b5-e1`` plays a looped file (a live picture for the wall) and has detection
    on (people only, with no model: the pipeline makes no events of its own, the recorder runs)."""
    config = StationConfig(
        station=StationInfo(name="ЖК Алем", timezone="Asia/Almaty"),
        storage=StorageConfig(data_dir=data_dir),
        cameras=[
            CameraConfig(
                id="b5-e1",
                name="Дом 5, подъезд 1",
                url=live_clip.as_uri(),
                location=Location(building="5", entrance="1", area="подъезд"),
                detection=CameraDetection(
                    enabled=True,
                    kinds=[DetectionKind.PERSON],
                    fps=1.0,
                    zones=[Zone(name="vhod", points=[(0.0, 0.0), (1.0, 0.0), (1.0, 1.0)])],
                ),
            ),
            CameraConfig(
                id="b5-bins",
                name="Дом 5, контейнеры",
                url="rtsp://127.0.0.1:9/b5bins",
                enabled=False,
                location=Location(building="5", area="контейнерная площадка"),
            ),
        ],
    )
    return Settings(config=config, config_path=None)


@pytest.fixture
def events_station(tmp_path: Path, small_clip: Path) -> Iterator[EventsStation]:
    app = create_app(events_settings(tmp_path / "data", small_clip))
    with served_app(app, name="events-e2e") as base:
        station = app.state.station
        assert isinstance(station, Station) and station.detection is not None
        with station.database.session() as session:
            officer = create_user(
                session, username="officer", role=Role.OFFICER, password_hash=password_hash()
            )
            officer_id = officer.id
        yield EventsStation(base, station, officer_id)


def add_recording(events: EventsStation, *, camera: str, start: datetime, clip: Path) -> None:
    """A closed, indexed 3-minute segment of ``camera`` from ``start`` (the file is ``clip``'s bytes)."""
    relative = f"{camera}/{start:%Y%m%dT%H%M%S}.mp4"
    target = events.station.settings.recordings_dir / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(clip, target)
    data = target.read_bytes()
    with events.station.database.session() as session:
        session.add(
            Segment(
                camera_id=camera,
                start_utc=start,
                end_utc=start + timedelta(minutes=3),
                duration_s=180.0,
                bytes=len(data),
                path=relative,
                sha256=hashlib.sha256(data).hexdigest(),
                status=SegmentStatus.CLOSED.value,
                codec="h264",
                keyframes=1,
            )
        )


def picture(seed: int) -> np.ndarray:
    """A 640x360 frame: a gradient with a figure where the box is."""
    image = np.zeros((360, 640, 3), dtype=np.uint8)
    image[:, :, 0] = np.linspace(40, 90, 640, dtype=np.uint8)[None, :]
    image[:, :, 1] = np.linspace(50, 110, 360, dtype=np.uint8)[:, None]
    image[:, :, 2] = (60 + 25 * seed) % 256
    image[120:290, 230:300] = (90, 90, 200)
    return image


def add_event(
    events: EventsStation,
    *,
    camera: str,
    kind: str,
    start: datetime,
    seconds: float | None,
    zone: str | None = None,
    clip_from: Path | None = None,
) -> int:
    """An event as the recorder leaves it: its row, picture and (optionally) clip; ``seconds=None``: open."""
    with events.station.database.session() as session:
        event = open_event(
            session, camera_id=camera, kind=kind, zone=zone, start_utc=start, score=0.8, detail={}
        )
        event_id = event.id
        snapshot = events.data_dir / "events" / camera / f"{event_id}.jpg"
        snapshot.parent.mkdir(parents=True, exist_ok=True)
        snapshot.write_bytes(render_snapshot(picture(event_id), BOX))
        relative = str(snapshot.relative_to(events.data_dir))
        if seconds is None:
            event.snapshot_path = relative
            return event_id
        end = start + timedelta(seconds=seconds)
        close_event(
            session,
            event_id=event_id,
            start_utc=start,
            end_utc=end,
            score=0.9,
            detail={"box": list(BOX)},
            snapshot_path=relative,
            lock_start_utc=start - timedelta(seconds=5),
            lock_end_utc=end + timedelta(seconds=10),
            lock_expires_at=None,
        )
        if clip_from is not None:
            target = events.data_dir / "events" / camera / f"{event_id}.mp4"
            shutil.copyfile(clip_from, target)
            clip = Clip(
                camera_id=camera,
                start_utc=start - timedelta(seconds=5),
                end_utc=end + timedelta(seconds=10),
                path=str(target.relative_to(events.data_dir)),
                sha256=hashlib.sha256(target.read_bytes()).hexdigest(),
                bytes=target.stat().st_size,
                kind="event",
            )
            session.add(clip)
            session.flush()
            set_event_clip(session, event_id=event_id, clip=clip)
        return event_id


def stored_review(events: EventsStation, event_id: int) -> tuple[str, str | None]:
    with events.station.database.session() as session:
        event = get_event(session, event_id=event_id)
        reason = event_detail(event).get("review_reason")
        return event.review, reason if isinstance(reason, str) else None


def sign_in(page: Any, base: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#username", "officer")
    page.fill("#password", DEFAULT_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def card(page: Any, event_id: int) -> Any:
    return page.locator(f"[data-testid=event][data-id='{event_id}']")


def shown_ids(page: Any) -> list[int]:
    ids: list[int] = page.evaluate("() => window.stationEvents.describe().ids")
    return ids


def selected(page: Any) -> int | None:
    value: int | None = page.evaluate("() => window.stationEvents.describe().selected")
    return value


def wait_list(page: Any, ids: list[int]) -> None:
    page.wait_for_function(
        "(ids) => window.stationEvents && JSON.stringify(window.stationEvents.describe().ids)"
        " === JSON.stringify(ids) && document.querySelectorAll('[data-testid=event]').length === ids.length",
        arg=ids,
        timeout=15000,
    )


def wait_clip_playing(page: Any, event_id: int) -> None:
    """The event's clip plays in its own card."""
    page.wait_for_function(
        "(id) => { const v = document.querySelector('[data-testid=event-video]');"
        " return v && v.readyState >= 2 && v.closest('[data-testid=event]').dataset.id === String(id); }",
        arg=event_id,
        timeout=30000,
    )


def clock(moment: datetime) -> str:
    return moment.astimezone(ZONE).strftime("%H:%M:%S")


def test_review_queue(events_station: EventsStation, small_clip: Path, tmp_path: Path) -> None:
    require_chromium()
    from playwright.sync_api import sync_playwright

    now = utcnow().replace(microsecond=0)
    old = add_event(
        events_station, camera="b5-bins", kind="motion", start=now - timedelta(hours=3), seconds=8
    )
    littering = add_event(
        events_station,
        camera="b5-e1",
        kind="littering",
        zone="vhod",
        start=now - timedelta(minutes=30),
        seconds=25,
        clip_from=small_clip,
    )
    # the recording the littering event's footage comes from (an attach of a range with none is refused)
    add_recording(events_station, camera="b5-e1", start=now - timedelta(minutes=31), clip=small_clip)
    reviewed = add_event(
        events_station, camera="b5-e1", kind="motion", start=now - timedelta(minutes=25), seconds=5
    )
    with events_station.station.database.session() as session:
        review_event(
            session,
            event_id=reviewed,
            decision="dismissed",
            user_id=events_station.officer_id,
            at=now,
            reason="ветер",
        )
    smoking = add_event(
        events_station, camera="b5-bins", kind="smoking", start=now - timedelta(minutes=20), seconds=40
    )
    person = add_event(
        events_station, camera="b5-e1", kind="person", start=now - timedelta(minutes=10), seconds=12
    )
    ongoing = add_event(
        events_station, camera="b5-bins", kind="person", start=now - timedelta(minutes=2), seconds=None
    )
    pending = [ongoing, person, smoking, littering, old]  # newest first; the dismissed one is not pending

    base = events_station.base
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright, executable=CHROMIUM, home=tmp_path / "home")
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1300}, locale="ru-RU")
            sign_in(page, base)
            page.click("nav a[href='/events']")
            page.wait_for_url(f"{base}/events")
            wait_list(page, pending)

            # what the officer sees: station time, kinds translated, the ongoing one marked, pictures loaded
            start_littering = now - timedelta(minutes=30)
            text = card(page, littering).locator("[data-testid=event-time]").inner_text()
            assert clock(start_littering) in text and clock(start_littering + timedelta(seconds=25)) in text
            assert start_littering.strftime("%H:%M:%S") not in text, "times are station time, not UTC"
            assert card(page, littering).locator("[data-testid=event-kind]").inner_text() == "Мусор"
            assert card(page, littering).locator("[data-testid=event-zone]").inner_text() == "Зона: vhod"
            assert (
                card(page, littering).locator("[data-testid=event-camera]").inner_text() == "Дом 5, подъезд 1"
            )
            assert card(page, ongoing).locator("[data-testid=event-ongoing]").inner_text() == "Идёт"
            assert card(page, ongoing).locator("[data-testid=event-confirm]").is_disabled()
            assert card(page, old).locator("[data-testid=event-review]").inner_text() == "Ждёт проверки"
            page.wait_for_function(
                "() => [...document.querySelectorAll('[data-testid=event] img')]"
                ".every(i => i.complete && i.naturalWidth > 0)"
            )
            assert page.locator("[data-testid=shortcuts]").inner_text().count("Enter") == 1

            # keyboard: j/k and arrows move, Enter plays the clip in place
            assert selected(page) == ongoing
            page.keyboard.press("j")
            assert selected(page) == person
            page.keyboard.press("ArrowDown")
            assert selected(page) == smoking
            page.keyboard.press("k")
            assert selected(page) == person
            page.keyboard.press("j")
            page.keyboard.press("j")
            assert selected(page) == littering
            page.keyboard.press("Enter")
            wait_clip_playing(page, littering)
            # an event whose clip is not cut yet says so instead of playing
            card(page, smoking).locator("[data-testid=event-play]").click()
            note = card(page, smoking).locator("[data-testid=event-media-note]")
            note.wait_for(state="visible")
            assert note.inner_text() == "Видеофрагмент ещё не готов. Попробуйте через минуту."
            assert page.locator("[data-testid=event-video]").count() == 0, "one clip plays at a time"
            assert selected(page) == smoking

            # c confirms the selected event, and the queue moves on to the next one
            page.keyboard.press("k")
            assert selected(page) == person
            page.keyboard.press("c")
            card(page, person).locator("[data-testid=event-review].review-confirmed").wait_for()
            assert card(page, person).locator("[data-testid=event-review]").inner_text() == "Подтверждено"
            assert stored_review(events_station, person) == ("confirmed", None)
            assert selected(page) == smoking

            # f asks for the reason; an empty one is refused by the dialog, nothing is sent
            page.keyboard.press("f")
            dialog = page.locator("[data-testid=dismiss-dialog]")
            dialog.wait_for(state="visible")
            page.click("[data-testid=dismiss-submit]")
            assert page.inner_text("[data-testid=dismiss-error]") == "Напишите, почему это ложная тревога."
            page.fill("[data-testid=dismiss-reason]", "   ")
            page.click("[data-testid=dismiss-submit]")
            assert dialog.is_visible()
            assert stored_review(events_station, smoking) == ("pending", None)
            page.fill("[data-testid=dismiss-reason]", "пар от люка, не дым")
            page.click("[data-testid=dismiss-submit]")
            dialog.wait_for(state="hidden")
            smoking_card = card(page, smoking)
            assert smoking_card.locator("[data-testid=event-review]").inner_text() == "Ложная тревога"
            assert smoking_card.locator("[data-testid=event-reason]").inner_text() == "пар от люка, не дым"
            assert stored_review(events_station, smoking) == ("dismissed", "пар от люка, не дым")
            page.wait_for_function(
                "() => document.activeElement.closest('[data-testid=event]') !== null"
            )  # focus back

            card(page, littering).locator("[data-testid=event-play]").click()
            wait_clip_playing(page, littering)
            save_screenshot(page, "events.png")

            # filters live in the URL and survive a reload
            page.select_option("[data-testid=filter-kind]", "motion")
            page.select_option("[data-testid=filter-review]", "any")
            wait_list(page, [reviewed, old])
            assert re.search(r"[?&]kind=motion", page.url) and re.search(r"[?&]review=any", page.url)
            page.reload()
            wait_list(page, [reviewed, old])
            assert page.input_value("[data-testid=filter-kind]") == "motion"
            assert card(page, reviewed).locator("[data-testid=event-reason]").inner_text() == "ветер"
            page.click("button[type=reset]")
            wait_list(page, [ongoing, littering, old])  # back to the pending ones
            assert "kind=" not in page.url

            # "New complaint from it": the registration form comes prefilled with the place and the time
            card(page, littering).locator("[data-testid=event-new-complaint]").click()
            page.wait_for_url(f"{base}/complaints?*")
            page.wait_for_function(
                "() => document.querySelector('select[name=category]').value === 'littering'"
            )
            assert page.input_value("[data-testid=building]") == "5"
            assert page.input_value("[data-testid=entrance]") == "1"
            local_start = start_littering.astimezone(ZONE)
            assert page.input_value("[data-testid=incident-start]") == local_start.strftime("%Y-%m-%dT%H:%M")
            local_end = (start_littering + timedelta(seconds=25 + 59)).astimezone(ZONE)
            assert page.input_value("[data-testid=incident-end]") == local_end.strftime("%Y-%m-%dT%H:%M")
            assert f"№ {littering}" in page.input_value("[data-testid=description]")
            page.click("[data-testid=register]")
            page.wait_for_url(re.compile(r".*/complaints/\d+$"))
            complaint_url = page.url
            page.wait_for_function("() => document.getElementById('complaint-number').textContent.length > 0")
            number = page.text_content("[data-testid=complaint-number]") or ""
            assert number

            # attach the event to that complaint; an attach the server refuses shows its (Russian) reason
            page.goto(f"{base}/events")
            wait_list(page, [ongoing, littering, old])
            card(page, old).locator("[data-testid=event-attach]").click()
            page.wait_for_selector(
                f"[data-testid=attach-complaint] option:text-is('{number} · Мусор · 5 / 1 / подъезд')",
                state="attached",
            )
            page.click("[data-testid=attach-submit]")
            page.wait_for_function("() => document.getElementById('attach-error').textContent.length > 0")
            refusal = page.inner_text("[data-testid=attach-error]")
            assert refusal.startswith("Дежурный может приобщить видео только в пределах 1 ч"), refusal
            page.click("[data-testid=attach-dialog] [data-close]")
            card(page, littering).locator("[data-testid=event-attach]").click()
            page.wait_for_selector(
                f"[data-testid=attach-complaint] option:text-is('{number} · Мусор · 5 / 1 / подъезд')",
                state="attached",
            )
            page.click("[data-testid=attach-submit]")
            link = page.locator("[data-testid=attached-complaint]")
            link.wait_for()
            assert link.inner_text() == number
            assert page.inner_text("[data-testid=events-status]") == f"Приобщено к обращению {number}."
            link.click()
            page.wait_for_url(complaint_url)
            item = page.locator("[data-testid=evidence-item]")
            item.wait_for()
            assert item.count() == 1
            assert (
                item.locator("[data-testid=evidence-event]").inner_text()
                == f"Событие распознавания #{littering}"
            )
            evidence = page.evaluate(
                "async (url) => (await fetch(url.replace('/complaints/', '/api/complaints/'))).json()",
                complaint_url,
            )["evidence"]
            assert [(e["camera_id"], e["event_id"]) for e in evidence] == [("b5-e1", littering)]
            attached_start = datetime.fromisoformat(evidence[0]["start"])
            assert attached_start == start_littering - timedelta(seconds=5)  # the clip's pre-roll

            # the page in Kazakh: no English sentence left
            page.goto(f"{base}/events?lang=kk&review=any")
            wait_list(page, [ongoing, person, smoking, reviewed, littering, old])
            body = page.inner_text("body")
            for kazakh in (
                "Оқиғалар",
                "Жалған дабыл",
                "Расталды",
                "Тексеруді күтуде",
                "Қоқыс тастау",
                "Жалғасуда",
            ):
                assert kazakh in body, kazakh
            # Latin words that make no sentence: a key, the zone's slug, the user name, the language menu
            allowed = {"Enter", "vhod", "officer", "English", "unknown"}
            english = sorted(set(re.findall(r"[A-Za-z]{3,}", body)) - allowed)
            assert not english, f"English words on the Kazakh page: {english}"
        finally:
            browser.close()


def test_wall_marks_a_camera_while_its_event_goes_on(events_station: EventsStation, tmp_path: Path) -> None:
    require_chromium()
    from playwright.sync_api import sync_playwright

    detection = events_station.station.detection
    assert detection is not None
    base = events_station.base
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright, executable=CHROMIUM, home=tmp_path / "home")
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="ru-RU")
            sign_in(page, base)
            page.goto(f"{base}/live")
            tile = page.locator(".tile[data-camera=b5-e1]")
            tile.wait_for()
            assert page.is_checked("[data-testid=wall-sound]") is False, "the sound is off by default"
            page.check("[data-testid=wall-sound]")
            assert tile.locator("[data-testid=tile-event]").is_hidden()
            second = browser.new_context(viewport={"width": 1280, "height": 800}, locale="ru-RU")
            second.add_cookies(page.context.cookies())
            queue = second.new_page()  # the review queue, open in another tab, hears of it too
            queue.goto(f"{base}/events")
            queue.wait_for_function("() => window.stationEvents && window.stationEvents.describe().streaming")
            assert queue.locator("[data-testid=event]").count() == 0

            # the detection worker reports an event: the station's recorder stores it and the wall marks it
            start_s = time.time()
            episode = Episode(
                kind="littering", zone="vhod", start_t_s=start_s, end_t_s=start_s, box=BOX, score=0.9
            )
            detection.recorder.on_opened("b5-e1", episode, picture(1))
            page.wait_for_function(
                "() => (window.stationWall.describe().tiles['b5-e1'] || {}).event?.join() === 'littering'",
                timeout=15000,
            )
            badge = tile.locator("[data-testid=tile-event]")
            assert badge.is_visible() and badge.inner_text() == "Мусор"
            assert "tile-alert" in (tile.get_attribute("class") or "")
            assert page.inner_text("[data-testid=wall-events]") == "Идущих событий: 1"
            page.wait_for_function("() => window.stationWall.describe().beeps === 1")
            queue.click("[data-testid=events-new]")
            queue.locator("[data-testid=event] [data-testid=event-ongoing]").wait_for()
            assert queue.locator("[data-testid=events-new]").is_hidden()
            page.wait_for_function(
                "() => (window.stationWall.describe().tiles['b5-e1'] || {}).status === 'online'",
                timeout=30000,
            )
            time.sleep(1.5)  # let the picture (the live snapshot, or the stream) settle for the screenshot
            save_screenshot(page, "wall_event.png")

            # the event ends: the mark goes away, no new beep
            detection.recorder.on_closed(
                DetectionEvent(
                    camera="b5-e1",
                    kind="littering",
                    zone="vhod",
                    start_t_s=start_s,
                    end_t_s=start_s + 3,
                    box=BOX,
                    score=0.9,
                    track=None,
                    best_t_s=start_s + 1,
                )
            )
            page.wait_for_function(
                "() => (window.stationWall.describe().tiles['b5-e1'] || {}).event?.length === 0",
                timeout=15000,
            )
            assert badge.is_hidden() and "tile-alert" not in (tile.get_attribute("class") or "")
            assert page.locator("[data-testid=wall-events]").is_hidden()
            assert page.evaluate("() => window.stationWall.describe().beeps") == 1
            queue.locator("[data-testid=event] [data-testid=event-ongoing]").wait_for(state="detached")
            assert queue.locator("[data-testid=event-confirm]").is_enabled()  # ended: it can be reviewed now
            events = page.evaluate("async () => (await fetch('/api/events?review=pending')).json()")
            assert [(e["camera_id"], e["kind"], e["ongoing"]) for e in events["items"]] == [
                ("b5-e1", "littering", False)
            ]
        finally:
            browser.close()
