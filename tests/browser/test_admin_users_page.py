"""End to end in real headless Chromium: an admin manages a user on ``/admin/users``.

The admin creates an officer (a weak password is refused first, with the server's message in Russian),
makes them a supervisor, resets their password; the user signs in with the new password and makes an API
token, which the admin sees and revokes; then the admin disables the user, whose open session ends and who
can no longer sign in. Screenshot: ``docs/admin_users.png``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from config.settings import Settings
from console.app import create_app
from storage.model import Role
from tests.support.browser import CHROMIUM, launch_chromium, require_chromium, save_screenshot
from tests.support.console import DEFAULT_PASSWORD, make_user, station_config
from tests.support.served_console import served_app

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(240)]

NEW_PASSWORD = "a-fresh-password-9"
MAKE_TOKEN_JS = """async () => {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const response = await fetch('/api/tokens', {method: 'POST', body: JSON.stringify({name: 'cron'}),
    headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf}});
  return response.status;
}"""


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    app = create_app(Settings(config=station_config(tmp_path / "data"), config_path=None))
    with served_app(app, name="users-e2e") as base:
        make_user(app.state.station.database, "admin", Role.ADMIN, display_name="Админ")
        yield base


def sign_in(page: Any, base: str, username: str, password: str = DEFAULT_PASSWORD) -> None:
    page.goto(f"{base}/login?lang=ru")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")


def create_user(page: Any, password: str) -> None:
    page.fill("[data-testid=user-create-username]", "petrov")
    page.fill("[data-testid=user-create-display-name]", "Петров П.")
    page.select_option("[data-testid=user-create-role]", "officer")
    page.fill("[data-testid=user-create-password]", password)
    page.click("[data-testid=user-create-submit]")


def test_admin_creates_changes_and_disables_a_user(served: str, tmp_path: Path) -> None:
    require_chromium()
    from playwright.sync_api import sync_playwright

    base = served
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright, executable=CHROMIUM, home=tmp_path / "home")
        try:
            admin = browser.new_context(locale="ru-RU", viewport={"width": 1440, "height": 1000}).new_page()
            sign_in(admin, base, "admin")
            admin.wait_for_url(f"{base}/")
            admin.click("nav a[href='/admin/users']")
            admin.wait_for_url(f"{base}/admin/users")
            admin.locator("[data-testid=user-row-admin]").wait_for()
            error = admin.locator("[data-testid=users-error]")
            status = admin.locator("[data-testid=users-status]")

            create_user(admin, "short")
            error.filter(has_text="Пароль слишком короткий").wait_for()
            assert admin.locator("[data-testid=user-row-petrov]").count() == 0
            create_user(admin, DEFAULT_PASSWORD)
            row = admin.locator("[data-testid=user-row-petrov]")
            row.wait_for()
            assert error.inner_text() == "" and status.inner_text() == "Пользователь petrov создан."
            assert "Дежурный" in row.locator("[data-testid=user-role] option:checked").inner_text()
            assert row.locator("[data-testid=user-state]").inner_text() == "Может входить"

            row.locator("[data-testid=user-role]").select_option("supervisor")
            status.filter(has_text="Руководитель").wait_for()

            row.locator("[data-testid=user-manage]").click()
            detail = admin.locator("[data-testid=user-detail]")
            detail.wait_for()
            admin.fill("[data-testid=user-password-input]", "short")
            admin.click("[data-testid=user-password-submit]")
            error.filter(has_text="Пароль слишком короткий").wait_for()
            admin.fill("[data-testid=user-password-input]", NEW_PASSWORD)
            admin.click("[data-testid=user-password-submit]")
            status.filter(has_text="Пароль пользователя petrov задан").wait_for()
            assert error.inner_text() == ""

            petrov = browser.new_context(locale="ru-RU").new_page()
            sign_in(petrov, base, "petrov", DEFAULT_PASSWORD)
            petrov.locator("[role=alert]").filter(has_text="Неверное имя").wait_for()
            sign_in(petrov, base, "petrov", NEW_PASSWORD)
            petrov.wait_for_url(f"{base}/")
            assert petrov.evaluate(MAKE_TOKEN_JS) == 201

            admin.reload()
            admin.locator("[data-testid=user-row-petrov] [data-testid=user-manage]").click()
            token = admin.locator("[data-testid=user-token-cron]")
            token.wait_for()
            assert row.locator("[data-testid=user-tokens-count]").inner_text() == "1"
            assert row.locator("[data-testid=user-sessions-count]").inner_text() == "1"
            assert admin.locator("[data-testid=user-session]").count() == 1
            save_screenshot(admin, "admin_users.png")
            token.locator("[data-testid=user-token-revoke]").click()
            status.filter(has_text="API-токен cron отозван.").wait_for()
            token.filter(has_text="отозван").wait_for()
            assert row.locator("[data-testid=user-tokens-count]").inner_text() == "0"

            row.locator("[data-testid=user-toggle]").click()
            status.filter(has_text="petrov отключён").wait_for()
            assert row.locator("[data-testid=user-state]").inner_text() == "Отключён: вход запрещён"
            assert row.locator("[data-testid=user-sessions-count]").inner_text() == "0"
            assert petrov.goto(f"{base}/api/auth/me").status == 401  # the open session ended
            sign_in(petrov, base, "petrov", NEW_PASSWORD)
            petrov.locator("[role=alert]").filter(has_text="Неверное имя").wait_for()
            assert petrov.url.startswith(f"{base}/login")
        finally:
            browser.close()
