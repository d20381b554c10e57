"""Smoking events from a live camera reach the review queue like the pipeline's others: the real RTSP test
server streams the shared campus clip as a camera, and the station runs the smoking rule on it.

No footage of smoking exists here, so the key-point models are replaced by a scripted stand-in: every person
"faces the camera" and lifts a hand to the mouth for two seconds out of every six (the synthetic bodies of
tests/detection/smoking_scenes.py). Everything else is real: RTSP ingest, recording, the detector, the
tracker, the rule, the event recorder with its snapshot, lock and clip, the events API and the health report.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from config.schema import (
    CameraConfig,
    CameraDetection,
    DetectionConfig,
    RecordingConfig,
    StationConfig,
    StationInfo,
    StorageConfig,
)
from config.settings import Settings
from detection import smoking_rule
from detection.frame import Image
from detection.keypoints import BodyKeypoints
from tests.detection.smoking_scenes import body
from tests.support.media import clip_cache  # noqa: F401
from tests.support.paths import shared_file
from tests.support.rtsp_server import RtspServerFactory, rtsp_server_factory  # noqa: F401
from tests.support.station_media import MediaStation, started_media_station

pytestmark = [pytest.mark.rtsp, pytest.mark.timeout(240)]


class _Smokers:
    """Everyone puffs for two seconds out of every six (by the clock: live frames carry arrival times)."""

    def __init__(self) -> None:
        self.start = time.monotonic()

    def estimate(
        self, image: Image, xyxy: tuple[float, float, float, float], *, hands_within: float | None = 0.8
    ) -> BodyKeypoints:
        phase = (time.monotonic() - self.start) % 6.0
        return body(xyxy, "mouth" if 2.0 <= phase < 4.0 else "down")

    def with_hands(self, image: Image, body: BodyKeypoints, *, within: float = 0.8) -> BodyKeypoints:
        return body


@pytest.fixture
def smoking_station(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    rtsp_server_factory: RtspServerFactory,  # noqa: F811
) -> Iterator[MediaStation]:
    clip = shared_file("media", "pets09_s2l1_campus.mp4")
    model = shared_file("models", "yolo11n_int8.onnx")
    smokers = _Smokers()
    monkeypatch.setattr(smoking_rule, "load_estimator", lambda models: smokers)
    server = rtsp_server_factory({"campus": clip})
    # pets09's people are 50-150 px tall: let the rule look at them all, and end events soon.
    params = {
        "smoking.min_height_px": 20,
        "smoking.min_puff_s": 0.4,
        "smoking.merge_s": 1.0,
        "smoking.end_after_s": 4.0,
    }
    config = StationConfig(
        station=StationInfo(name="ЖК Smoke", timezone="Asia/Almaty"),
        storage=StorageConfig(data_dir=tmp_path / "data"),
        recording=RecordingConfig(segment_seconds=2),
        detection=DetectionConfig(model_path=model, params=params, event_clip_pre_s=1, event_clip_post_s=1),
        cameras=[
            CameraConfig(
                id="campus",
                name="Кампус",
                url=server.url("campus"),
                detection=CameraDetection(enabled=True, kinds=["smoking"]),
            )
        ],
    )
    with started_media_station(Settings(config=config, config_path=None)) as media:
        yield media


def test_a_smoking_event_from_a_live_camera_reaches_the_review_queue(smoking_station: MediaStation) -> None:
    officer = smoking_station.login("officer")

    def finished() -> list[dict[str, object]]:
        items = officer.get("/api/events", params={"kind": "smoking"}).json()["items"]
        return [e for e in items if not e["ongoing"] and e["clip_url"]]

    deadline = time.monotonic() + 150
    events: list[dict[str, object]] = []
    while time.monotonic() < deadline and not events:
        events = finished()
        time.sleep(1.0)
    assert events, "no smoking event with a clip within 150 s"
    event = events[0]
    assert event["kind"] == "smoking" and event["review"] == "pending"
    picture = officer.get(str(event["snapshot_url"]))
    assert picture.status_code == 200 and picture.content[:2] == b"\xff\xd8"
    clip = officer.get(str(event["clip_url"]))
    assert clip.status_code == 200 and clip.headers["content-type"] == "video/mp4"

    (camera,) = officer.get("/api/health").json()["detection"]["cameras"]
    share = camera["smoking"]
    assert share["person_tracks"] >= 1 and share["measurable_tracks"] >= 1
    assert 0 < share["measurable_share"] <= 1 and share["person_s"] > 0
