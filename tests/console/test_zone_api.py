"""The zone editor's API: zones and masks saved into the real config file (validated, atomic, previous
file kept) and applied to the running detection without a restart; refused when invalid or not an admin."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from config.loader import load_config
from config.settings import Settings
from console.app import create_app
from storage.model import AuditEntry
from storage.user import create_user
from tests.support.console import running_station
from tests.support.media import clip_cache, small_clip  # noqa: F401
from tests.support.rtsp_server import RtspServerFactory, rtsp_server_factory  # noqa: F401
from tests.support.station_media import ROLES, MediaStation, password_hash

pytestmark = [pytest.mark.rtsp, pytest.mark.timeout(120)]

DOOR = {"name": "door", "points": [[0.1, 0.1], [0.5, 0.1], [0.5, 0.9]], "schedule": ["22:00-06:00"]}


@pytest.fixture
def admin_station(
    tmp_path: Path,
    rtsp_server_factory: RtspServerFactory,  # noqa: F811
) -> Iterator[tuple[MediaStation, Path]]:
    server = rtsp_server_factory()
    path = tmp_path / "station.yaml"
    path.write_text(
        "# the point's own comments\n"
        "station: {name: ЖК Зоны, timezone: Asia/Almaty}\n"
        f"storage: {{data_dir: {tmp_path / 'data'}}}\n"
        "cameras:\n"
        "  - id: gate\n"
        "    name: Ворота\n"
        f"    url: {server.url('cam1')}\n"
        "    detection: {enabled: true, kinds: [motion]}\n",
        encoding="utf-8",
    )
    path.chmod(0o640)
    app = create_app(Settings(config=load_config(path), config_path=path))
    with TestClient(app, base_url="http://testserver") as client:
        media = MediaStation(app=app, client=client)
        with running_station(client).database.session() as session:
            for username, role in ROLES.items():
                user = create_user(session, username=username, role=role, password_hash=password_hash())
                media.user_ids[username] = user.id
        yield media, path


def test_zones_are_saved_to_the_file_and_applied_without_a_restart(
    admin_station: tuple[MediaStation, Path],
) -> None:
    media, path = admin_station
    admin = media.login("admin")
    before = path.read_text(encoding="utf-8")
    assert admin.get("/api/cameras/gate/detection").json()["zones"] == []
    mask = {"points": [[0, 0], [0.3, 0], [0.3, 0.1]]}
    saved = admin.put("/api/cameras/gate/detection", json={"zones": [DOOR], "masks": [mask]})
    assert saved.status_code == 200, saved.text
    body = saved.json()
    assert body["applied"] is True and body["zones"][0]["name"] == "door"
    assert (path.parent / "station.yaml.bak").read_text(encoding="utf-8") == before
    assert oct(path.stat().st_mode & 0o777) == "0o640"
    reloaded = load_config(path)
    zone = reloaded.camera("gate").detection.zones[0]
    assert zone.schedule == ["22:00-06:00"] and zone.points[1] == (0.5, 0.1)
    assert len(reloaded.camera("gate").detection.masks) == 1
    assert media.station.settings.config.camera("gate").detection.zones[0].name == "door"
    detection = media.station.detection
    assert detection is not None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # the worker swaps the pipeline in before the camera's next frame
        pipeline = detection.worker._cameras["gate"].pipeline  # type: ignore[union-attr]
        if [z.name for z in pipeline._person_zones] == [] and pipeline._motion.masks:
            break
        time.sleep(0.2)
    assert pipeline._motion.masks == [[(0.0, 0.0), (0.3, 0.0), (0.3, 0.1)]]
    with media.station.database.session() as session:
        actions = session.scalars(select(AuditEntry.action)).all()
    assert "camera.detection.update" in actions


@pytest.mark.parametrize(
    ("zones", "fragment"),
    [
        ([{"name": "door", "points": [[0, 0], [1.5, 0], [1, 1]]}], "outside the frame"),
        ([{**DOOR, "schedule": ["22-06"]}], "HH:MM-HH:MM"),
        ([DOOR, DOOR], "duplicate zone name"),
    ],
)
def test_an_invalid_zone_is_refused_and_the_file_is_untouched(
    admin_station: tuple[MediaStation, Path], zones: list[dict[str, object]], fragment: str
) -> None:
    media, path = admin_station
    before = path.read_text(encoding="utf-8")
    refused = media.login("admin").put("/api/cameras/gate/detection", json={"zones": zones, "masks": []})
    assert refused.status_code == 422 and fragment in refused.text
    assert path.read_text(encoding="utf-8") == before
    assert not (path.parent / "station.yaml.bak").exists()


def test_only_admins_edit_zones(admin_station: tuple[MediaStation, Path]) -> None:
    media, _path = admin_station
    for role in ("officer", "supervisor", "auditor"):
        assert media.login(role).put("/api/cameras/gate/detection", json={"zones": []}).status_code == 403
    assert media.login("admin").get("/api/cameras/nope/detection").status_code == 404
