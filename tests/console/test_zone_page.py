"""The zone and mask editor page: only admins open it and see its sidebar link; its texts in ru, kk and en."""

from __future__ import annotations

import json
import re

import pytest

from tests.support.station_media import CAMERAS, MediaStation


def page_config(html: str) -> dict[str, object]:
    found = re.search(r'<script type="application/json" id="zones-config">(.*?)</script>', html, re.S)
    assert found, "the page carries its script's configuration"
    config: dict[str, object] = json.loads(found.group(1))
    return config


@pytest.mark.parametrize(
    ("lang", "strings"),
    [
        ("ru", ["Зоны распознавания", "Нарисовать зону", "Маски движения", "Обновить кадр", "Курение"]),
        ("kk", ["Тану аймақтары", "Аймақ салу", "Қозғалыс маскалары", "Кадрды жаңарту"]),
        ("en", ["Detection zones", "Draw a zone", "Motion masks", "Reload picture", "Smoking"]),
    ],
)
def test_admin_opens_the_zone_editor(media_station: MediaStation, lang: str, strings: list[str]) -> None:
    admin = media_station.browser_login("admin")
    response = admin.get(f"/admin/zones?lang={lang}")
    assert response.status_code == 200
    for text in strings:
        assert text in response.text
    # the sidebar link, current
    assert '<a href="/admin/zones" class="active" aria-current="page"' in response.text
    config = page_config(response.text)
    assert config["cameras"] == [{"id": c.id, "name": c.name} for c in CAMERAS]
    assert config["editable"] is False  # this station runs without a config file
    assert 'data-testid="zones-not-editable"' in response.text
    assert '<script type="module" src="/static/js/zones.js">' in response.text
    assert admin.get("/static/js/zones.js").status_code == 200
    assert admin.get("/static/css/zones.css").status_code == 200


@pytest.mark.parametrize("username", ["officer", "supervisor", "auditor", "investigator"])
def test_other_roles_get_no_page_and_no_link(media_station: MediaStation, username: str) -> None:
    client = media_station.browser_login(username)
    assert 'href="/admin/zones"' not in client.get("/").text
    response = client.get("/admin/zones", headers={"Accept": "text/html"})
    assert response.status_code == 403
    assert "недоступно изменение зон распознавания" in response.text  # the refusal, in the station's language
