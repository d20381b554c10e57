"""Change the station config file safely: validate the whole new file first, write it atomically, keep the
previous one beside it (``station.yaml.bak``).

The file is rewritten from its data (PyYAML keeps no comments): the previous file, comments and all, stays
in the backup. A change that would make the config invalid is refused with the same report
``station check-config`` gives, and the file is left untouched.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from config.composer import parse_yaml, yaml_problem
from config.error import ConfigError, Problem
from config.loader import parse_document, read_config_text
from config.schema import StationConfig

HEADER = "# Station config. Saved by the console; the previous version is kept as {backup}.\n"


def backup_path(path: Path) -> Path:
    return path.with_name(path.name + ".bak")


def edit_config_file(path: Path, change: Callable[[dict[str, Any]], None]) -> StationConfig:
    """Apply ``change`` to the file's data, validate the result, and replace the file atomically with the
    previous version kept as ``<name>.bak``. Raises :class:`ConfigError` (file untouched) when the file
    cannot be read or the changed config is invalid."""
    text = read_config_text(path)
    try:
        _node, data = parse_yaml(text)
    except yaml.YAMLError as exc:
        raise ConfigError([yaml_problem(exc, text=text, source=path.name)]) from exc
    if not isinstance(data, dict):
        raise ConfigError([Problem(path.name, "", "top level must be a mapping")])
    change(data)
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
