"""Live view API against a running app, a real RTSP camera and an in-process aiortc viewer on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import av
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from fastapi.testclient import TestClient
from sqlalchemy import select

from config.schema import CameraConfig, ConsoleConfig, StationConfig, StationInfo, StorageConfig
from config.settings import Settings
from console.app import create_app
from console.live import LiveLimits, LiveRegistry, is_over_user_limit
from storage.model import AuditEntry, Role
from tests.support.console import make_user, running_station, sign_in
from tests.support.media import clip_cache, small_clip  # noqa: F401
from tests.support.rtsp_server import RtspServer, rtsp_server, rtsp_server_factory  # noqa: F401

pytestmark = [pytest.mark.rtsp, pytest.mark.timeout(90)]


@pytest.fixture
def live_client(tmp_path: Path, rtsp_server: RtspServer) -> Iterator[TestClient]:  # noqa: F811
    config = StationConfig(
        station=StationInfo(name="ЖК Live", timezone="Asia/Almaty"),
        storage=StorageConfig(data_dir=tmp_path / "data"),
        cameras=[
            CameraConfig(
                id="cam1", name="Подъезд 1", url=rtsp_server.url("cam1"), sub_url=rtsp_server.url("cam2")
            ),
            CameraConfig(id="cam2", name="Двор", url=rtsp_server.url("cam2")),
        ],
        console=ConsoleConfig(),
    )
    app = create_app(Settings(config=config, config_path=None))
    with TestClient(app, base_url="http://testserver") as client:
        yield client


def _live(client: TestClient) -> LiveRegistry:
    live = running_station(client).live
    assert live is not None
    return live


async def _client_offer() -> RTCPeerConnection:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver("video", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    return pc


def _offer_sdp() -> str:
    """A real browser-like offer (the peer connection is closed again: nobody will answer it)."""

    async def make() -> str:
        pc = await _client_offer()
        sdp: str = pc.localDescription.sdp
        await pc.close()
        return sdp

    return asyncio.run(make())


def _offer_body(pc: RTCPeerConnection, camera: str = "cam1", stream: str = "sub") -> dict[str, str]:
    return {"camera_id": camera, "stream": stream, "sdp": pc.localDescription.sdp, "type": "offer"}


async def _watch(
    client: TestClient, csrf: str, camera: str, stream: str, frames: int
) -> tuple[dict[str, object], list[av.VideoFrame]]:
    pc = await _client_offer()
    received: list[av.VideoFrame] = []
    got_track: asyncio.Future[MediaStreamTrack] = asyncio.get_running_loop().create_future()
    pc.on("track", lambda track: got_track.set_result(track))
    response = client.post(
        "/api/live/offer", json=_offer_body(pc, camera, stream), headers={"X-CSRF-Token": csrf}
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type=answer["type"]))
    try:
        async with asyncio.timeout(20):
            track = await got_track
            while len(received) < frames:
                frame = await track.recv()
                assert isinstance(frame, av.VideoFrame)
                received.append(frame)
    except MediaStreamError:
        pass
    finally:
        await pc.close()
    return answer, received


def test_officer_watches_a_camera_with_zero_server_encoding(live_client: TestClient) -> None:
    station = running_station(live_client)
    make_user(station.database, "officer", Role.OFFICER)
    csrf = sign_in(live_client, "officer")
    started = time.monotonic()
    answer, frames = asyncio.run(_watch(live_client, csrf, "cam1", "sub", 30))
    assert answer["stream"] == "sub" and answer["transcoded"] is False
    sdp = str(answer["sdp"])
    assert "H264" in sdp and "VP8" not in sdp
    assert len(frames) == 30 and (frames[0].width, frames[0].height) == (640, 360)
    assert time.monotonic() - started < 15
    stats = live_client.get("/api/live/stats").json()
    assert stats["frames_encoded"] == 0 and stats["senders_encoding"] == 0
    with station.database.session() as session:
        audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "live.view")).all()
    assert [(a.username, a.resource_id, json.loads(a.detail or "{}")["stream"]) for a in audit] == [
        ("officer", "cam1", "sub")
    ]
    deadline = time.monotonic() + 10  # the client closed: the station notices and drops the session
    while _live(live_client).stats().viewers and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _live(live_client).stats().viewers == 0


def test_main_stream_when_the_camera_has_no_sub_stream(live_client: TestClient) -> None:
    make_user(running_station(live_client).database, "officer", Role.OFFICER)
    csrf = sign_in(live_client, "officer")
    answer, frames = asyncio.run(_watch(live_client, csrf, "cam2", "sub", 5))
    assert answer["stream"] == "main" and len(frames) == 5


def test_anonymous_and_auditor_get_no_answer_and_no_snapshot(live_client: TestClient) -> None:
    body = {"camera_id": "cam1", "stream": "sub", "sdp": _offer_sdp(), "type": "offer"}
    assert live_client.post("/api/live/offer", json=body).status_code == 401
    assert live_client.get("/api/live/cameras/cam1/snapshot.jpg").status_code == 401
    station = running_station(live_client)
    make_user(station.database, "audit", Role.AUDITOR)
    make_user(station.database, "inv", Role.INVESTIGATOR)
    for username in ("audit", "inv"):
        csrf = sign_in(live_client, username)
        refused = live_client.post("/api/live/offer", json=body, headers={"X-CSRF-Token": csrf})
        assert refused.status_code == 403 and "sdp" not in refused.text
        snap = live_client.get("/api/live/cameras/cam1/snapshot.jpg")
        assert snap.status_code == 403 and snap.headers["content-type"].startswith("application/json")
        assert live_client.get("/live").status_code == 403
        live_client.cookies.clear()
    assert _live(live_client).stats().viewers == 0
    with station.database.session() as session:
        denied = session.scalars(select(AuditEntry).where(AuditEntry.action == "access.denied")).all()
    assert {(d.username, d.resource_id) for d in denied} >= {
        ("audit", "POST /api/live/offer"),
        ("audit", "GET /api/live/cameras/cam1/snapshot.jpg"),
    }


def test_offer_needs_the_csrf_header(live_client: TestClient) -> None:
    make_user(running_station(live_client).database, "officer", Role.OFFICER)
    sign_in(live_client, "officer")
    body = {"camera_id": "cam1", "stream": "sub", "sdp": _offer_sdp(), "type": "offer"}
    response = live_client.post("/api/live/offer", json=body)
    assert response.status_code == 403 and response.json()["error"]["code"] == "csrf_failed"


def test_bad_offers_are_refused_clearly(live_client: TestClient) -> None:
    make_user(running_station(live_client).database, "officer", Role.OFFICER)
    csrf = sign_in(live_client, "officer")
    headers = {"X-CSRF-Token": csrf}
    unknown = live_client.post(
        "/api/live/offer",
        json={"camera_id": "nope", "sdp": "v=0\r\nm=video 9", "type": "offer"},
        headers=headers,
    )
    assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "unknown_camera"
    garbage = live_client.post("/api/live/offer", json={"camera_id": "cam1", "sdp": "hello"}, headers=headers)
    assert garbage.status_code == 400 and garbage.json()["error"]["code"] == "bad_offer"


def test_snapshot_is_a_jpeg_thumbnail(live_client: TestClient) -> None:
    make_user(running_station(live_client).database, "officer", Role.OFFICER)
    sign_in(live_client, "officer")
    deadline = time.monotonic() + 15
    while True:
        response = live_client.get("/api/live/cameras/cam1/snapshot.jpg", params={"width": 320})
        if response.status_code != 503 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/jpeg" and response.content[:2] == b"\xff\xd8"
    frame = av.CodecContext.create("mjpeg", "r").decode(av.Packet(response.content))[0]
    assert (frame.width, frame.height) == (320, 180)


def test_wall_page_and_camera_status(live_client: TestClient) -> None:
    make_user(running_station(live_client).database, "officer", Role.OFFICER)
    assert live_client.get("/live", follow_redirects=False).status_code in (302, 303, 307)
    sign_in(live_client, "officer")
    page = live_client.get("/live?lang=kk")
    assert page.status_code == 200 and 'id="wall-config"' in page.text and "/static/js/wall.js" in page.text
    cameras = live_client.get("/api/live/cameras").json()
    assert [c["id"] for c in cameras] == ["cam1", "cam2"]
    assert cameras[0]["streams"] == ["main", "sub"] and cameras[1]["streams"] == ["main"]
    assert all(c["status"] in ("online", "connecting") for c in cameras)


def test_viewer_limit_and_session_ownership(live_client: TestClient) -> None:
    station = running_station(live_client)
    make_user(station.database, "officer", Role.OFFICER)
    make_user(station.database, "other", Role.OFFICER)
    live = _live(live_client)
    object.__setattr__(live, "limits", type(live.limits)(max_viewers=1))
    csrf = sign_in(live_client, "officer")

    async def scenario() -> None:
        first, second = await _client_offer(), await _client_offer()
        ok = live_client.post("/api/live/offer", json=_offer_body(first), headers={"X-CSRF-Token": csrf})
        assert ok.status_code == 200
        full = live_client.post("/api/live/offer", json=_offer_body(second), headers={"X-CSRF-Token": csrf})
        assert full.status_code == 503 and full.json()["error"]["code"] == "too_many_viewers"
        session_id = ok.json()["session_id"]
        live_client.cookies.clear()
        other_csrf = sign_in(live_client, "other")
        stolen = live_client.delete(f"/api/live/sessions/{session_id}", headers={"X-CSRF-Token": other_csrf})
        assert stolen.status_code == 404 and live.stats().viewers == 1
        live_client.cookies.clear()
        own_csrf = sign_in(live_client, "officer")
        beacon = live_client.post(f"/api/live/sessions/{session_id}/close", data={"csrf_token": own_csrf})
        assert beacon.status_code == 204 and live.stats().viewers == 0
        await first.close()
        await second.close()

    asyncio.run(scenario())


def test_sessions_that_never_connect_are_closed(live_client: TestClient) -> None:
    make_user(running_station(live_client).database, "officer", Role.OFFICER)
    csrf = sign_in(live_client, "officer")
    live = _live(live_client)

    async def scenario() -> None:
        pc = await _client_offer()
        response = live_client.post("/api/live/offer", json=_offer_body(pc), headers={"X-CSRF-Token": csrf})
        assert response.status_code == 200
        await pc.close()  # the browser went away before connecting and never said goodbye

    asyncio.run(scenario())
    portal = live_client.portal
    assert portal is not None
    closed = portal.call(live.sweep, time.monotonic() + live.limits.connect_timeout_s + 1)
    assert len(closed) == 1 and live.stats().viewers == 0


def test_one_user_cannot_take_every_live_slot(live_client: TestClient) -> None:
    station = running_station(live_client)
    make_user(station.database, "officer", Role.OFFICER)
    make_user(station.database, "other", Role.OFFICER)
    live = _live(live_client)
    object.__setattr__(live, "limits", LiveLimits(max_viewers=4, max_viewers_per_user=1))
    assert is_over_user_limit(1, 1) and not is_over_user_limit(0, 1)
    csrf = sign_in(live_client, "officer")

    async def scenario() -> None:
        first, second, third = await _client_offer(), await _client_offer(), await _client_offer()
        ok = live_client.post("/api/live/offer", json=_offer_body(first), headers={"X-CSRF-Token": csrf})
        assert ok.status_code == 200
        own = live_client.post("/api/live/offer", json=_offer_body(second), headers={"X-CSRF-Token": csrf})
        assert own.status_code == 409 and own.json()["error"]["code"] == "too_many_own_viewers"
        assert "close one first" in own.json()["error"]["message_en"]
        live_client.cookies.clear()
        other_csrf = sign_in(live_client, "other")
        other = live_client.post(
            "/api/live/offer", json=_offer_body(third), headers={"X-CSRF-Token": other_csrf}
        )
        assert other.status_code == 200 and live.stats().viewers == 2
        for pc in (first, second, third):
            await pc.close()

    asyncio.run(scenario())


def test_snapshot_polling_is_audited_as_live_viewing_once_per_interval(live_client: TestClient) -> None:
    station = running_station(live_client)
    make_user(station.database, "officer", Role.OFFICER)
    sign_in(live_client, "officer")
    deadline = time.monotonic() + 15
    served = 0
    while served < 3 and time.monotonic() < deadline:
        served += live_client.get("/api/live/cameras/cam1/snapshot.jpg").status_code == 200
        time.sleep(0.1)
    assert served == 3
    with station.database.session() as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.action == "live.snapshot")).all()
        assert [(r.username, r.resource_id) for r in rows] == [("officer", "cam1")]
