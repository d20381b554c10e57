"""Station settings from the console against a real config file: saved (whole file validated, atomic, the
previous file kept), the settings the running station reads per request in force at once, detection per
camera honestly reported as "after a restart"; out-of-range numbers, unknown keys and unknown cameras
refused per field in the user's language with the file untouched; only admins."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from config.loader import load_config
from config.settings import Settings
from console.station_settings import SettingsForm, apply_running, plan_apply, settings_values
from storage.model import AuditEntry, Role
from tests.support.console import make_user, running_station, sign_in
from tests.support.station_media import MediaStation, started_media_station

pytestmark = [pytest.mark.timeout(60)]

CONFIG = (
    "station: {name: ЖК Настройки, timezone: Asia/Almaty}\n"
    "storage: {data_dir: DATA}\n"
    "cameras:\n"
    "  - {id: gate, name: Ворота, url: 'rtsp://admin:pw-1@127.0.0.1:9/gate', enabled: false}\n"
    "console: {port: 8099}\n"
)


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    path = tmp_path / "station.yaml"
    path.write_text(CONFIG.replace("DATA", str(tmp_path / "data")), encoding="utf-8")
    return path


@pytest.fixture
def admin_station(config_path: Path) -> Iterator[MediaStation]:
    with started_media_station(Settings(config=load_config(config_path), config_path=config_path)) as media:
        yield media


def test_plan_apply_splits_live_settings_from_restart_ones() -> None:
    before = {"station_name": "A", "retention_days": 30, "detection": {"gate": False, "yard": True}}
    after = {"station_name": "B", "retention_days": 30, "detection": {"gate": True, "yard": True}}
    plan = plan_apply(before, after)
    assert plan.applied == ("station_name",) and plan.restart == ("detection.gate",)


def test_apply_running_copies_only_the_named_settings(config_path: Path) -> None:
    running = load_config(config_path)
    saved = running.model_copy(
        update={"console": running.console.model_copy(update={"live_views_per_user": 2, "port": 9000})}
    )
    applied = apply_running(running, saved, ["live_views_per_user"])
    assert applied.console.live_views_per_user == 2 and applied.console.port == 8099
    assert applied.cameras == running.cameras


def test_settings_are_saved_applied_at_once_and_audited(
    admin_station: MediaStation, config_path: Path
) -> None:
    admin = admin_station.login("admin")
    station = admin_station.station
    shown = admin.get("/api/admin/settings").json()
    assert shown["values"] == settings_values(load_config(config_path))
    assert shown["values"]["station_name"] == "ЖК Настройки" and shown["cameras"] == {"gate": "Ворота"}
    assert shown["editable"] is True and shown["restart_pending"] == []
    before = config_path.read_text(encoding="utf-8")

    body = {
        "station_name": "ЖК Восток",
        "live_views_per_user": 2,
        "idle_timeout_minutes": 15,
        "retention_days": 14,
        "detection": {"gate": True},
    }
    saved = admin.put("/api/admin/settings", json=body)
    assert saved.status_code == 200, saved.text
    answer = saved.json()
    assert set(answer["applied"]) == {
        "station_name",
        "live_views_per_user",
        "idle_timeout_minutes",
        "retention_days",
    }
    assert answer["restart_required"] == ["detection.gate"] and answer["restart_pending"] == [
        "detection.gate"
    ]
    assert config_path.with_name("station.yaml.bak").read_text(encoding="utf-8") == before
    on_disk = load_config(config_path)
    assert on_disk.station.name == "ЖК Восток" and on_disk.console.live_views_per_user == 2
    assert on_disk.camera("gate").detection.enabled and on_disk.console.port == 8099
    assert on_disk.camera("gate").url == "rtsp://admin:pw-1@127.0.0.1:9/gate"

    # in force without a restart: read per request / per retention pass
    assert station.name == "ЖК Восток"
    assert station.settings.config.console.idle_timeout_minutes == 15
    assert station.recording.retention.settings.days_for("gate") == 14
    assert "ЖК Восток" in admin.get("/", headers={"Accept": "text/html"}).text
    # detection waits for the restart, and the page is told so
    assert station.settings.config.camera("gate").detection.enabled is False

    with station.database.session() as session:
        row = session.scalars(select(AuditEntry).where(AuditEntry.action == "settings.update")).one()
        detail = json.loads(row.detail or "{}")
    assert (
        detail["before"]["station_name"] == "ЖК Настройки" and detail["after"]["station_name"] == "ЖК Восток"
    )
    assert detail["restart_required"] == ["detection.gate"] and "pw-1" not in (row.detail or "")

    again = admin.put("/api/admin/settings", json=body).json()
    assert again["applied"] == [] and again["restart_required"] == []


@pytest.mark.parametrize(
    ("body", "field", "russian"),
    [
        ({"retention_days": 0}, "retention_days", "Не меньше 1"),
        ({"live_views_per_user": 99}, "live_views_per_user", "Не больше 32"),
        ({"idle_timeout_minutes": "abc"}, "idle_timeout_minutes", "целое число"),
        ({"station_name": ""}, "station_name", "Обязательное поле"),
        ({"language": "de"}, "language", "Недопустимое значение"),
        ({"port": 80}, "port", "Неизвестная настройка"),
        ({"detection": {"nosuch": True}}, "detection.nosuch", "nosuch"),
    ],
)
def test_bad_settings_are_refused_per_field_and_nothing_is_saved(
    admin_station: MediaStation, config_path: Path, body: dict[str, object], field: str, russian: str
) -> None:
    admin = admin_station.login("admin")
    before = config_path.read_text(encoding="utf-8")
    refused = admin.put(
        "/api/admin/settings", json={"station_name": "Другое", **body}, headers={"Accept-Language": "ru"}
    )
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["code"] == "invalid_fields" and russian in error["fields"][field], error
    assert config_path.read_text(encoding="utf-8") == before
    assert not config_path.with_name("station.yaml.bak").exists()
    assert admin_station.station.name == "ЖК Настройки"


def test_a_form_field_is_refused_in_kazakh() -> None:
    from pydantic import ValidationError

    from console.field_error import field_messages
    from console.i18n import Catalogs

    with pytest.raises(ValidationError) as raised:
        SettingsForm.model_validate({"retention_days": 5000})
    message = field_messages(raised.value)["retention_days"]
    assert message.translate(Catalogs.load("ru").get("kk")) == "3650 мәнінен аспауы керек"


@pytest.mark.parametrize("username", ["officer", "investigator", "supervisor", "auditor"])
def test_only_admins_change_settings(admin_station: MediaStation, config_path: Path, username: str) -> None:
    client = admin_station.login(username)
    before = config_path.read_text(encoding="utf-8")
    assert client.get("/api/admin/settings").status_code == 403
    assert client.put("/api/admin/settings", json={"station_name": "X"}).status_code == 403
    page = client.get("/admin/settings", headers={"Accept": "text/html"})
    assert page.status_code == 403 and 'href="/admin/settings"' not in client.get("/").text
    assert config_path.read_text(encoding="utf-8") == before


def test_pages_render_for_the_admin_in_each_language(console_client: TestClient) -> None:
    make_user(running_station(console_client).database, "admin", Role.ADMIN)
    csrf = sign_in(console_client, "admin")
    for lang, title in (("ru", "Настройки пункта"), ("kk", "Пункт баптаулары"), ("en", "Station settings")):
        page = console_client.get(f"/admin/settings?lang={lang}")
        assert page.status_code == 200 and title in page.text
        assert '<a href="/admin/settings" class="active" aria-current="page"' in page.text
        cameras = console_client.get(f"/admin/cameras?lang={lang}")
        assert cameras.status_code == 200 and 'data-page="cameras"' in cameras.text
    assert console_client.get("/api/admin/settings").json()["editable"] is False
    refused = console_client.put(
        "/api/admin/settings", json={"station_name": "X"}, headers={"X-CSRF-Token": csrf}
    )
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "no_config_file"
