"""The login page in three languages, the signed-in home page, form login and logout."""

from __future__ import annotations

import re
import time
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from console.deps import SESSION_COOKIE
from console.i18n import LANGUAGE_COOKIE
from storage.model import Role
from storage.retention import RetentionAlarm, RetentionStatus, early_deletion_message
from tests.support.console import DEFAULT_PASSWORD, make_user, running_station, sign_in


@pytest.mark.parametrize(
    ("lang", "strings"),
    [
        ("ru", ["Войти", "Имя пользователя", "Пароль", 'lang="ru"']),
        ("kk", ["Кіру", "Пайдаланушы аты", "Құпиясөз", 'lang="kk"']),
        ("en", ["Sign in", "User name", "Password", 'lang="en"']),
    ],
)
def test_login_page_in_each_language(console_client: TestClient, lang: str, strings: list[str]) -> None:
    response = console_client.get(f"/login?lang={lang}")
    assert response.status_code == 200
    for text in strings:
        assert text in response.text
    assert "ЖК Test" in response.text
    assert response.cookies.get(LANGUAGE_COOKIE) == lang
    assert console_client.get("/login").text.count('lang="' + lang + '"') >= 1  # remembered by the cookie


def test_default_language_and_accept_language(console_client: TestClient) -> None:
    assert "Войти" in console_client.get("/login").text  # console.language default: ru
    assert "Кіру" in console_client.get("/login", headers={"Accept-Language": "kk-KZ,kk;q=0.9"}).text


def test_anonymous_home_redirects_to_login_and_back(console_client: TestClient) -> None:
    response = console_client.get("/?lang=en", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login?next=/%3Flang%3Den"


def test_form_login_shows_the_user_on_the_home_page(console_client: TestClient) -> None:
    make_user(running_station(console_client).database, "ivanov", Role.SUPERVISOR, display_name="Иванов А.")
    response = console_client.post(
        "/login",
        data={"username": "ivanov", "password": DEFAULT_PASSWORD, "next": "/"},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/"
    home = console_client.get("/?lang=ru")
    assert home.status_code == 200
    assert "Иванов А." in home.text and "Руководитель" in home.text  # user and role
    assert "Подъезд 1" in home.text and "Отключена" in home.text  # camera tiles with live status
    assert any(f"badge-{state}" in home.text for state in ("unknown", "connecting", "offline"))
    assert 'name="csrf-token"' in home.text
    assert "Проверка пакета" in home.text and "Архив" in home.text  # nav follows permissions
    english = console_client.get("/?lang=en").text
    assert "Welcome, Иванов А." in english and "Supervisor" in english and "Sign out" in english


def test_form_login_errors(console_client: TestClient) -> None:
    station = running_station(console_client)
    make_user(station.database, "ivanov")
    wrong = console_client.post("/login?lang=en", data={"username": "ivanov", "password": "nope-nope-nope"})
    assert wrong.status_code == 401 and "Wrong user name or password." in wrong.text
    assert 'value="ivanov"' in wrong.text
    for _ in range(station.settings.config.console.login_attempts_per_minute):
        console_client.post("/login", data={"username": "ivanov", "password": "nope-nope-nope"})
    limited = console_client.post("/login?lang=en", data={"username": "ivanov", "password": DEFAULT_PASSWORD})
    assert limited.status_code == 429 and "Too many failed attempts" in limited.text
    assert int(limited.headers["Retry-After"]) > 0
    empty = console_client.post("/login", data={"username": "", "password": ""})
    assert empty.status_code == 400


def test_login_redirect_target_must_be_local(console_client: TestClient) -> None:
    make_user(running_station(console_client).database, "ivanov")
    response = console_client.post(
        "/login",
        data={"username": "ivanov", "password": DEFAULT_PASSWORD, "next": "//evil.example/x"},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/"


def test_cross_site_login_form_is_refused(console_client: TestClient) -> None:
    make_user(running_station(console_client).database, "ivanov")
    response = console_client.post(
        "/login",
        data={"username": "ivanov", "password": DEFAULT_PASSWORD},
        headers={"Origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert response.status_code == 403 and SESSION_COOKIE not in console_client.cookies


def test_logout_form(console_client: TestClient) -> None:
    make_user(running_station(console_client).database, "ivanov")
    console_client.post("/login", data={"username": "ivanov", "password": DEFAULT_PASSWORD})
    home = console_client.get("/").text
    match = re.search(r'name="csrf_token" value="([0-9a-f]+)"', home)
    assert match
    assert (
        console_client.post("/logout", data={"csrf_token": "bad"}, follow_redirects=False).status_code == 403
    )
    out = console_client.post("/logout", data={"csrf_token": match.group(1)}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert console_client.get("/", follow_redirects=False).status_code == 303


def test_signed_in_user_skips_the_login_page(console_client: TestClient) -> None:
    make_user(running_station(console_client).database, "ivanov")
    console_client.post("/login", data={"username": "ivanov", "password": DEFAULT_PASSWORD})
    response = console_client.get("/login?next=/x", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/x"


def test_browser_404_is_a_page(console_client: TestClient) -> None:
    response = console_client.get("/no-such-page?lang=en", headers={"Accept": "text/html"})
    assert response.status_code == 404 and "Page not found" in response.text


def test_home_page_says_why_the_station_is_not_ok(
    console_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    station = running_station(console_client)
    make_user(station.database, "ivanov", Role.SUPERVISOR, display_name="Иванов А.")
    sign_in(console_client, "ivanov")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and 'data-code="camera_offline"' not in console_client.get("/").text:
        time.sleep(0.2)  # entrance-1 points at a closed port: offline after its first attempt
    early = RetentionAlarm("footage_deleted_early", early_deletion_message({"entrance-1": 3}))
    retention = replace(station.recording.retention_status(), alarms=(early,))
    monkeypatch.setattr(station.recording, "retention_status", lambda: retention)
    russian = console_client.get("/?lang=ru").text
    panel = russian[russian.index('class="panel station-status') :]
    assert "station-status-degraded" in russian and 'role="alert"' in panel
    assert "Видео теряется или не может быть сохранено" in panel  # the worst level is the heading
    offline = panel.index('data-code="camera_offline"')
    warning = panel.index('data-code="footage_deleted_early"')
    assert offline < warning  # what loses footage comes first
    assert "Подъезд 1: Нет связи" in panel  # the camera's name and status, translated
    assert "connection refused" in panel  # the cause as the station measured it
    assert "Видео удалено раньше срока хранения, чтобы сохранить свободное место" in panel
    assert "3 segment(s) of 1 camera(s)" in panel
    kazakh = console_client.get("/?lang=kk").text
    assert "Бейне жоғалып жатыр немесе сақталмайды" in kazakh
    assert "Бос орын сақтау үшін бейне сақтау мерзімінен бұрын жойылды" in kazakh


def test_home_page_with_only_a_warning(console_client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    station = running_station(console_client)
    make_user(station.database, "ivanov", Role.SUPERVISOR, display_name="Иванов А.")
    sign_in(console_client, "ivanov")
    early = RetentionAlarm("footage_deleted_early", early_deletion_message({"entrance-1": 3}))
    monkeypatch.setattr(station.recording, "retention_status", lambda: RetentionStatus(alarms=(early,)))
    monkeypatch.setattr(station.recording, "snapshot", dict)  # no camera reports anything yet
    english = console_client.get("/?lang=en").text
    assert "station-status-warning" in english and "station-status-degraded" not in english
    assert "Everything is recorded, but something needs a look" in english
    assert 'data-code="footage_deleted_early"' in english
