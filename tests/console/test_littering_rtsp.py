"""Littering events from a live camera reach the review queue like the pipeline's others.

The real RTSP test server streams a composited positive (tests/support/littering_clips.py: a sheet of paper
dropped by a pedestrian on the walkway of the shared campus clip 12 s in, its owner gone 13 s in), cut to
28 s and looped, as a camera. Its frames come in two slices, as many cameras send them (the live decoder
must put them together). The station records it and runs the littering rule in a zone around the paper with
short settings (``littering.dwell_s`` 8, ``littering.owner_away_s`` 5, as ``--param`` would set them): one
littering event opens about 20 s in, ends when the loop takes the paper away, and gets its snapshot,
footage lock and a clip cut from the recorded, hash-indexed segments. The loop's jump (people and the paper
vanish at once) raises nothing more before the next pass could drop the paper again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Iterator
from datetime import datetime
from itertools import pairwise
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
    Zone,
)
from config.settings import Settings
from storage.model import Clip, Event
from tests.support.littering_clips import CASES, FPS, make_case
from tests.support.media import clip_cache  # noqa: F401
from tests.support.mp4 import probe_file
from tests.support.paths import shared_file
from tests.support.rtsp_server import RtspServerFactory, rtsp_server_factory  # noqa: F401
from tests.support.station_media import MediaStation, started_media_station

pytestmark = [pytest.mark.rtsp, pytest.mark.timeout(180)]

CLIP_S = 28.0  # the positive is cut here and loops
DWELL_S, OWNER_AWAY_S = 8.0, 5.0
WALKWAY = [(0.8, 0.4), (1.0, 0.4), (1.0, 0.65), (0.8, 0.65)]  # around the paper and its owner's path


@pytest.fixture
def littering_station(
    tmp_path: Path,
    rtsp_server_factory: RtspServerFactory,  # noqa: F811
) -> Iterator[tuple[MediaStation, list[float]]]:
    source = shared_file("media", "pets09_s2l1_campus.mp4")
    truth_file = shared_file("media", "pets09_s2l1_campus.gt.txt")
    model = shared_file("models", "yolo11n_int8.onnx")
    (paper,) = [c for c in CASES if c.name == "paper_walkway_cutout"]
    case = dataclasses.replace(paper, name="paper_live")
    clip, truth = make_case(
        case,
        source,
        truth_file,
        tmp_path / "positive",
        dwell_s=DWELL_S,
        owner_away_s=OWNER_AWAY_S,
        frames=round(CLIP_S * FPS),
    )
    assert truth.condition_s < CLIP_S - 6  # the event has time to open before the loop
    server = rtsp_server_factory({"yard": clip})
    params = {"littering.dwell_s": DWELL_S, "littering.owner_away_s": OWNER_AWAY_S}
    config = StationConfig(
        station=StationInfo(name="ЖК Litter", timezone="Asia/Almaty"),
        storage=StorageConfig(data_dir=tmp_path / "data"),
        recording=RecordingConfig(segment_seconds=2),
        detection=DetectionConfig(model_path=model, params=params, event_clip_pre_s=1, event_clip_post_s=1),
        cameras=[
            CameraConfig(
                id="yard",
                name="Двор",
                url=server.url("yard"),
                detection=CameraDetection(
                    enabled=True, kinds=["littering"], zones=[Zone(name="walkway", points=WALKWAY)]
                ),
            )
        ],
    )
    with started_media_station(Settings(config=config, config_path=None)) as media:
        yield media, truth.box


def _iou(a: list[float], b: list[float]) -> float:
    """IoU of two (x, y, w, h) boxes."""
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


@pytest.mark.xfail(
    strict=False,
    reason="passes in about half the runs: detection starts a few seconds into the stream and its first "
    "frame becomes both backgrounds; what people standing there then leave behind can merge with the "
    "paper into one large static object (box [640, 150, 768, 306]) or hide it (issue 23)",
)
def test_a_littering_event_from_a_live_camera_reaches_the_review_queue_once(
    littering_station: tuple[MediaStation, list[float]],
) -> None:
    media, paper = littering_station
    station = media.station
    officer = media.login("officer")
    started = time.monotonic()

    def events() -> list[dict[str, object]]:
        return list(officer.get("/api/events", params={"kind": "littering"}).json()["items"])

    # Detection starts a few seconds into the stream (the station connects, then loads the model): the
    # first pass is seen from then on. Should it be missed, the second pass must not be.
    wait_s = 2 * CLIP_S + 12
    finished: list[dict[str, object]] = []
    while time.monotonic() < started + wait_s and not finished:
        finished = [e for e in events() if not e["ongoing"] and e["clip_url"]]
        time.sleep(1.0)
    found_at = time.monotonic()
    health = station.detection.health() if station.detection is not None else []
    assert finished, f"no littering event with a clip within {wait_s} s: {events()} {health}"
    event = finished[0]
    assert event["zone"] == "walkway" and event["review"] == "pending"
    box = [float(v) for v in event["box"]]  # type: ignore[attr-defined]
    x1, y1, x2, y2 = box
    assert _iou([x1, y1, x2 - x1, y2 - y1], paper) >= 0.5, (box, paper)

    picture = officer.get(str(event["snapshot_url"]))
    assert picture.status_code == 200 and picture.content[:2] == b"\xff\xd8"
    clip = officer.get(str(event["clip_url"]))
    assert clip.status_code == 200 and clip.headers["content-type"] == "video/mp4"
    with station.database.session() as session:
        row = session.get(Event, event["id"])
        assert row is not None and row.clip_id is not None and row.end_utc is not None
        stored = session.get(Clip, row.clip_id)
        assert stored is not None and stored.path
        clip_path = station.settings.data_dir / stored.path
        assert hashlib.sha256(clip_path.read_bytes()).hexdigest() == stored.sha256
        assert stored.start_utc <= row.start_utc and stored.end_utc >= row.end_utc
    probed = probe_file(clip_path)
    assert probed.decoded_frames > 10 and probed.first_is_keyframe

    # The loop took the paper away (that ended the event). The jump itself raises nothing, however long
    # what it left takes to look static (``static_s`` + ``dwell_s``): every littering event is the paper's,
    # at most one a pass (a later pass drops it again).
    while time.monotonic() < found_at + 10:
        time.sleep(1.0)
    seen = events()
    for other in seen:
        x1, y1, x2, y2 = (float(v) for v in other["box"])  # type: ignore[attr-defined]
        assert _iou([x1, y1, x2 - x1, y2 - y1], paper) >= 0.5, seen
    starts = sorted(datetime.fromisoformat(str(e["start_utc"])) for e in seen)
    assert all((b - a).total_seconds() > CLIP_S - 6 for a, b in pairwise(starts)), seen
    health = station.detection.health() if station.detection is not None else []
    assert health and health[0].worker.errors == 0
