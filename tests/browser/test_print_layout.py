"""Printing pages other than the complaint card (issue 25), in real headless Chromium: an A4 sheet is
narrower than the phone breakpoint (760 px), yet the printout uses the print stylesheet, not the phone
layout. Checked on the complaint page and the exports list, with print media emulated at the width of an
A4 sheet's printable area: no phone or tablet rule applies, no sidebar or buttons, nothing wider than the
sheet; and Chromium's own ``page.pdf()`` prints them on A4. The console runs in-process on 127.0.0.1."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from config.settings import Settings
from console.app import create_app
from console.station import Station
from storage.complaint import ComplaintFields, create_complaint
from storage.model import Export, Role, utcnow
from tests.support.browser import CHROMIUM, artifacts_dir, launch_chromium, require_chromium, sign_in_page
from tests.support.console import make_user, station_config
from tests.support.served_console import served_app

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]
PDF_PAGE = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")
A4_PRINTABLE_PX = round((210 - 2 * 12) / 25.4 * 96)  # the sheet's width less the @page margins (12 mm each)
FINGERPRINT = "ab12" * 16

# Media rules that apply now, for a width-limited rule (a breakpoint) in any stylesheet of the page.
WIDTH_RULES_JS = """() => {
  const found = [];
  for (const sheet of document.styleSheets) {
    let rules;
    try { rules = sheet.cssRules; } catch (error) { continue; }
    for (const rule of rules) {
      if (rule instanceof CSSMediaRule && /width/.test(rule.media.mediaText)
          && window.matchMedia(rule.media.mediaText).matches) {
        found.push(`${sheet.href}: ${rule.media.mediaText}`);
      }
    }
  }
  return found;
}"""

# What the sheet shows: the sidebar and buttons hidden, and any element wider than the page.
PRINTED_JS = """() => {
  const width = document.documentElement.clientWidth;
  const shown = (selector) => [...document.querySelectorAll(selector)]
    .filter((e) => getComputedStyle(e).display !== 'none' && e.getClientRects().length > 0).length;
  const wide = [...document.querySelectorAll('body *')]
    .filter((e) => e.getClientRects().length > 0 && e.getBoundingClientRect().right > width + 1)
    .map((e) => `${e.tagName.toLowerCase()}.${e.className}`);
  return {
    scrollWidth: document.documentElement.scrollWidth, width,
    sidebar: shown('.sidebar'), buttons: shown('.content button, .content .btn'), wide,
    tableDisplay: [...document.querySelectorAll('.content .table')].map((t) => getComputedStyle(t).display),
    title: document.querySelector('.page-title') ? document.querySelector('.page-title').textContent : null,
  };
}"""


@dataclass(frozen=True)
class PrintStation:
    base: str
    complaint_id: int
    number: str


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrintStation]:
    app = create_app(
        Settings(config=station_config(tmp_path_factory.mktemp("print") / "data"), config_path=None)
    )
    with served_app(app, name="print-e2e") as base:
        station = app.state.station
        assert isinstance(station, Station)
        supervisor = make_user(station.database, "supervisor", Role.SUPERVISOR, display_name="Начальник")
        now = utcnow()
        with station.database.session() as session:
            complaint = create_complaint(
                session,
                fields=ComplaintFields(
                    received_at=now - timedelta(hours=2),
                    channel="phone",
                    category="littering",
                    incident_start=now - timedelta(hours=3),
                    incident_end=now - timedelta(hours=2, minutes=30),
                    description="Мусор у подъезда; " * 40 + "ОченьДлинноеСловоБезПробелов" * 8,
                    reporter_name="Ерлан Ахметов",
                    reporter_contact="+7 (777) 123-45-67",
                    building="5",
                    entrance="1",
                ),
                created_by=supervisor,
                now=now - timedelta(hours=2),
                year=now.year,
                due_at=now + timedelta(hours=20),
            )
            session.add(
                Export(
                    created_by=supervisor,
                    created_at=now - timedelta(hours=1),
                    complaint_id=complaint.id,
                    reason="Запрос следователя " * 10,
                    path=None,
                    sha256=FINGERPRINT,
                    bytes=12_345_678,
                    status="ready",
                )
            )
            found = PrintStation(base, complaint.id, complaint.number)
        yield found


def check_printed(page: Any, path: str, ready: str, name: str) -> dict[str, Any]:
    """Open ``path`` on a desktop screen, then print it: the layout checks and an A4 PDF."""
    page.emulate_media(media="screen")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(path)
    page.wait_for_function(ready)
    page.emulate_media(media="print")
    page.set_viewport_size({"width": A4_PRINTABLE_PX, "height": 1000})
    applied = page.evaluate(WIDTH_RULES_JS)
    assert applied == [], f"{name}: screen breakpoints apply on paper: {applied}"
    printed: dict[str, Any] = page.evaluate(PRINTED_JS)
    assert printed["sidebar"] == 0 and printed["buttons"] == 0, printed
    page.screenshot(path=str(artifacts_dir() / f"print_{name}.png"), full_page=True)
    assert printed["wide"] == [], printed
    assert printed["scrollWidth"] <= printed["width"], printed
    assert all(display == "table" for display in printed["tableDisplay"]), printed
    page.screenshot(path=str(artifacts_dir() / f"print_{name}.png"), full_page=True)
    pdf: bytes = page.pdf(format="A4", print_background=False)
    (artifacts_dir() / f"print_{name}.pdf").write_bytes(pdf)
    printed["pages"] = len(PDF_PAGE.findall(pdf))
    assert pdf.startswith(b"%PDF") and 1 <= printed["pages"] <= 4, printed["pages"]
    # back on a phone screen, the phone layout still applies
    page.emulate_media(media="screen")
    page.set_viewport_size({"width": 390, "height": 800})
    assert page.evaluate(WIDTH_RULES_JS), f"{name}: the phone layout no longer applies on a phone"
    return printed


def test_complaint_page_and_exports_list_print_without_the_phone_layout(
    served: PrintStation, tmp_path: Path
) -> None:
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright, executable=CHROMIUM, home=tmp_path / "home")
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="ru-RU")
            sign_in_page(page, served.base, "supervisor")
            complaint = check_printed(
                page,
                f"{served.base}/complaints/{served.complaint_id}",
                "() => document.body.textContent.includes('Ерлан Ахметов')",
                "complaint",
            )
            assert complaint["title"] and served.number in page.text_content("body")
            exports = check_printed(
                page,
                f"{served.base}/exports",
                f"() => document.body.textContent.includes('{served.number}')",
                "exports",
            )
            recordings = check_printed(
                page, f"{served.base}/recordings", "() => document.readyState === 'complete'", "recordings"
            )
            pages = {
                "complaint": complaint["pages"],
                "exports": exports["pages"],
                "recordings": recordings["pages"],
            }
            print(f"printed A4 pages: {pages}")
        finally:
            browser.close()
