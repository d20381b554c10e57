"""Pure cross-field checks (``verify_*``), table-driven."""

from __future__ import annotations

from typing import Any

import pytest

from config.crosscheck import (
    Finding,
    verify_config,
    verify_detection_model,
    verify_password_sources,
    verify_sub_stream,
    verify_unique_zone_names,
)
from config.schema import StationConfig

TRIANGLE = [[0, 0], [1, 0], [0, 1]]


def _config(cameras: list[dict[str, Any]], **top: Any) -> StationConfig:
    return StationConfig.model_validate(
        {"station": {"name": "T"}, "storage": {"data_dir": "/tmp/x"}, "cameras": cameras, **top}
    )


def _cam(camera_id: str = "gate-1", **extra: Any) -> dict[str, Any]:
    return {"id": camera_id, "name": "Cam", "url": f"rtsp://10.0.0.1/{camera_id}", **extra}


def test_zone_names_unique_per_camera_only() -> None:
    zones = [{"name": "door", "points": TRIANGLE}, {"name": "door", "points": TRIANGLE}]
    config = _config([_cam(detection={"zones": zones}), _cam("yard-1", detection={"zones": zones[:1]})])
    findings = verify_unique_zone_names(config)
    assert [f.loc for f in findings] == [("cameras", 0, "detection", "zones", 1, "name")]
    shared = _config([_cam(detection={"zones": zones[:1]}), _cam("yard-1", detection={"zones": zones[:1]})])
    assert verify_unique_zone_names(shared) == []


@pytest.mark.parametrize(
    ("detection", "model_path", "expected"),
    [
        ({"enabled": True, "kinds": ["motion"]}, None, []),
        ({"enabled": True, "kinds": ["motion", "person"]}, None, ["person"]),
        ({"enabled": True, "kinds": ["littering", "smoking"]}, None, ["littering, smoking"]),
        ({"enabled": False, "kinds": ["person"]}, None, []),
        ({"enabled": True, "kinds": ["person", "smoking"]}, "/models/y.onnx", []),
    ],
)
def test_model_required_for_object_detections(
    detection: dict[str, Any], model_path: str | None, expected: list[str]
) -> None:
    config = _config([_cam(detection=detection)], detection={"model_path": model_path})
    findings = verify_detection_model(config)
    assert [f.message.split(" detection")[0] for f in findings] == expected
    assert all(f.loc == ("cameras", 0, "detection", "kinds") for f in findings)


def test_password_in_url_and_env_is_refused() -> None:
    config = _config(
        [
            _cam(url="rtsp://u:pw@10.0.0.1/a", sub_url="rtsp://u:pw@10.0.0.1/b", password_env="CAM_PW"),
            _cam("yard-1", url="rtsp://u@10.0.0.2/a", password_env="YARD_PW"),
            _cam("bins-1", url="rtsp://u:pw@10.0.0.3/a"),
        ]
    )
    findings = verify_password_sources(config)
    assert [f.loc for f in findings] == [("cameras", 0, "url"), ("cameras", 0, "sub_url")]
    assert all("pw" not in f.message.replace("password", "") for f in findings)


@pytest.mark.parametrize(
    ("url", "sub_url", "expected"),
    [
        ("rtsp://10.0.0.1/main", "rtsp://10.0.0.1/sub", None),
        ("rtsp://10.0.0.1/main", "rtsp://u:p@10.0.0.1/main", "same stream as url"),
        ("file:///a.mp4", "rtsp://10.0.0.1/sub", "both be RTSP or both be files"),
        ("file:///a.mp4", "file:///a-small.mp4", None),
    ],
)
def test_sub_stream_rules(url: str, sub_url: str, expected: str | None) -> None:
    findings = verify_sub_stream(_config([_cam(url=url, sub_url=sub_url)]))
    if expected is None:
        assert findings == []
    else:
        assert len(findings) == 1 and expected in findings[0].message
        assert findings[0].loc == ("cameras", 0, "sub_url")


def test_verify_config_runs_every_check() -> None:
    zones = [{"name": "door", "points": TRIANGLE}, {"name": "door", "points": TRIANGLE}]
    config = _config(
        [
            _cam(
                url="rtsp://u:p@h/a",
                password_env="P",
                detection={"enabled": True, "kinds": ["person"], "zones": zones},
            )
        ]
    )
    findings = verify_config(config)
    assert len(findings) == 3
    assert all(isinstance(f, Finding) for f in findings)
