"""The printable complaint card (``/complaints/{id}/card``): what it shows, to whom, and its audit row.

Real recorded segments (their SHA-256 as indexed), a real signed export (its package fingerprint), a real
SQLite database. The Chromium side (languages, the PDF) is ``tests/browser/test_complaint_card.py``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from console.complaint_card import card_entry
from console.complaint_schema import HistoryPublic
from storage.model import AuditEntry, utcnow
from tests.support.station_media import MediaStation

ALMATY = ZoneInfo("Asia/Almaty")

pytestmark = pytest.mark.timeout(120)

REPORTER = "Жанұзақова Айгерім"


def printed(sha256: str) -> str:
    """A hash as the card prints it: two halves, with a line-break opportunity between them."""
    return f"{sha256[:32]}<wbr>{sha256[32:]}"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def test_card_shows_the_footage_hashes_the_package_fingerprint_and_audits_personal_data(
    media_station: MediaStation,
) -> None:
    start = (utcnow() - timedelta(minutes=30)).replace(microsecond=0)
    files = media_station.record("b5-e1", start, count=3)
    supervisor = media_station.login("supervisor")
    created = supervisor.post(
        "/api/complaints",
        json={
            "received_at": iso(start + timedelta(minutes=10)),
            "channel": "phone",
            "category": "noise",
            "reporter_name": REPORTER,
            "reporter_contact": "+7 701 000 00 00",
            "description": "Шум у подъезда",
            "building": "5",
            "entrance": "1",
            "incident_start": iso(start),
            "incident_end": iso(start + timedelta(seconds=6)),
        },
    )
    assert created.status_code == 201, created.text
    cid, number = created.json()["complaint"]["id"], created.json()["complaint"]["number"]
    attach = {
        "camera_id": "b5-e1",
        "start": iso(start + timedelta(seconds=1)),
        "end": iso(start + timedelta(seconds=3)),
    }
    assert supervisor.post(f"/api/complaints/{cid}/evidence", json=attach).status_code == 201
    made = supervisor.post(f"/api/complaints/{cid}/export", json={"reason": "запрос суда"})
    assert made.status_code == 201, made.text
    package_hash = supervisor.get(made.json()["url"]).json()["sha256"]
    assert package_hash

    page = supervisor.get(f"/complaints/{cid}/card?lang=ru")
    assert page.status_code == 200, page.text
    html = page.text
    assert f"Обращение № {number}" in html and "Карточка обращения" in html
    # the attached 1..3 s lie in the first two 2-second files: both hashes, not the third's
    assert printed(files[0].sha256) in html and printed(files[1].sha256) in html
    assert printed(files[2].sha256) not in html
    assert printed(package_hash) in html
    assert media_station.station.key.fingerprint in html
    assert REPORTER in html and "+7 701 000 00 00" in html
    # station time: the attached range starts at start+1 s in Asia/Almaty (UTC+5)
    local = (start + timedelta(seconds=1)).astimezone(ALMATY).strftime("%Y-%m-%d %H:%M:%S")
    assert local in html
    assert "Шум у подъезда" in html and "Новое" in html
    assert "onclick" not in html and "style=" not in html

    with media_station.station.database.session() as session:
        rows = session.execute(
            select(AuditEntry.username, AuditEntry.detail).where(
                AuditEntry.action == "complaint.view_personal"
            )
        ).all()
    assert ("supervisor", {"view": "card"}) in [(u, json.loads(d or "{}")) for u, d in rows]

    # the auditor reads the card without the reporter (and is not audited for personal data)
    auditor = media_station.login("auditor").get(f"/complaints/{cid}/card?lang=kk")
    assert auditor.status_code == 200
    assert REPORTER not in auditor.text and "+7 701" not in auditor.text
    assert printed(package_hash) in auditor.text and printed(files[0].sha256) in auditor.text
    with media_station.station.database.session() as session:
        audited = session.scalars(
            select(AuditEntry.username).where(AuditEntry.action == "complaint.view_personal")
        ).all()
    assert "auditor" not in audited
    # the investigator works the case: sees the reporter; the admin may not read complaints at all
    assert REPORTER in media_station.login("investigator").get(f"/complaints/{cid}/card").text
    assert media_station.login("admin").get(f"/complaints/{cid}/card").status_code == 403
    assert supervisor.get("/complaints/999999/card").status_code == 404
    # the complaint page links to its card
    assert f'href="/complaints/{cid}/card"' in supervisor.get(f"/complaints/{cid}").text


def test_card_without_footage_or_package_says_so(media_station: MediaStation) -> None:
    now = utcnow().replace(microsecond=0)
    officer = media_station.login("officer")
    created = officer.post(
        "/api/complaints",
        json={
            "received_at": iso(now),
            "channel": "walk_in",
            "category": "littering",
            "description": "Мусор",
            "area": "парковка",
            "incident_start": iso(now - timedelta(hours=1)),
            "incident_end": iso(now - timedelta(minutes=50)),
        },
    )
    assert created.status_code == 201, created.text
    html = officer.get(f"/complaints/{created.json()['complaint']['id']}/card?lang=kk").text
    assert "Жазбалар тіркелмеген." in html and "Бұл өтініш бойынша пакет экспортталмаған." in html
    with media_station.station.database.session() as session:
        assert not session.scalars(
            select(AuditEntry).where(AuditEntry.action == "complaint.view_personal")
        ).all()


def test_history_rows_are_read_for_print() -> None:
    at = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)
    row = HistoryPublic(
        id=1,
        at=at,
        user_id=2,
        user="Айгүл",
        action="evidence_attached",
        from_status=None,
        to_status=None,
        note=None,
        detail={"camera": "b5-e1", "start": "2026-12-05T07:00:00+00:00", "end": "2026-12-05T07:05:00+00:00"},
    )
    entry = card_entry(row, {"b5-e1": "Дом 5, подъезд 1"})
    assert entry.camera == "Дом 5, подъезд 1"
    assert entry.start == datetime(2026, 12, 5, 7, 0, tzinfo=UTC)
    assert entry.end == datetime(2026, 12, 5, 7, 5, tzinfo=UTC)
    broken = card_entry(
        row.model_copy(update={"detail": {"camera": 5, "start": "yesterday", "fields": "x"}}), {}
    )
    assert broken.camera is None and broken.start is None and broken.fields == []
    status = card_entry(
        row.model_copy(
            update={"action": "status", "detail": {"outcome": "unfounded"}, "to_status": "rejected"}
        ),
        {},
    )
    assert status.outcome == "unfounded" and status.to_status == "rejected"
