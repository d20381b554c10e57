"""The admin's camera API against a real config file and a real RTSP server: a URL is tried before it is
saved (picture and stream format, or a translated reason), a camera is added, edited without retyping its
password (the stored one is kept), disabled and removed (its footage, evidence and database row stay), each
change audited without secrets; a sub-stream URL is tried too; bad input is refused per field and leaves the
file as it was; other roles get 403."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from config.loader import load_config
from config.settings import Settings
from console.routes import camera_admin
from storage.camera import sync_cameras
from storage.complaint import ComplaintFields, attach_evidence, create_complaint
from storage.lock import active_locks
from storage.model import AuditEntry, Camera, ComplaintEvidence, Role, utcnow
from tests.support.console import make_user, running_station, sign_in
from tests.support.media import clip_cache, small_clip  # noqa: F401
from tests.support.rtsp_server import RtspServer, RtspServerFactory, rtsp_server_factory  # noqa: F401
from tests.support.station_media import MediaStation, started_media_station

pytestmark = [pytest.mark.rtsp, pytest.mark.timeout(120)]

GATE_PASSWORD = "gate-Secret-1"
CAMERA_PASSWORD = "yard-Secret-42"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    path = tmp_path / "station.yaml"
    path.write_text(
        "station: {name: ЖК Камеры, timezone: Asia/Almaty}\n"
        f"storage: {{data_dir: {tmp_path / 'data'}}}\n"
        "cameras:\n"
        "  - id: gate\n"
        "    name: Ворота\n"
        f"    url: rtsp://admin:{GATE_PASSWORD}@127.0.0.1:{closed_port()}/gate\n"
        "    enabled: false\n",
        encoding="utf-8",
    )
    path.chmod(0o640)
    return path


@pytest.fixture
def admin_station(config_path: Path) -> Iterator[MediaStation]:
    with started_media_station(Settings(config=load_config(config_path), config_path=config_path)) as media:
        yield media


@pytest.fixture
def camera_server(rtsp_server_factory: RtspServerFactory) -> RtspServer:  # noqa: F811
    return rtsp_server_factory(auth=("viewer", CAMERA_PASSWORD))


def audit_details(media: MediaStation, prefix: str) -> list[str]:
    with media.station.database.session() as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.action.startswith(prefix))).all()
        return [f"{row.action} {row.detail}" for row in rows]


def test_a_camera_is_tried_added_edited_without_its_password_and_disabled(
    admin_station: MediaStation,
    camera_server: RtspServer,
    config_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    admin = admin_station.login("admin")
    answers: list[str] = []
    listed = admin.get("/api/admin/cameras")
    answers.append(listed.text)
    gate = listed.json()["cameras"][0]
    assert gate["url"].startswith("rtsp://admin:***@127.0.0.1:") and gate["has_password"] is True
    assert listed.json()["editable"] is True and gate["restart_pending"] is False

    url = camera_server.url("cam1", "viewer", CAMERA_PASSWORD)
    tried = admin.post("/api/admin/cameras/test", json={"url": url}, headers={"Accept-Language": "ru"})
    answers.append(tried.text)
    assert tried.status_code == 200, tried.text
    result = tried.json()
    assert result["ok"] is True and (result["codec"], result["width"], result["height"]) == ("h264", 640, 360)
    assert result["snapshot"].startswith("data:image/jpeg;base64,/9j/")
    assert result["message"].startswith("Подключено: H264, 640×360")

    before = config_path.read_text(encoding="utf-8")
    plain = camera_server.url("cam1", "viewer")
    created = admin.post(
        "/api/admin/cameras",
        json={
            "id": "yard",
            "name": "Двор",
            "url": plain,
            "password": CAMERA_PASSWORD,
            "location": {"building": "5", "area": "двор"},
            "detection_enabled": True,
        },
    )
    answers.append(created.text)
    assert created.status_code == 201, created.text
    assert created.json()["restart_required"] is True
    camera = created.json()["camera"]
    assert camera["url"] == plain.replace("viewer@", "viewer:***@") and camera["has_password"] is True
    assert camera["running"] is False and camera["restart_pending"] is True
    assert config_path.with_name("station.yaml.bak").read_text(encoding="utf-8") == before
    assert oct(config_path.stat().st_mode & 0o777) == "0o640"
    saved = load_config(config_path).camera("yard")
    assert saved.url == url and saved.detection.enabled and saved.location.label() == "5 / двор"

    # the edit form sends the redacted address back: the stored password is kept
    retried = admin.post("/api/admin/cameras/test", json={"url": camera["url"], "camera_id": "yard"})
    answers.append(retried.text)
    assert retried.json()["ok"] is True, retried.text
    edited = admin.patch(
        "/api/admin/cameras/yard",
        json={"name": "Двор (север)", "url": camera["url"], "sub_url": "", "location": {"building": "5a"}},
    )
    answers.append(edited.text)
    assert edited.status_code == 200, edited.text
    saved = load_config(config_path).camera("yard")
    assert saved.url == url and saved.name == "Двор (север)" and saved.location.label() == "5a"

    disabled = admin.patch("/api/admin/cameras/yard", json={"enabled": False})
    answers.append(disabled.text)
    assert disabled.status_code == 200 and disabled.json()["camera"]["enabled"] is False
    assert load_config(config_path).camera("yard").enabled is False
    assert load_config(config_path).camera("yard").url == url
    unchanged = admin.patch("/api/admin/cameras/yard", json={"enabled": False})
    assert unchanged.json()["restart_required"] is False
    answers.append(admin.get("/api/admin/cameras").text)
    assert [c.id for c in admin_station.station.settings.config.cameras] == ["gate"]  # runs until restart

    audit = audit_details(admin_station, "camera.")
    actions = [line.split(" ", 1)[0] for line in audit]
    assert actions.count("camera.url_test") == 2 and actions.count("camera.update") == 3
    create = next(json.loads(line.split(" ", 1)[1]) for line in audit if line.startswith("camera.create"))
    assert create["before"] is None and create["after"]["url"] == camera["url"]
    rename = next(json.loads(line.split(" ", 1)[1]) for line in audit if line.startswith("camera.update"))
    assert (rename["before"]["name"], rename["after"]["name"]) == ("Двор", "Двор (север)")
    assert rename["password_changed"] is False
    for text in [*answers, *audit, caplog.text]:
        assert CAMERA_PASSWORD not in text and GATE_PASSWORD not in text


def test_a_typed_password_replaces_the_stored_one(admin_station: MediaStation, config_path: Path) -> None:
    admin = admin_station.login("admin")
    gate = admin.get("/api/admin/cameras").json()["cameras"][0]
    changed = admin.patch("/api/admin/cameras/gate", json={"url": gate["url"], "password": "new-pw-9"})
    assert changed.status_code == 200, changed.text
    assert load_config(config_path).camera("gate").url.startswith("rtsp://admin:new-pw-9@")
    assert "new-pw-9" not in changed.text
    update = audit_details(admin_station, "camera.update")[0]
    assert '"password_changed":true' in update.replace(" ", "") and "new-pw-9" not in update


@pytest.mark.parametrize(
    ("body", "field", "russian"),
    [
        ({"id": "cam2", "name": "X", "url": "http://127.0.0.1/x"}, "url", "rtsp:// или rtsps://"),
        ({"id": "cam2", "name": "X", "url": "rtsp:///x"}, "url", "нет адреса камеры"),
        ({"id": "gate", "name": "X", "url": "rtsp://127.0.0.1/x"}, "id", "уже есть"),
        ({"id": "Gate 2", "name": "X", "url": "rtsp://127.0.0.1/x"}, "id", "латинские"),
        ({"id": "cam2", "name": "", "url": "rtsp://127.0.0.1/x"}, "name", "Обязательное"),
        ({"id": "cam2", "name": "X", "url": "rtsp://127.0.0.1/x", "colour": "red"}, "colour", "Неизвестн"),
        (
            {"id": "cam2", "name": "X", "url": "rtsp://127.0.0.1/x", "password": "p"},
            "url",
            "имя пользователя",
        ),
        ({"id": "cam2", "name": "X", "url": "rtsp://127.0.0.1:70000/x"}, "url", "порт"),
    ],
)
def test_bad_input_is_refused_per_field_and_the_file_is_untouched(
    admin_station: MediaStation, config_path: Path, body: dict[str, object], field: str, russian: str
) -> None:
    admin = admin_station.login("admin")
    before = config_path.read_text(encoding="utf-8")
    refused = admin.post("/api/admin/cameras", json=body, headers={"Accept-Language": "ru"})
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["code"] == "invalid_fields" and error["message"] == "Проверьте отмеченные поля"
    assert russian in error["fields"][field], error["fields"]
    assert config_path.read_text(encoding="utf-8") == before
    assert not config_path.with_name("station.yaml.bak").exists()


def test_url_test_names_the_reason_in_the_language(
    admin_station: MediaStation, camera_server: RtspServer
) -> None:
    admin = admin_station.login("admin")
    kk = {"Accept-Language": "kk"}
    refused = admin.post(
        "/api/admin/cameras/test", json={"url": f"rtsp://127.0.0.1:{closed_port()}/x"}, headers=kk
    )
    assert refused.json()["reason"] == "refused" and "401" not in refused.json()["message"]
    assert refused.json()["snapshot"] is None
    wrong = camera_server.url("cam1", "viewer", "not-the-password")
    denied = admin.post("/api/admin/cameras/test", json={"url": wrong}, headers={"Accept-Language": "ru"})
    assert denied.json()["ok"] is False and denied.json()["reason"] == "unauthorized"
    assert denied.json()["message"].startswith("401")
    assert "not-the-password" not in denied.text
    bad = admin.post("/api/admin/cameras/test", json={"url": "file:///etc/passwd"}, headers=kk)
    assert bad.status_code == 422 and "url" in bad.json()["error"]["fields"]


@pytest.mark.parametrize("username", ["officer", "investigator", "supervisor", "auditor"])
def test_only_admins_manage_cameras(admin_station: MediaStation, config_path: Path, username: str) -> None:
    client = admin_station.login(username)
    before = config_path.read_text(encoding="utf-8")
    body = {"id": "cam2", "name": "X", "url": "rtsp://127.0.0.1/x"}
    assert client.get("/api/admin/cameras").status_code == 403
    assert client.post("/api/admin/cameras", json=body).status_code == 403
    assert client.patch("/api/admin/cameras/gate", json={"enabled": True}).status_code == 403
    assert client.post("/api/admin/cameras/test", json={"url": "rtsp://127.0.0.1/x"}).status_code == 403
    assert client.get("/api/admin/cameras/gate/records").status_code == 403
    assert client.delete("/api/admin/cameras/gate").status_code == 403
    assert client.get("/admin/cameras", headers={"Accept": "text/html"}).status_code == 403
    assert config_path.read_text(encoding="utf-8") == before


def test_without_a_config_file_cameras_are_listed_but_not_saved(console_client: TestClient) -> None:
    make_user(running_station(console_client).database, "admin", Role.ADMIN)
    csrf = sign_in(console_client, "admin")
    listed = console_client.get("/api/admin/cameras").json()
    assert listed["editable"] is False and [c["id"] for c in listed["cameras"]] == ["entrance-1", "yard"]
    refused = console_client.patch(
        "/api/admin/cameras/yard", json={"enabled": True}, headers={"X-CSRF-Token": csrf}
    )
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "no_config_file"


def test_url_tests_at_once_are_bounded(admin_station: MediaStation) -> None:
    admin = admin_station.login("admin")
    held = [camera_admin._PROBES.acquire(blocking=False) for _ in range(camera_admin.MAX_PROBES)]
    try:
        assert all(held)
        busy = admin.post(
            "/api/admin/cameras/test", json={"url": "rtsp://127.0.0.1/x"}, headers={"Accept-Language": "ru"}
        )
        assert busy.status_code == 429 and busy.json()["error"]["code"] == "probe_busy"
        assert busy.json()["error"]["message"].startswith("Сейчас уже проверяются")
    finally:
        for _ in held:
            camera_admin._PROBES.release()
    refused = admin.post("/api/admin/cameras/test", json={"url": f"rtsp://127.0.0.1:{closed_port()}/x"})
    assert refused.status_code == 200 and refused.json()["reason"] == "refused"


def test_the_url_test_tries_the_sub_stream_too(
    admin_station: MediaStation,
    rtsp_server_factory: RtspServerFactory,  # noqa: F811
    small_clip: Path,  # noqa: F811
) -> None:
    server = rtsp_server_factory({"main": small_clip, "sub": small_clip}, auth=("viewer", CAMERA_PASSWORD))
    admin = admin_station.login("admin")
    main = server.url("main", "viewer", CAMERA_PASSWORD)
    sub = server.url("sub", "viewer", CAMERA_PASSWORD)
    both = admin.post("/api/admin/cameras/test", json={"url": main, "sub_url": sub})
    assert both.status_code == 200, both.text
    assert both.json()["ok"] is True and both.json()["sub_stream"]["ok"] is True
    assert both.json()["sub_stream"]["width"] == 640 and both.json()["sub_stream"]["snapshot"]
    only_main = admin.post("/api/admin/cameras/test", json={"url": main, "sub_url": ""})
    assert only_main.json()["sub_stream"] is None
    # a sub-stream that does not answer: the main one still works, the answer says which failed, in Russian
    dead = f"rtsp://viewer:{CAMERA_PASSWORD}@127.0.0.1:{closed_port()}/sub"
    half = admin.post(
        "/api/admin/cameras/test", json={"url": main, "sub_url": dead}, headers={"Accept-Language": "ru"}
    )
    assert half.json()["ok"] is True and half.json()["sub_stream"]["reason"] == "refused"
    assert half.json()["sub_stream"]["message"] != half.json()["message"]
    # a saved camera's redacted sub-stream address is tried with its stored password
    created = admin.post(
        "/api/admin/cameras",
        json={"id": "yard", "name": "Двор", "url": main, "sub_url": sub, "enabled": False},
    )
    assert created.status_code == 201, created.text
    shown = created.json()["camera"]
    assert shown["sub_url"].startswith("rtsp://viewer:***@") and shown["sub_url"].endswith("/sub")
    again = admin.post(
        "/api/admin/cameras/test",
        json={"url": shown["url"], "sub_url": shown["sub_url"], "camera_id": "yard"},
    )
    assert again.json()["sub_stream"]["ok"] is True, again.text
    bad = admin.post("/api/admin/cameras/test", json={"url": main, "sub_url": "http://127.0.0.1/x"})
    assert bad.status_code == 422 and "sub_url" in bad.json()["error"]["fields"]
    tests = audit_details(admin_station, "camera.url_test")
    assert sum('"sub_stream"' in line for line in tests) == 3
    for text in [both.text, half.text, again.text, *tests]:
        assert CAMERA_PASSWORD not in text


def test_removing_a_camera_keeps_its_footage_and_evidence(
    admin_station: MediaStation, config_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    media = admin_station
    start = (utcnow() - timedelta(minutes=20)).replace(microsecond=0)
    media.record("gate", start, count=2)
    segments = media.segment_ids("gate")
    supervisor = media.user_ids["supervisor"]
    with media.station.database.session() as session:
        complaint = create_complaint(
            session,
            fields=ComplaintFields(
                received_at=start,
                channel="phone",
                category="noise",
                incident_start=start,
                incident_end=start + timedelta(seconds=4),
            ),
            created_by=supervisor,
            now=start,
            year=start.year,
            due_at=None,
        )
        attach_evidence(
            session,
            complaint=complaint,
            camera_id="gate",
            start_utc=start,
            end_utc=start + timedelta(seconds=4),
            user_id=supervisor,
            now=utcnow(),
        )
    admin = media.login("admin")
    records = admin.get("/api/admin/cameras/gate/records")
    assert records.json() == {"segments": 2, "active_locks": 1, "open_complaints": 1}, records.text
    assert admin.get("/api/admin/cameras/nope/records").status_code == 404

    before = config_path.read_text(encoding="utf-8")
    removed = admin.delete("/api/admin/cameras/gate")
    assert removed.status_code == 200, removed.text
    answer = removed.json()
    assert answer["id"] == "gate" and answer["restart_required"] is True
    assert answer["kept"] == records.json()
    assert [c.id for c in load_config(config_path).cameras] == []
    assert config_path.with_name("station.yaml.bak").read_text(encoding="utf-8") == before
    assert oct(config_path.stat().st_mode & 0o777) == "0o640"
    listed = admin.get("/api/admin/cameras").json()
    assert listed["cameras"] == [] and listed["removed_running"] == [{"id": "gate", "name": "Ворота"}]
    assert [c.id for c in media.station.settings.config.cameras] == ["gate"]  # connected until the restart
    again = admin.delete("/api/admin/cameras/gate")
    assert again.status_code == 404 and again.json()["error"]["code"] == "unknown_camera"

    # the restart syncs the database with the file: the row stays (not in the config), and so does the rest
    with media.station.database.session() as session:
        sync = sync_cameras(session, load_config(config_path).cameras)
        assert sync.removed == ["gate"]
        row = session.get(Camera, "gate")
        assert row is not None and row.in_config is False
        assert [lock.camera_id for lock in active_locks(session, now=utcnow(), camera_id="gate")] == ["gate"]
        assert session.scalars(select(ComplaintEvidence.camera_id)).all() == ["gate"]
    assert media.segment_ids("gate") == segments

    delete = audit_details(media, "camera.delete")
    assert len(delete) == 1
    detail = json.loads(delete[0].split(" ", 1)[1])
    assert detail["after"] is None and detail["before"]["name"] == "Ворота"
    assert detail["before"]["url"].startswith("rtsp://admin:***@127.0.0.1:")
    assert detail["kept"] == records.json()
    for text in [removed.text, *delete, caplog.text]:
        assert GATE_PASSWORD not in text
