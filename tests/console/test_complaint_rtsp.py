"""The whole complaint flow through the API on footage the station itself recorded from the real RTSP test
server: the running station (ingest -> recorder -> index) records two cameras; an officer registers a
complaint for the entrance, gets the entrance camera proposed with its real segments, attaches the incident
window (a lock); a supervisor exports the package; it verifies, its clip plays with PyAV and covers the
window; one flipped clip byte makes it invalid."""

from __future__ import annotations

import tempfile
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from config.settings import Settings
from storage.evidence.verifier import verify_package
from storage.lock import active_locks
from storage.model import utcnow
from tests.support.evidence import flip_byte
from tests.support.media import clip_cache, small_clip  # noqa: F401
from tests.support.mp4 import probe_file
from tests.support.rtsp_server import RtspServer, rtsp_server, rtsp_server_factory  # noqa: F401
from tests.support.rtsp_station import SEGMENT_S, rtsp_station_config, wait_for_footage
from tests.support.station_media import MediaStation, started_media_station

pytestmark = [pytest.mark.rtsp, pytest.mark.timeout(150)]


@pytest.fixture
def recording_station(tmp_path: Path, rtsp_server: RtspServer) -> Iterator[MediaStation]:  # noqa: F811
    settings = Settings(config=rtsp_station_config(tmp_path / "data", rtsp_server), config_path=None)
    with started_media_station(settings) as media:
        yield media


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def test_complaint_flow_on_footage_recorded_from_rtsp(recording_station: MediaStation) -> None:
    media = recording_station
    database = media.station.database
    first, newest = wait_for_footage(database, "b5-e1", 4, timeout_s=40)
    wait_for_footage(database, "b5-yard", 2, timeout_s=20)
    # the incident: 3 s inside what is already closed, indexed and hashed
    incident_start = (first + timedelta(seconds=SEGMENT_S + 0.5)).replace(microsecond=0)
    incident_end = incident_start + timedelta(seconds=3)
    assert incident_end < newest

    officer = media.login("officer")
    created = officer.post(
        "/api/complaints",
        json={
            "received_at": iso(utcnow()),
            "channel": "chat",
            "reporter_name": "Председатель ОСИ",
            "category": "smoking",
            "description": "Курят в подъезде",
            "building": "5",
            "entrance": "1",
            "incident_start": iso(incident_start),
            "incident_end": iso(incident_end),
        },
    )
    assert created.status_code == 201, created.text
    complaint = created.json()["complaint"]

    proposals = officer.get(f"/api/complaints/{complaint['id']}/proposals?margin_min=0").json()["cameras"]
    entrance = proposals[0]
    assert entrance["camera_id"] == "b5-e1"  # the entrance camera first
    assert entrance["match"] == "entrance" and entrance["footage_hidden"] is None
    assert entrance["segments"], entrance
    assert entrance["recorded_s"] >= (incident_end - incident_start).total_seconds() - 0.5

    attached = officer.post(
        f"/api/complaints/{complaint['id']}/evidence",
        json={"camera_id": "b5-e1", "start": iso(incident_start), "end": iso(incident_end)},
    )
    assert attached.status_code == 201, attached.text
    with media.station.database.session() as session:
        locks = active_locks(session, now=utcnow())
    assert [(lock.camera_id, lock.start_utc, lock.end_utc) for lock in locks] == [
        ("b5-e1", incident_start, incident_end)
    ]

    supervisor = media.login("supervisor")
    made = supervisor.post(f"/api/complaints/{complaint['id']}/export", json={"reason": "по обращению"})
    assert made.status_code == 201, made.text
    with tempfile.TemporaryDirectory() as folder:
        package = Path(folder) / "package.zip"
        package.write_bytes(supervisor.get(made.json()["download_url"]).content)
        report = verify_package(package)
        assert report.intact, report.render()
        manifest = report.manifest
        assert manifest is not None and manifest["complaint"]["number"] == complaint["number"]
        (clip,) = manifest["clips"]
        assert clip["camera"]["id"] == "b5-e1"
        actual_start = datetime.fromisoformat(clip["actual"]["start_utc"].replace("Z", "+00:00"))
        actual_end = datetime.fromisoformat(clip["actual"]["end_utc"].replace("Z", "+00:00"))
        gop = timedelta(seconds=1.05)  # the test clip has a keyframe every 25 frames at 25 fps
        assert incident_start - gop <= actual_start <= incident_start
        assert incident_end <= actual_end <= incident_end + gop + timedelta(seconds=0.1)
        assert all(source["sha256"] for source in clip["sources"])
        with zipfile.ZipFile(package) as archive:
            extracted = Path(folder) / "clip.mp4"
            extracted.write_bytes(archive.read(clip["file"]))
        probed = probe_file(extracted)
        assert probed.first_is_keyframe and probed.monotonic
        assert probed.decoded_frames >= 3 * 25 - 1
        assert probed.duration_s >= (incident_end - incident_start).total_seconds()
        flip_byte(package, clip["file"])
        broken = verify_package(package)
        assert not broken.intact and clip["file"] in broken.render()
