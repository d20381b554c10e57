from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from config.schema import CameraConfig
from console.health import CameraStatus, HealthRegistry

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


def registry() -> HealthRegistry:
    return HealthRegistry(
        [
            CameraConfig(id="a", name="A", url="rtsp://10.0.0.1/a"),
            CameraConfig(id="b", name="B", url="rtsp://10.0.0.1/b", enabled=False),
        ]
    )


def test_starts_unknown_or_disabled() -> None:
    snap = {h.id: h for h in registry().snapshot()}
    assert snap["a"].status is CameraStatus.UNKNOWN and snap["a"].since is None
    assert snap["b"].status is CameraStatus.DISABLED


def test_since_changes_only_with_the_status() -> None:
    reg = registry()
    reg.update("a", CameraStatus.OFFLINE, detail="connection refused", now=T0)
    again = reg.update("a", CameraStatus.OFFLINE, detail="timeout", now=T0 + timedelta(seconds=30))
    assert again.since == T0 and again.detail == "timeout"
    online = reg.update("a", CameraStatus.ONLINE, fps=25.0, recording=True, now=T0 + timedelta(minutes=5))
    assert online.since == T0 + timedelta(minutes=5) and online.fps == 25.0 and online.recording


def test_unknown_camera_is_a_key_error_until_registered() -> None:
    reg = registry()
    with pytest.raises(KeyError):
        reg.update("new", CameraStatus.ONLINE)
    reg.register("new", "New")
    assert reg.update("new", CameraStatus.ONLINE).status is CameraStatus.ONLINE


def test_threads_can_report_concurrently() -> None:
    reg = registry()

    def worker(status: CameraStatus) -> None:
        for _ in range(500):
            reg.update("a", status)

    threads = [
        threading.Thread(target=worker, args=(s,)) for s in (CameraStatus.ONLINE, CameraStatus.STALLED)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert reg.get("a").status in {CameraStatus.ONLINE, CameraStatus.STALLED}
