"""Content for page tests: rows in the lists, so pages are looked at filled, not only empty.

:func:`add_content` puts a detection event on ``entrance-1`` (straight into the database) and registers a
complaint with long texts through the API, signed in as ``officer`` (who must exist), on a served console.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from console.station import Station
from storage.event import open_event
from storage.model import Role
from tests.support.console import DEFAULT_PASSWORD


def add_content(base: str, station: Station, *, officer: str = Role.OFFICER.value) -> None:
    """A complaint with long texts (through the API, as an officer) and a detection event, so the list and
    detail pages are measured with rows in them, not only empty."""
    now = datetime.now(UTC)
    with station.database.session() as session:
        open_event(
            session,
            camera_id="entrance-1",
            kind="littering",
            zone="vhod",
            start_utc=now - timedelta(minutes=5),
            score=0.9,
            detail={},
        )
    with httpx.Client(base_url=base) as client:
        login = client.post("/api/auth/login", json={"username": officer, "password": DEFAULT_PASSWORD})
        login.raise_for_status()
        created = client.post(
            "/api/complaints",
            headers={"X-CSRF-Token": login.json()["csrf_token"]},
            json={
                "received_at": (now - timedelta(hours=1)).isoformat(),
                "channel": "phone",
                "category": "littering",
                "reporter_name": "Жанұзақова Айгерім Серікқызы",
                "reporter_contact": "+7 701 123 45 67",
                "description": "Мусор у подъезда " * 20 + "ОченьДлинноеСловоБезПробелов" * 4,
                "building": "5",
                "entrance": "1",
                "incident_start": (now - timedelta(hours=2)).isoformat(),
                "incident_end": (now - timedelta(hours=1, minutes=30)).isoformat(),
            },
        )
        assert created.status_code == 201, created.text
