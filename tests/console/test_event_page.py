"""The events page (review queue): who may open it, the sidebar link, and its texts in ru, kk and en."""

from __future__ import annotations

import json
import re

import pytest

from tests.support.station_media import CAMERAS, MediaStation


def page_config(html: str) -> dict[str, object]:
    found = re.search(r'<script type="application/json" id="events-config">(.*?)</script>', html, re.S)
    assert found, "the page carries its script's configuration"
    config: dict[str, object] = json.loads(found.group(1))
    return config


@pytest.mark.parametrize(
    ("lang", "strings"),
    [
        ("ru", ["События", "Ложная тревога", "Подтвердить", "Приобщить к обращению", "Ждёт проверки"]),
        ("kk", ["Оқиғалар", "Жалған дабыл", "Растау", "Өтінішке тіркеу", "Тексеруді күтуде"]),
        ("en", ["Events", "False alarm", "Confirm", "Attach to complaint", "Awaiting review"]),
    ],
)
def test_officer_opens_the_events_page(media_station: MediaStation, lang: str, strings: list[str]) -> None:
    officer = media_station.browser_login("officer")
    response = officer.get(f"/events?lang={lang}")
    assert response.status_code == 200
    for text in strings:
        assert text in response.text
    # the sidebar link, current
    assert '<a href="/events" class="active" aria-current="page"' in response.text
    config = page_config(response.text)
    assert config["can_review"] is True and config["can_attach"] is True
    assert config["pre_s"] == 5 and config["post_s"] == 10  # the clip's pre- and post-roll (defaults)
    cameras = config["cameras"]
    assert isinstance(cameras, list)
    assert [c["id"] for c in cameras] == [c.id for c in CAMERAS]
    assert cameras[0] == {
        "id": "b5-e1",
        "name": "Дом 5, подъезд 1",
        "building": "5",
        "entrance": "1",
        "area": "подъезд",
    }


@pytest.mark.parametrize("username", ["investigator", "admin", "auditor"])
def test_roles_without_events_get_no_page_and_no_link(media_station: MediaStation, username: str) -> None:
    client = media_station.browser_login(username)
    assert 'href="/events"' not in client.get("/").text
    response = client.get("/events", headers={"Accept": "text/html"})
    assert response.status_code == 403
    assert "просмотр событий распознавания" in response.text  # the refusal, in the station's language


def test_supervisor_sees_the_link(media_station: MediaStation) -> None:
    supervisor = media_station.browser_login("supervisor")
    assert 'href="/events"' in supervisor.get("/").text
    assert supervisor.get("/events").status_code == 200
