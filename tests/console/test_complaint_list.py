"""The complaints list (issue 25, defect 3): paging past 50 rows, free-text search over number, description,
reporter and phone (Cyrillic folded on SQLite too), and the "open / mine" filters the page starts with."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from storage.model import utcnow
from tests.console.test_complaint_api import iso, register
from tests.support.station_media import MediaStation

pytestmark = pytest.mark.timeout(180)


def numbers(client: TestClient, **params: Any) -> list[str]:
    response = client.get("/api/complaints", params=params)
    assert response.status_code == 200, response.text
    return [c["number"] for c in response.json()["items"]]


def test_search_finds_words_in_number_description_reporter_and_phone(media_station: MediaStation) -> None:
    officer = media_station.login("officer")
    litter = register(officer)["complaint"]  # Айгуль Садыкова, +7 701 000 00 00, "Выбросили мусор ..."
    noise = register(
        officer,
        reporter_name="Ерлан Ахметов",
        reporter_contact="+7 (777) 123-45-67",
        category="noise",
        description="Шумят во дворе ночью",
    )["complaint"]
    assert numbers(officer, q="МУСОР") == [litter["number"]]  # Cyrillic, another case
    assert numbers(officer, q="садыкова") == [litter["number"]]
    assert numbers(officer, q="7771234567") == [noise["number"]]
    assert numbers(officer, q="123-45-67") == [noise["number"]]
    assert numbers(officer, q=noise["number"]) == [noise["number"]]
    assert numbers(officer, q="шумят ночью") == [noise["number"]]  # every word, any order
    assert numbers(officer, q="шумят мусор") == []
    assert numbers(officer, q="100%") == [] and numbers(officer, q="_") == []  # LIKE wildcards are text
    assert len(numbers(officer, q="  ")) == 2
    # the auditor never sees the reporter's name or phone, so cannot find a complaint by them either
    auditor = media_station.login("auditor")
    assert numbers(auditor, q="Садыкова") == [] and numbers(auditor, q="7771234567") == []
    assert numbers(auditor, q="мусор") == [litter["number"]]
    assert officer.get("/api/complaints", params={"q": "x" * 201}).status_code == 422


def test_open_and_mine_filters(media_station: MediaStation) -> None:
    officer, supervisor = media_station.login("officer"), media_station.login("supervisor")
    own = register(officer)["complaint"]
    other = register(supervisor)["complaint"]
    handed = register(supervisor)["complaint"]
    patched = supervisor.patch(
        f"/api/complaints/{handed['id']}", json={"assignee_id": media_station.user_ids["officer"]}
    )
    assert patched.status_code == 200
    closed = supervisor.post(
        f"/api/complaints/{other['id']}/status",
        json={"status": "rejected", "outcome": "referred", "note": "не наш"},
    )
    assert closed.status_code == 200
    open_params = {"status": ["new", "in_progress"]}
    assert set(numbers(officer, mine="true")) == {own["number"], handed["number"]}
    assert set(numbers(officer, **open_params)) == {own["number"], handed["number"]}
    assert set(numbers(supervisor, mine="true", **open_params)) == {handed["number"]}
    assert len(numbers(supervisor)) == 3


def test_paging_goes_past_fifty(media_station: MediaStation) -> None:
    officer = media_station.login("officer")
    now = utcnow()
    registered = [
        register(officer, received_at=iso(now - timedelta(minutes=60 - i)))["complaint"]["number"]
        for i in range(55)
    ]
    first = officer.get("/api/complaints").json()
    assert (first["total"], first["limit"], first["offset"], len(first["items"])) == (55, 50, 0, 50)
    second = officer.get("/api/complaints", params={"offset": 50}).json()
    assert len(second["items"]) == 5
    seen = [c["number"] for c in first["items"] + second["items"]]
    assert seen == registered[::-1]  # newest first, none twice, none left out
    assert officer.get("/api/complaints", params={"offset": 2**31}).status_code == 422
