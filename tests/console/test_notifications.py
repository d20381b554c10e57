"""Notifications (``GET /api/notifications``): each kind appears while its condition holds and is gone once
it clears, told only to the roles it concerns, in the request's language.

The pure planning (:func:`console.notification.plan_notifications`) is checked as a table; the API against
a running station with a real SQLite database: a real camera that cannot be reached goes offline, events
and complaints are real rows, and retention's status is the station's own seam
(``station.recording.retention_status``).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient
from sqlalchemy import update

from console.health import CameraHealth, CameraStatus
from console.i18n import LOCALE_DIR, SUPPORTED_LANGUAGES, Catalogs
from console.notification import (
    MESSAGES,
    OVERDUE_LISTED,
    NotificationKind,
    OverdueComplaint,
    PendingEvents,
    plan_notifications,
)
from console.permission import permissions_for
from console.station_status import StatusLevel, StatusReason
from storage.event import open_event, review_event
from storage.model import Complaint, Role, utcnow
from storage.retention import RetentionAlarm, RetentionStatus
from tests.support.console import make_user, running_station, sign_in

pytestmark = pytest.mark.timeout(120)

T0 = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)
OFFLINE = CameraHealth(
    id="gate", name="Ворота", status=CameraStatus.OFFLINE, since=T0, detail="connect_failed: x"
)
ONLINE = CameraHealth(id="yard", name="Двор", status=CameraStatus.ONLINE, since=T0)
DISK_FULL = StatusReason(StatusLevel.DEGRADED, "disk_full", "the disk is full")
RECORDER = StatusReason(StatusLevel.DEGRADED, "recorder_database_unreachable", "gate: recorder alarm", "gate")
NOT_AN_ALARM = StatusReason(StatusLevel.WARNING, "camera_degraded", "yard delivers with trouble", "yard")
OVERDUE = [OverdueComplaint(7, "2026-000007", T0)]
PENDING = PendingEvents(count=3, newest_id=42, newest_at=T0)


def kinds(role: Role, **state: Any) -> list[str]:
    found = plan_notifications(permissions=permissions_for(role), **{"cameras": (), "reasons": (), **state})
    return [n.key for n in found]


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        (
            Role.OFFICER,
            [
                "recording_alarm:disk_full:",
                "recording_alarm:recorder_database_unreachable:gate",
                "camera_offline:gate",
                "complaint_overdue:7",
                "events_pending:42",
            ],
        ),
        (
            Role.SUPERVISOR,
            [
                "recording_alarm:disk_full:",
                "recording_alarm:recorder_database_unreachable:gate",
                "camera_offline:gate",
                "complaint_overdue:7",
                "events_pending:42",
            ],
        ),
        (
            Role.INVESTIGATOR,
            [
                "recording_alarm:disk_full:",
                "recording_alarm:recorder_database_unreachable:gate",
                "camera_offline:gate",
            ],
        ),
        (
            Role.ADMIN,
            [
                "recording_alarm:disk_full:",
                "recording_alarm:recorder_database_unreachable:gate",
                "camera_offline:gate",
            ],
        ),
        (Role.AUDITOR, []),
    ],
)
def test_each_role_is_told_what_concerns_it(role: Role, expected: list[str]) -> None:
    assert (
        kinds(
            role,
            cameras=(OFFLINE, ONLINE),
            reasons=(DISK_FULL, RECORDER, NOT_AN_ALARM),
            overdue=OVERDUE,
            overdue_total=1,
            pending_events=PENDING,
        )
        == expected
    )


def test_nothing_to_tell_when_all_is_well() -> None:
    assert kinds(Role.SUPERVISOR, cameras=(ONLINE,), reasons=(NOT_AN_ALARM,)) == []
    assert kinds(Role.SUPERVISOR, pending_events=PendingEvents(0, 1, T0)) == []


def test_links_words_and_many_overdue_complaints() -> None:
    officer = permissions_for(Role.OFFICER)
    found = plan_notifications(permissions=officer, cameras=(OFFLINE,), reasons=(RECORDER,))
    assert [n.link for n in found] == ["/", "/live?camera=gate"]
    assert str(found[0].message) == "Camera Ворота: The database does not answer: new footage is not indexed."
    assert found[1].detail is not None and "does not answer" in str(found[1].detail)
    investigator = plan_notifications(
        permissions=permissions_for(Role.INVESTIGATOR), cameras=(OFFLINE,), reasons=()
    )
    assert investigator[0].link == "/"  # no live view: the overview says more
    many = [OverdueComplaint(i, f"2026-{i:06d}", T0 + timedelta(minutes=i)) for i in range(OVERDUE_LISTED)]
    summary = plan_notifications(
        permissions=officer, cameras=(), reasons=(), overdue=many, overdue_total=OVERDUE_LISTED + 3
    )
    assert [(n.kind, n.count, n.since, n.link) for n in summary] == [
        (NotificationKind.COMPLAINT_OVERDUE, OVERDUE_LISTED + 3, T0, "/complaints?overdue=1&mine=0")
    ]
    assert str(summary[0].message) == f"Overdue complaints: {OVERDUE_LISTED + 3}."


@pytest.mark.parametrize("lang", SUPPORTED_LANGUAGES)
def test_every_notification_text_is_in_the_catalog(lang: str) -> None:
    with (LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog = read_po(handle, locale=lang)
    entries = {m: catalog.get(m) for m in MESSAGES}
    missing = sorted(m for m, entry in entries.items() if entry is None or not entry.string)
    assert not missing, f"{lang}: {missing}"
    translated = plan_notifications(
        permissions=permissions_for(Role.OFFICER), cameras=(OFFLINE,), reasons=(RECORDER,)
    )[0].message.translate(Catalogs.load("ru").get(lang))
    if lang != "en":
        assert "does not answer" not in translated and "Ворота" in translated


def notifications(client: TestClient, **params: str) -> list[dict[str, Any]]:
    response = client.get("/api/notifications", params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def wait_for(client: TestClient, key: str, timeout_s: float = 20.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout_s
    while True:
        items = notifications(client)
        if any(item["key"] == key for item in items) or time.monotonic() > deadline:
            return items
        time.sleep(0.3)


def test_api_shows_each_kind_while_it_holds(
    console_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    station = running_station(console_client)
    officer_id = make_user(station.database, "officer", Role.OFFICER)
    make_user(station.database, "auditor", Role.AUDITOR)
    assert console_client.get("/api/notifications").status_code == 401
    sign_in(console_client, "officer")
    # entrance-1 points at a closed port: it goes offline for real
    items = wait_for(console_client, "camera_offline:entrance-1")
    offline = next(item for item in items if item["key"] == "camera_offline:entrance-1")
    assert offline["kind"] == "camera_offline" and offline["link"] == "/live?camera=entrance-1"
    assert offline["since"] is not None and offline["level"] == "alarm"

    # a pending detection event, then its review
    with station.database.session() as session:
        event = open_event(
            session,
            camera_id="entrance-1",
            kind="littering",
            zone=None,
            start_utc=utcnow(),
            score=0.9,
            detail={},
        )
        event_id = event.id
    events = [item for item in notifications(console_client, lang="ru") if item["kind"] == "events_pending"]
    assert [(e["key"], e["count"], e["message"]) for e in events] == [
        (f"events_pending:{event_id}", 1, "События распознавания ждут проверки: 1.")
    ]
    with station.database.session() as session:
        review_event(session, event_id=event_id, decision="confirmed", user_id=officer_id, at=utcnow())
    assert not [item for item in notifications(console_client) if item["kind"] == "events_pending"]

    # an overdue complaint, then the same one no longer overdue
    csrf = sign_in(console_client, "officer")
    now = utcnow().replace(microsecond=0)
    created = console_client.post(
        "/api/complaints",
        headers={"X-CSRF-Token": csrf},
        json={
            "received_at": (now - timedelta(hours=30)).isoformat(),
            "channel": "phone",
            "category": "noise",
            "area": "двор",
            "incident_start": (now - timedelta(hours=31)).isoformat(),
            "incident_end": (now - timedelta(hours=30)).isoformat(),
        },
    )
    assert created.status_code == 201, created.text
    complaint = created.json()["complaint"]
    overdue = [
        item for item in notifications(console_client, lang="kk") if item["kind"] == "complaint_overdue"
    ]
    assert [(o["key"], o["link"], o["message"]) for o in overdue] == [
        (
            f"complaint_overdue:{complaint['id']}",
            f"/complaints/{complaint['id']}",
            f"{complaint['number']} өтінішінің мерзімі өтті.",
        )
    ]
    since = datetime.fromisoformat(complaint["due_at"]) - timedelta(seconds=1)
    assert [
        o["new"]
        for o in notifications(console_client, since=since.isoformat())
        if o["kind"] == "complaint_overdue"
    ] == [True]
    with station.database.session() as session:
        session.execute(update(Complaint).values(due_at=now + timedelta(hours=1)))
    assert not [item for item in notifications(console_client) if item["kind"] == "complaint_overdue"]

    # a recording alarm from retention (the disk full), then cleared
    full = RetentionStatus(
        recording_stopped=True,
        alarms=(RetentionAlarm("disk_full", "free space below the floor"),),
    )
    monkeypatch.setattr(station.recording, "retention_status", lambda: full)
    alarms = [item for item in notifications(console_client, lang="en") if item["kind"] == "recording_alarm"]
    assert [a["message"] for a in alarms] == [
        "Recording stopped: the disk holds only footage kept as evidence.",
        "The recordings disk is full.",
    ]
    monkeypatch.setattr(station.recording, "retention_status", lambda: RetentionStatus())
    assert not [item for item in notifications(console_client) if item["kind"] == "recording_alarm"]

    # the camera back online (its health as the ingest side reports it)
    monkeypatch.setattr(station.recording, "snapshot", dict)
    station.health.update("entrance-1", CameraStatus.ONLINE)
    assert not [item for item in notifications(console_client) if item["kind"] == "camera_offline"]

    # the auditor is told nothing of it all
    sign_in(console_client, "auditor")
    station.health.update("entrance-1", CameraStatus.OFFLINE, detail="connect_failed: refused")
    assert notifications(console_client) == []
