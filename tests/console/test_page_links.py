"""The sidebar and the page routes read one table (``console.permission.PAGE_LINKS``): each role's sidebar
is written out here, and every page answers 200 to a role it is linked for and 403 to every other role.
The same walk in real Chromium, with layout checks: ``tests/browser/test_sidebar_roles.py``."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from console.permission import PAGE_LINKS, pages_for, permissions_for
from storage.model import Role
from tests.support.console import make_user, running_station, sign_in

SIDEBARS: dict[Role, tuple[str, ...]] = {
    Role.OFFICER: ("/", "/live", "/events", "/complaints", "/recordings", "/verify"),
    Role.INVESTIGATOR: ("/", "/complaints", "/recordings", "/exports", "/verify"),
    Role.SUPERVISOR: ("/", "/live", "/events", "/complaints", "/recordings", "/exports", "/verify"),
    Role.ADMIN: ("/", "/verify", "/admin/cameras", "/admin/zones", "/admin/users", "/admin/settings"),
    Role.AUDITOR: ("/", "/complaints", "/exports", "/verify", "/audit"),
}


@pytest.mark.parametrize("role", list(Role), ids=lambda role: role.value)
def test_sidebar_of_each_role(role: Role) -> None:
    assert tuple(page.path for page in pages_for(permissions_for(role))) == SIDEBARS[role]


def test_every_page_answers_as_its_link_says(console_client: TestClient) -> None:
    database = running_station(console_client).database
    for role in Role:
        make_user(database, role.value, role)
    wrong: list[str] = []
    for role in Role:
        console_client.cookies.clear()
        sign_in(console_client, role.value)
        html = console_client.get("/").text
        for page in PAGE_LINKS:
            linked = f'data-page="{page.key}"' in html
            status = console_client.get(page.path, follow_redirects=False).status_code
            if linked != (page.path in SIDEBARS[role]) or status != (200 if linked else 403):
                wrong.append(f"{role.value} {page.path}: linked={linked} status={status}")
    assert not wrong, "\n".join(wrong)
