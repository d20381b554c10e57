"""Schema rules: unknown keys, URLs, listen address, database URL, ICE servers; every field documented."""

from __future__ import annotations

import re
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from config.schema import (
    CameraConfig,
    ConsoleConfig,
    IceServer,
    RecordingConfig,
    StationConfig,
    StorageConfig,
)


def _camera(**extra: Any) -> dict[str, Any]:
    return {"id": "gate-1", "name": "Gate", "url": "rtsp://10.0.0.1/main", **extra}


def _models(model: type[BaseModel], seen: set[type[BaseModel]]) -> None:
    if model in seen:
        return
    seen.add(model)
    for info in model.model_fields.values():
        for arg in _type_args(info.annotation):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                _models(arg, seen)


def _type_args(annotation: Any) -> list[Any]:
    out = [annotation]
    for arg in getattr(annotation, "__args__", ()):
        out += _type_args(arg)
    return out


def test_every_field_has_a_title_and_description() -> None:
    models: set[type[BaseModel]] = set()
    _models(StationConfig, models)
    assert len(models) >= 10
    undocumented = [
        f"{model.__name__}.{name}"
        for model in models
        for name, info in model.model_fields.items()
        if not info.title or not info.description
    ]
    assert undocumented == []


def test_json_schema_forbids_unknown_keys_everywhere() -> None:
    schema = StationConfig.model_json_schema()
    assert schema["additionalProperties"] is False
    assert all(d.get("additionalProperties") is False for d in schema["$defs"].values() if "properties" in d)


def test_models_are_frozen() -> None:
    camera = CameraConfig.model_validate(_camera())
    with pytest.raises(ValidationError):
        camera.name = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    "url",
    ["rtsp://10.0.0.1/x", "rtsps://cam.local:322/x", "rtsp://u:p%40ss@10.0.0.1:554/x", "file:///srv/a.mp4"],
)
def test_stream_urls_accepted(url: str) -> None:
    assert CameraConfig.model_validate(_camera(url=url, sub_url=url)).sub_url == url


@pytest.mark.parametrize(
    ("field", "url", "message"),
    [
        ("url", "http://10.0.0.1/x", "unsupported URL scheme 'http'"),
        ("url", "10.0.0.1/x", "unsupported URL scheme '(none)'"),
        ("url", "rtsp:///x", "RTSP URL has no host"),
        ("url", "rtsp://10.0.0.1:99999/x", "invalid port"),
        ("sub_url", "rtmp://10.0.0.1/x", "unsupported URL scheme 'rtmp'"),
        ("sub_url", "file://", "file URL has no path"),
    ],
)
def test_bad_stream_urls_refused(field: str, url: str, message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)) as info:
        CameraConfig.model_validate(_camera(**{field: url}))
    assert info.value.errors()[0]["loc"] == (field,)


@pytest.mark.parametrize("host", ["127.0.0.1", "0.0.0.0", "::", "::1", "station.local", "localhost"])
def test_listen_address_accepted(host: str) -> None:
    assert ConsoleConfig(host=host).host == host


@pytest.mark.parametrize(
    ("host", "message"),
    [
        ("http://0.0.0.0", "without scheme"),
        ("0.0.0.0:8080", "must not include a port"),
        ("999.1.1.1", "not a valid IPv4 address"),
        ("bad_host!", "neither an IP address nor a valid host name"),
        ("", "neither an IP address"),
    ],
)
def test_bad_listen_address_refused(host: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ConsoleConfig(host=host)


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:////var/lib/station/station.db",
        "postgresql+psycopg://station@db/station",
        "postgresql://station@db/station",
        "postgres://station@db/station",
    ],
)
def test_database_urls_accepted(url: str) -> None:
    assert StorageConfig.model_validate({"data_dir": "/tmp/x", "db_url": url}).db_url == url


@pytest.mark.parametrize(
    "url", ["mysql://root:hunter2@db/x", "hunter2", "postgresql+psycopg2://u:hunter2@h/x"]
)
def test_bad_database_url_refused_without_echoing_it(url: str) -> None:
    with pytest.raises(ValidationError, match="unsupported database URL") as info:
        StorageConfig.model_validate({"data_dir": "/tmp/x", "db_url": url})
    assert "hunter2" not in str(info.value.errors()[0]["msg"])


def test_empty_database_url_means_default() -> None:
    assert StorageConfig.model_validate({"data_dir": "/tmp/x", "db_url": ""}).db_url is None


def test_ice_server_urls_checked() -> None:
    assert IceServer(urls=["stun:10.0.0.2:3478", "turns:turn.local"]).urls[0].startswith("stun:")
    with pytest.raises(ValidationError, match="must start with stun:"):
        IceServer(urls=["http://10.0.0.2"])


def test_zone_points_must_be_fractions() -> None:
    zone = {"name": "door", "points": [[0, 0], [2, 0], [1, 1]]}
    with pytest.raises(ValidationError, match=r"outside the frame"):
        CameraConfig.model_validate(_camera(detection={"zones": [zone]}))


def test_password_env_must_be_a_variable_name() -> None:
    with pytest.raises(ValidationError, match="password_env"):
        CameraConfig.model_validate(_camera(password_env="lower-case"))


@pytest.mark.parametrize(
    ("value", "expected"),
    [("auto", "auto"), ("all", "all"), ([1, 3], [1, 3]), (2, [2])],
)
def test_media_cpus_accepted(value: object, expected: object) -> None:
    assert RecordingConfig(media_cpus=value).media_cpus == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([], "empty CPU list"),
        ([1, 1], "CPU listed twice in [1, 1]"),
        ([-1], "whole numbers 0 to 4095: -1 is not one"),
        ([0, "a"], "'a' is not one"),
        ([4096], "4096 is not one"),
        ("some", "'some' is not a CPU setting: use 'auto', 'all' or CPU numbers such as [1]"),
    ],
)
def test_bad_media_cpus_refused_with_one_message(value: object, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        RecordingConfig(media_cpus=value)
    [error] = caught.value.errors()
    assert message in error["msg"]


def test_zone_schedule_kinds_and_params_accepted() -> None:
    zone = {
        "name": "roof",
        "points": [[0, 0], [1, 0], [1, 1]],
        "kinds": ["person"],
        "schedule": ["22:00-06:00", "12:00-13:00"],
        "min_dwell_s": 3,
        "min_height_px": 40,
        "params": {"littering.dwell_s": 20},
    }
    camera = CameraConfig.model_validate(
        _camera(detection={"zones": [zone], "masks": [{"points": zone["points"]}]})
    )
    assert camera.detection.zones[0].schedule == ["22:00-06:00", "12:00-13:00"]


@pytest.mark.parametrize(
    ("zones", "message"),
    [
        ([{"name": "a", "points": [[0, 0], [1, 0], [1, 1]], "schedule": ["22-06"]}], "is not HH:MM-HH:MM"),
        ([{"name": "a", "points": [[0, 0], [1, 0], [1, 1.5]]}], "outside the frame"),
    ],
)
def test_bad_zones_refused(zones: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        CameraConfig.model_validate(_camera(detection={"zones": zones}))
