"""A still of the newest footage (issue 25, player): the station records the real RTSP test server into a
long segment, and a still of a moment in the file still being written is extracted from its readable bytes
(complete fragments), hashed and attached; it has no source file hash yet (the file is not closed)."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest

from tests.console.test_complaint_api import register
from tests.console.test_newest_footage_rtsp import iso, parse, recording_station, wait_for_open_segment  # noqa: F401
from tests.support.media import clip_cache, small_clip  # noqa: F401
from tests.support.rtsp_server import rtsp_server, rtsp_server_factory  # noqa: F401
from tests.support.station_media import MediaStation

pytestmark = [pytest.mark.rtsp, pytest.mark.timeout(150)]


def test_a_still_of_the_file_being_written(recording_station: MediaStation) -> None:  # noqa: F811
    segment = wait_for_open_segment(recording_station.station.database, "b5-e1", recorded_s=4.0)
    officer = recording_station.login("officer")
    cid = register(officer)["complaint"]["id"]
    at = segment.start_utc + timedelta(seconds=1.5)
    response = officer.post(f"/api/complaints/{cid}/stills", json={"camera_id": "b5-e1", "at": iso(at)})
    assert response.status_code == 201, response.text
    still = response.json()
    assert still["source_sha256"] is None and (still["width"], still["height"]) == (640, 360)
    shown = parse(still["frame_at"])
    assert at - timedelta(seconds=0.05) < shown <= at + timedelta(seconds=0.002), (shown, at)
    image = officer.get(still["url"])
    assert hashlib.sha256(image.content).hexdigest() == still["sha256"]
