"""The users page: only admins open it and see its sidebar link; its texts and role names in ru, kk and en."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient

from storage.model import Role
from tests.support.console import make_user, running_station, sign_in


def page_config(html: str) -> dict[str, object]:
    found = re.search(r'<script type="application/json" id="users-config">(.*?)</script>', html, re.S)
    assert found, "the page carries its script's configuration"
    config: dict[str, object] = json.loads(found.group(1))
    return config


@pytest.mark.parametrize(
    ("lang", "strings", "officer"),
    [
        ("ru", ["Пользователи", "Новый пользователь", "Сбросить пароль", "Открытые сеансы"], "Дежурный"),
        ("kk", ["Пайдаланушылар", "Жаңа пайдаланушы", "Құпиясөзді қалпына келтіру"], None),
        ("en", ["Users", "New user", "Reset password", "Open sessions"], "Officer"),
    ],
)
def test_admin_opens_the_users_page(
    console_client: TestClient, lang: str, strings: list[str], officer: str | None
) -> None:
    make_user(running_station(console_client).database, "admin", Role.ADMIN)
    sign_in(console_client, "admin")
    response = console_client.get(f"/admin/users?lang={lang}")
    assert response.status_code == 200
    for text in strings:
        assert text in response.text
    assert '<a href="/admin/users" class="active" aria-current="page"' in response.text
    config = page_config(response.text)
    roles = config["roles"]
    assert isinstance(roles, list) and [role["value"] for role in roles] == [role.value for role in Role]
    if officer is not None:
        assert roles[0]["label"] == officer
    assert '<script type="module" src="/static/js/users.js">' in response.text
    assert " style=" not in response.text and " onclick=" not in response.text
    assert console_client.get("/static/js/users.js").status_code == 200
    assert console_client.get("/static/css/users.css").status_code == 200


@pytest.mark.parametrize("role", [role for role in Role if role is not Role.ADMIN], ids=str)
def test_other_roles_get_no_page_and_no_link(console_client: TestClient, role: Role) -> None:
    make_user(running_station(console_client).database, "someone", role)
    sign_in(console_client, "someone")
    assert 'href="/admin/users"' not in console_client.get("/").text
    response = console_client.get("/admin/users", headers={"Accept": "text/html"})
    assert response.status_code == 403
    assert "недоступно управление пользователями" in response.text
