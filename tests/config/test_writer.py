"""Saving the station config from the console (``config.writer``): the whole new file is validated first,
it replaces the old one atomically, the previous file is kept as ``station.yaml.bak``, and a change that
would make it invalid leaves the file exactly as it was."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.error import ConfigError
from config.loader import load_config
from config.writer import add_camera, backup_path, edit_config_file, set_values, update_camera

ORIGINAL = (
    "# hand-written comment\n"
    "station: {name: ЖК Тест, timezone: Asia/Almaty}\n"
    "storage: {data_dir: /var/lib/station}\n"
    "cameras:\n"
    "  - id: gate\n"
    "    name: Ворота\n"
    "    url: rtsp://admin:gate-pw@10.0.0.5/stream1\n"
)


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "station.yaml"
    path.write_text(ORIGINAL, encoding="utf-8")
    path.chmod(0o640)
    return path


def test_a_change_keeps_the_previous_file_and_the_mode(config_file: Path) -> None:
    config = edit_config_file(config_file, lambda data: set_values(data, {("station", "name"): "ЖК Восток"}))
    assert config.station.name == "ЖК Восток"
    assert load_config(config_file).station.name == "ЖК Восток"
    assert backup_path(config_file) == config_file.with_name("station.yaml.bak")
    assert backup_path(config_file).read_text(encoding="utf-8") == ORIGINAL
    assert oct(config_file.stat().st_mode & 0o777) == "0o640"
    assert not config_file.with_name("station.yaml.partial").exists()
    edit_config_file(config_file, lambda data: set_values(data, {("recording", "retention_days"): 14}))
    assert "ЖК Восток" in backup_path(config_file).read_text(encoding="utf-8")  # one step back
    assert load_config(config_file).recording.retention_days == 14


def test_a_change_that_changes_nothing_writes_nothing(config_file: Path) -> None:
    edit_config_file(config_file, lambda data: set_values(data, {("station", "name"): "ЖК Восток"}))
    saved = config_file.read_text(encoding="utf-8")
    config = edit_config_file(config_file, lambda data: set_values(data, {("station", "name"): "ЖК Восток"}))
    assert config.station.name == "ЖК Восток" and config_file.read_text(encoding="utf-8") == saved
    assert backup_path(config_file).read_text(encoding="utf-8") == ORIGINAL  # the real previous version


def test_an_invalid_change_leaves_the_file_untouched(config_file: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        edit_config_file(config_file, lambda data: set_values(data, {("recording", "retention_days"): 0}))
    assert "recording.retention_days" in raised.value.report()
    assert config_file.read_text(encoding="utf-8") == ORIGINAL
    assert not backup_path(config_file).exists()
    assert not config_file.with_name("station.yaml.partial").exists()


def test_a_duplicate_camera_is_refused(config_file: Path) -> None:
    camera = {"id": "gate", "name": "Second", "url": "rtsp://10.0.0.6/x"}
    with pytest.raises(ConfigError, match="duplicate camera id 'gate'"):
        edit_config_file(config_file, lambda data: add_camera(data, camera))
    assert config_file.read_text(encoding="utf-8") == ORIGINAL


def test_cameras_are_added_and_updated(config_file: Path) -> None:
    yard = {"id": "yard", "name": "Двор", "url": "rtsp://10.0.0.7/live", "location": {"area": "двор"}}
    edit_config_file(config_file, lambda data: add_camera(data, yard))
    change = {"enabled": False, "location": {"building": "5"}, "detection": {"enabled": True}}
    config = edit_config_file(config_file, lambda data: update_camera(data, "yard", change))
    camera = config.camera("yard")
    assert not camera.enabled and camera.detection.enabled
    assert (camera.location.building, camera.location.area) == ("5", "двор")
    config = edit_config_file(
        config_file, lambda data: update_camera(data, "yard", {"location": {"area": None}})
    )
    assert config.camera("yard").location.area is None
    assert config.camera("gate").url == "rtsp://admin:gate-pw@10.0.0.5/stream1"
    with pytest.raises(ConfigError, match="no camera 'nosuch'"):
        edit_config_file(config_file, lambda data: update_camera(data, "nosuch", {"enabled": False}))
