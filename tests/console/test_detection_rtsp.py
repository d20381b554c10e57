"""Detection in the running station, end to end with real parts: the real RTSP test server streams the
shared campus clip as a camera; the station records it and runs detection on it; a person-in-zone event
appears while it goes on (the wall's ``/api/events/active``), ends, gets its picture, a footage lock and a
clip cut from the recorded, hash-indexed segments; the clip plays with PyAV; the officer dismisses it (a
reason is required), which releases the lock; every view is audited."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

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
from console.app import create_app
from storage.event import event_detail
from storage.lock import active_locks
from storage.model import AuditEntry, Clip, Event, EvidenceLock, Role, utcnow
from storage.user import create_user
from streams.affinity import available_cpus
from tests.support.affinity import allowed_cpus
from tests.support.console import make_user, running_station, sign_in
from tests.support.media import clip_cache, small_clip  # noqa: F401
from tests.support.mp4 import probe_file
from tests.support.paths import shared_file
from tests.support.rtsp_server import RtspServerFactory, rtsp_server_factory  # noqa: F401
from tests.support.rtsp_station import wait_for_footage
from tests.support.station_media import ROLES, MediaStation, password_hash

pytestmark = [pytest.mark.rtsp, pytest.mark.timeout(200)]

ENTRANCE = [(0.72, 0.17), (1.0, 0.17), (1.0, 0.36), (0.72, 0.36)]


@pytest.fixture
def detecting_station(
    tmp_path: Path,
    rtsp_server_factory: RtspServerFactory,  # noqa: F811
) -> Iterator[MediaStation]:
    clip = shared_file("media", "pets09_s2l1_campus.mp4")
    model = shared_file("models", "yolo11n_int8.onnx")
    server = rtsp_server_factory({"campus": clip})
    config = StationConfig(
        station=StationInfo(name="ЖК Detect", timezone="Asia/Almaty"),
        storage=StorageConfig(data_dir=tmp_path / "data"),
        recording=RecordingConfig(segment_seconds=2),
        detection=DetectionConfig(model_path=model, event_clip_pre_s=1, event_clip_post_s=1),
        cameras=[
            CameraConfig(
                id="campus",
                name="Кампус",
                url=server.url("campus"),
                detection=CameraDetection(
                    enabled=True, kinds=["person"], zones=[Zone(name="entrance", points=ENTRANCE)]
                ),
            )
        ],
    )
    app = create_app(Settings(config=config, config_path=None))
    with TestClient(app, base_url="http://testserver") as client:
        media = MediaStation(app=app, client=client)
        with running_station(client).database.session() as session:
            for username, role in ROLES.items():
                user = create_user(session, username=username, role=role, password_hash=password_hash())
                media.user_ids[username] = user.id
        yield media


def _wait(predicate: object, timeout_s: float, what: str) -> object:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()  # type: ignore[operator]
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def test_a_person_in_the_zone_becomes_a_reviewed_event_with_picture_and_clip(
    detecting_station: MediaStation,
) -> None:
    media = detecting_station
    station = media.station
    officer = media.login("officer")
    assert station.detection is not None and station.detection.detector is not None

    # People reach the entrance about 11 s into the clip: the wall sees the event while it goes on.
    active = _wait(lambda: officer.get("/api/events/active").json(), 60, "an event going on")
    assert active[0]["camera_id"] == "campus" and active[0]["zone"] == "entrance"  # type: ignore[index]

    def finished() -> list[dict[str, object]]:
        items = officer.get("/api/events", params={"kind": "person"}).json()["items"]
        return [e for e in items if not e["ongoing"] and e["clip_url"]]

    events = _wait(finished, 90, "an ended event with its clip")
    event = events[0]  # type: ignore[index]
    assert event["zone"] == "entrance" and event["review"] == "pending"
    x1, _, x2, y2 = event["box"]
    assert (x1 + x2) / 2 > 768 * 0.6 and y2 < 576 * 0.45  # the person is at the entrance, top right

    picture = officer.get(event["snapshot_url"])
    assert picture.status_code == 200 and picture.content[:2] == b"\xff\xd8"
    clip = officer.get(event["clip_url"])
    assert clip.status_code == 200 and clip.headers["content-type"] == "video/mp4"

    with station.database.session() as session:
        row = session.get(Event, event["id"])
        assert row is not None and row.clip_id is not None
        stored = session.get(Clip, row.clip_id)
        assert stored is not None and stored.path
        clip_path = station.settings.data_dir / stored.path
        assert hashlib.sha256(clip_path.read_bytes()).hexdigest() == stored.sha256
        assert row.end_utc is not None
        assert stored.start_utc <= row.start_utc and stored.end_utc >= row.end_utc
        lock_id = event_detail(row)["lock_id"]
        held = {lock.lock_id: lock for lock in active_locks(session, now=utcnow(), camera_id="campus")}
        assert held[lock_id].start_utc <= row.start_utc and held[lock_id].end_utc >= row.end_utc  # type: ignore[index]
    probed = probe_file(clip_path)
    assert (
        probed.decoded_frames > 10
        and probed.first_is_keyframe
        and (probed.width, probed.height) == (768, 576)
    )

    refused = officer.post(f"/api/events/{event['id']}/review", json={"decision": "dismissed"})
    assert refused.status_code == 422
    dismissed = officer.post(
        f"/api/events/{event['id']}/review", json={"decision": "dismissed", "reason": "сотрудник ЖЭК"}
    )
    assert dismissed.status_code == 200, dismissed.text
    assert dismissed.json()["review"] == "dismissed" and dismissed.json()["review_reason"] == "сотрудник ЖЭК"
    with station.database.session() as session:
        released = session.get(EvidenceLock, lock_id)
        assert released is not None and released.released_at is not None
        actions = set(session.scalars(select(AuditEntry.action)).all())
    assert {"event.snapshot", "event.clip", "event.dismissed"} <= actions

    # The investigator has no events permission; an auditor neither.
    assert media.login("investigator").get("/api/events").status_code == 403
    health = station.detection.health()
    assert health[0].worker.analysed > 50 and not health[0].stalled
    # detection.cpus all, workers auto, nice 10: a worker per CPU, each on every CPU at the lower priority
    assert station.detection.worker is not None
    workers = station.detection.worker.native_ids
    assert len(workers) == len(available_cpus())
    assert all(allowed_cpus(tid) == set(available_cpus()) for tid in workers)
    assert all(os.getpriority(os.PRIO_PROCESS, tid) == 10 for tid in workers)
    report = officer.get("/api/health").json()["detection"]
    assert report["model_error"] is None and report["model"].endswith("yolo11n_int8.onnx")
    (camera,) = report["cameras"]
    assert camera["people_detection"] and camera["frames_analysed"] > 50 and camera["detector_ms_p50"] > 0
    metrics = officer.get("/metrics").text
    assert 'station_detection_frames_analysed_total{camera="campus"}' in metrics
    assert 'station_detection_events_total{camera="campus",kind="person"}' in metrics


def test_a_model_that_cannot_be_loaded_turns_people_detection_off_and_recording_goes_on(
    tmp_path: Path,
    rtsp_server_factory: RtspServerFactory,  # noqa: F811
) -> None:
    server = rtsp_server_factory()
    config = StationConfig(
        station=StationInfo(name="ЖК Detect", timezone="Asia/Almaty"),
        storage=StorageConfig(data_dir=tmp_path / "data"),
        recording=RecordingConfig(segment_seconds=2),
        detection=DetectionConfig(model_path=tmp_path / "gone.onnx"),
        cameras=[
            CameraConfig(
                id="gate",
                name="Ворота",
                url=server.url("cam1"),
                detection=CameraDetection(enabled=True, kinds=["motion", "person"]),
            )
        ],
    )
    app = create_app(Settings(config=config, config_path=None))
    with TestClient(app, base_url="http://testserver") as client:
        station = running_station(client)
        wait_for_footage(station.database, "gate", 2, timeout_s=40)
        make_user(station.database, "monitor", Role.OFFICER)
        sign_in(client, "monitor")  # the health details are for signed-in users
        health = client.get("/api/health").json()
        assert "gone.onnx: detector model file does not exist" in health["detection"]["model_error"]
        assert any(r["code"] == "detector_unavailable" for r in health["reasons"])
        assert health["status"] == "warning"
        (camera,) = health["detection"]["cameras"]
        assert not camera["people_detection"] and "people detection is off" in camera["note"]
        _wait(lambda: station.detection.health()[0].worker.analysed > 5, 20, "motion detection running")  # type: ignore[union-attr]
