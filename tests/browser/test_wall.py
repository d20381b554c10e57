"""End to end: the camera wall in real headless Chromium, WebRTC passthrough from a real `station run`.

Everything runs inside a network namespace made for the test: the RTSP test server (cameras), the station
(``station run`` with a temp config) and Chromium. The test signs in, opens the wall with two cameras, waits
for both pictures to play, checks the station encoded no frame, kills one camera and sees its tile go
offline, brings it back and sees the tile play again without a page reload; full screen and a hidden tab
stop the streams they do not need. Screenshots go to the artefacts
folder (``$STATION_ARTIFACTS_DIR`` or ``artifacts/``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import tests.support.rtsp_server as rtsp_module
from tests.support.browser import artifacts_dir, launch_chromium, require_chromium, save_screenshot
from tests.support.netns import NetNamespace
from tests.support.rtsp_server import RtspServer, RtspServerFactory
from tests.support.station_process import stop_station

pytestmark = [pytest.mark.browser, pytest.mark.rtsp, pytest.mark.slow, pytest.mark.timeout(240)]

PASSWORD = "wall-test-password-1"
STATION_BIN = Path(sys.executable).with_name("station")
PORT = 8091


@dataclass
class RunningStation:
    url: str
    process: subprocess.Popen[bytes]
    log: Path


def _write_config(path: Path, data_dir: Path, host: str, cameras: dict[str, str]) -> None:
    lines = [
        "station:",
        '  name: "ЖК Wall test"',
        "  timezone: Asia/Almaty",
        "storage:",
        f"  data_dir: {data_dir}",
        "console:",
        f"  host: {host}",
        f"  port: {PORT}",
        "  language: ru",
        "cameras:",
    ]
    for index, (camera_id, url) in enumerate(cameras.items(), start=1):
        lines += [
            f"  - id: {camera_id}",
            f'    name: "Камера {index}"',
            f"    url: {url}",
            "    open_timeout_s: 2",
            "    read_timeout_s: 2",
            f'    location: {{building: "5", entrance: "{index}", area: "подъезд"}}',
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture
def station(
    tmp_path: Path, netns: NetNamespace, rtsp_cameras: dict[str, RtspServer]
) -> Iterator[RunningStation]:
    config = tmp_path / "station.yaml"
    _write_config(config, tmp_path / "data", netns.address, {k: s.url(k) for k, s in rtsp_cameras.items()})
    env = {**os.environ, "HOME": str(tmp_path / "home")}
    added = subprocess.run(
        [str(STATION_BIN), "user", "add", "officer", "--role", "officer", "-c", str(config)],
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert added.returncode == 0, added.stderr
    log = tmp_path / "station.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*netns.prefix(), str(STATION_BIN), "run", "-c", str(config)], stdout=out, stderr=out, env=env
        )
    try:
        yield RunningStation(f"http://{netns.address}:{PORT}", process, log)
    finally:
        stop_station(process, 20, kill_wait_s=5)


@pytest.fixture
def rtsp_cameras(
    netns: NetNamespace,
    rtsp_server_factory: RtspServerFactory,
    small_clip: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, RtspServer]:
    """Two cameras, each its own RTSP server process inside the namespace (so one can be killed alone)."""
    rtsp_module.missing_reason()  # probe with the real interpreter first
    monkeypatch.setattr(
        rtsp_module, "SYSTEM_PYTHON", netns.wrap("/usr/bin/python3", tmp_path / "python3-netns")
    )
    return {name: rtsp_server_factory({name: small_clip}) for name in ("cam1", "cam2")}


def _tile(state: dict[str, Any], camera: str) -> dict[str, Any]:
    tile: dict[str, Any] = state["tiles"].get(camera) or {"width": 0, "frames": 0, "status": None}
    return tile


def _wall(page: Any) -> dict[str, Any]:
    result: dict[str, Any] = page.evaluate("() => window.stationWall.describe()")
    return result


def _wait(page: Any, predicate: Any, timeout_s: float, what: str, station: RunningStation) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    state: dict[str, Any] = {}
    while time.monotonic() < deadline:
        state = _wall(page)
        if predicate(state):
            return state
        time.sleep(0.25)
    tail = station.log.read_text(errors="replace")[-3000:]
    raise AssertionError(f"timed out waiting for {what}; wall: {state}\nstation log:\n{tail}")


def _frames_advance(page: Any, camera: str, station: RunningStation, timeout_s: float = 20) -> None:
    start = _wait(page, lambda s: _tile(s, camera)["width"] > 0, timeout_s, f"{camera} picture", station)
    before = _tile(start, camera)["frames"]
    _wait(
        page, lambda s: _tile(s, camera)["frames"] >= before + 10, 10, f"{camera} frames advancing", station
    )


def _login(page: Any, station: RunningStation) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            page.goto(f"{station.url}/login?next=/live", timeout=5000)
            break
        except Exception:  # noqa: BLE001 - the station is still starting
            if time.monotonic() > deadline or station.process.poll() is not None:
                raise AssertionError(
                    "station did not start:\n" + station.log.read_text(errors="replace")[-3000:]
                ) from None
            time.sleep(0.5)
    page.fill("input[name=username]", "officer")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/live", timeout=15000)


def _wait_viewers(page: Any, predicate: Any, what: str, timeout_s: float = 30) -> None:
    """Poll the station's live registry until its viewer count satisfies ``predicate``."""
    deadline = time.monotonic() + timeout_s
    viewers = -1
    while time.monotonic() < deadline:
        viewers = page.evaluate("() => fetch('/api/live/stats').then((r) => r.json()).then((s) => s.viewers)")
        if predicate(viewers):
            return
        time.sleep(0.3)
    pytest.fail(f"{what}: station still has {viewers} viewer(s) after {timeout_s} s")


def _set_tab_hidden(page: Any, *, hidden: bool) -> None:
    """What the browser does when the tab is switched away or back (Page Visibility API)."""
    state = "hidden" if hidden else "visible"
    page.evaluate(
        """([hidden, state]) => {
            Object.defineProperty(document, "hidden", {configurable: true, get: () => hidden});
            Object.defineProperty(document, "visibilityState", {configurable: true, get: () => state});
            document.dispatchEvent(new Event("visibilitychange"));
        }""",
        [hidden, state],
    )


def test_wall_plays_two_cameras_passthrough_and_recovers(
    station: RunningStation, rtsp_cameras: dict[str, RtspServer], netns: NetNamespace, tmp_path: Path
) -> None:
    require_chromium()
    from playwright.sync_api import sync_playwright

    chromium = netns.wrap("/usr/bin/chromium", tmp_path / "chromium-netns")
    shots = artifacts_dir()
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright, executable=chromium, home=tmp_path / "chrome-home")
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="ru-RU")
            _login(page, station)
            page.evaluate("() => { window.__sameDocument = true; }")
            for camera in ("cam1", "cam2"):
                _frames_advance(page, camera, station)
            stats = page.evaluate("() => fetch('/api/live/stats').then((r) => r.json())")
            assert stats["viewers"] == 2, stats
            assert stats["frames_encoded"] == 0 and stats["senders_encoding"] == 0, stats
            wall = _wall(page)
            assert {wall["tiles"][c]["width"] for c in ("cam1", "cam2")} == {640}
            page.screenshot(path=str(shots / "wall-2x2.png"))

            rtsp_cameras["cam2"].stop()  # the camera loses power
            _wait(page, lambda s: _tile(s, "cam2")["status"] == "offline", 60, "cam2 offline", station)
            since = page.inner_text(".tile[data-camera=cam2] .tile-since")
            assert since.strip(), "an offline tile says since when"
            _frames_advance(page, "cam1", station)  # the other camera is unaffected
            page.screenshot(path=str(shots / "wall-2x2-offline.png"))
            # the Overview page, in a second tab of the same sign-in, tells the officer why, in Russian
            second = browser.new_context(viewport={"width": 1280, "height": 800}, locale="ru-RU")
            second.add_cookies(page.context.cookies())
            overview = second.new_page()
            overview.goto(f"{station.url}/")
            alert = overview.locator(".station-status-degraded [data-code=camera_offline]")
            assert alert.count() == 1, overview.content()
            # the cause in Russian words; the raw English detail only in the tooltip
            assert "Нет связи" in alert.inner_text() and "нет связи по сети" in alert.inner_text()
            assert "connection refused" not in alert.inner_text()
            assert "refused" in (alert.get_attribute("title") or "").lower()
            save_screenshot(overview, "overview-degraded.png")

            rtsp_cameras["cam2"].start()  # back on the same port
            _wait(page, lambda s: _tile(s, "cam2")["status"] == "online", 60, "cam2 online again", station)
            _frames_advance(page, "cam2", station, timeout_s=40)
            assert page.evaluate("() => window.__sameDocument === true"), "the page was reloaded"
            stats = page.evaluate("() => fetch('/api/live/stats').then((r) => r.json())")
            assert stats["frames_encoded"] == 0, stats
            page.screenshot(path=str(shots / "wall-2x2-recovered.png"))
            overview.reload()  # back to ok: the alert is gone
            assert overview.locator(".station-status").count() == 0, overview.content()
            second.close()

            page.click(".tile[data-camera=cam1]")  # full screen: main stream, tiles stop streaming
            page.wait_for_function(
                "() => { const v = document.querySelector('.focus-video'); return v && v.videoWidth > 0; }",
                timeout=20000,
            )
            page.screenshot(path=str(shots / "wall-focus.png"))
            _wait_viewers(page, lambda n: n == 1, "only the full-screen stream while it is open")
            page.keyboard.press("Escape")
            _wait_viewers(page, lambda n: n == 2, "both tiles stream again after full screen")

            _set_tab_hidden(page, hidden=True)  # the officer switches to another tab
            _wait_viewers(page, lambda n: n == 0, "a hidden tab streams nothing")
            _set_tab_hidden(page, hidden=False)
            _wait_viewers(page, lambda n: n == 2, "tiles stream again when the tab is back")
            for camera in ("cam1", "cam2"):
                _frames_advance(page, camera, station)
        finally:
            browser.close()
