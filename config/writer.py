"""Change the station config file safely: validate the whole new file first, write it atomically, keep the
previous one beside it (``station.yaml.bak``).

The file is rewritten from its data (PyYAML keeps no comments): the previous file, comments and all, stays
in the backup. A change that would make the config invalid is refused with the same report
``station check-config`` gives, and the file is left untouched.
"""

from __future__ import annotations

import copy
import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from config.composer import parse_yaml, yaml_problem
from config.error import ConfigError, Problem
from config.loader import parse_document, read_config_text
from config.schema import StationConfig

_EDITS = threading.Lock()  # one read-change-write at a time in this process: no save loses another's change
HEADER = "# Station config. Saved by the console; the previous version is kept as {backup}.\n"


def backup_path(path: Path) -> Path:
    return path.with_name(path.name + ".bak")


def edit_config_file(path: Path, change: Callable[[dict[str, Any]], None]) -> StationConfig:
    """Apply ``change`` to the file's data, validate the result, and replace the file atomically with the
    previous version kept as ``<name>.bak`` (a change that changes nothing writes nothing). Raises
    :class:`ConfigError` (file untouched) when the file cannot be read or the changed config is invalid."""
    with _EDITS:
        return _edit(path, change)


def _edit(path: Path, change: Callable[[dict[str, Any]], None]) -> StationConfig:
    text = read_config_text(path)
    try:
        _node, data = parse_yaml(text)
    except yaml.YAMLError as exc:
        raise ConfigError([yaml_problem(exc, text=text, source=path.name)]) from exc
    if not isinstance(data, dict):
        raise ConfigError([Problem(path.name, "", "top level must be a mapping")])
    before = copy.deepcopy(data)
    change(data)
    if data == before:  # nothing to save: the file and its backup (the real previous version) stay
        return parse_document(text, source=path.name).config
    new_text = HEADER.format(backup=backup_path(path).name) + yaml.safe_dump(
        data, allow_unicode=True, sort_keys=False, default_flow_style=None, width=110
    )
    config = parse_document(new_text, source=path.name).config
    _replace(path, new_text)
    return config


def _replace(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    with partial.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    mode = path.stat().st_mode & 0o777
    partial.chmod(mode)
    backup = backup_path(path)
    backup.unlink(missing_ok=True)
    os.link(path, backup)
    partial.replace(path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def set_camera_detection_areas(
    data: dict[str, Any], camera_id: str, *, zones: list[dict[str, Any]], masks: list[dict[str, Any]]
) -> None:
    """The change for the zone editor: camera ``camera_id``'s zones and motion masks."""
    cameras = data.get("cameras")
    if not isinstance(cameras, list):
        raise ConfigError([Problem("station.yaml", "cameras", "the config has no camera list")])
    for camera in cameras:
        if isinstance(camera, dict) and camera.get("id") == camera_id:
            detection = camera.setdefault("detection", {})
            if not isinstance(detection, dict):
                where = f"cameras.{camera_id}.detection"
                raise ConfigError([Problem("station.yaml", where, "not a mapping")])
            detection["zones"] = zones
            detection["masks"] = masks
            return
    raise ConfigError([Problem("station.yaml", "cameras", f"no camera {camera_id!r} in the config file")])


def _camera_list(data: dict[str, Any]) -> list[Any]:
    cameras = data.setdefault("cameras", [])
    if cameras is None:
        cameras = data["cameras"] = []
    if not isinstance(cameras, list):
        raise ConfigError([Problem("station.yaml", "cameras", "the config has no camera list")])
    return cameras


def _camera_entry(data: dict[str, Any], camera_id: str) -> dict[str, Any]:
    for camera in _camera_list(data):
        if isinstance(camera, dict) and camera.get("id") == camera_id:
            return camera
    raise ConfigError([Problem("station.yaml", "cameras", f"no camera {camera_id!r} in the config file")])


def add_camera(data: dict[str, Any], camera: Mapping[str, Any]) -> None:
    """The change that appends ``camera`` (its keys as in the file) to the camera list."""
    _camera_list(data).append(dict(camera))


def remove_camera(data: dict[str, Any], camera_id: str) -> None:
    """The change that takes camera ``camera_id`` out of the camera list (its footage, events and evidence
    are not the config's: the database keeps them, and the camera's row, after the restart)."""
    entry = _camera_entry(data, camera_id)
    cameras = _camera_list(data)
    cameras[:] = [camera for camera in cameras if camera is not entry]


def update_camera(data: dict[str, Any], camera_id: str, changes: Mapping[str, Any]) -> None:
    """The change that sets keys of camera ``camera_id``; a mapping value (``location``, ``detection``) is
    merged into the camera's own, a None value removes the key (back to its default)."""
    _merge(_camera_entry(data, camera_id), changes, f"cameras.{camera_id}")


def set_values(data: dict[str, Any], changes: Mapping[tuple[str, ...], Any]) -> None:
    """The change that sets values by their path, e.g. ``{("station", "name"): "ЖК Восток"}``; sections
    missing from the file are created."""
    for path, value in changes.items():
        *parents, key = path
        section = data
        for part in parents:
            child = section.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError([Problem("station.yaml", ".".join(path), f"{part} is not a mapping")])
            section = child
        section[key] = value


def _merge(target: dict[str, Any], changes: Mapping[str, Any], where: str) -> None:
    for key, value in changes.items():
        if isinstance(value, Mapping):
            child = target.setdefault(key, {})
            if not isinstance(child, dict):
                raise ConfigError([Problem("station.yaml", f"{where}.{key}", "not a mapping")])
            _merge(child, value, f"{where}.{key}")
        elif value is None:
            target.pop(key, None)
        else:
            target[key] = value
