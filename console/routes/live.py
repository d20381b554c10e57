"""Live view: the camera wall page, WebRTC offers, session close, snapshots and camera status.

Every route needs the ``live.view`` permission (refusals are audited by :func:`console.deps.require`), and
the offer and the snapshot pass the media-access decision (:func:`console.media_access.check_media_access`,
purposes ``live`` and ``snapshot``) like every other media path, before anything about the camera is told;
cookie-authenticated POST/DELETE requests need the ``X-CSRF-Token`` header, except the page-unload beacon
(``navigator.sendBeacon`` cannot set headers), which carries the token in its form body instead. Every
started live view is an audit event ``live.view`` (user, camera, stream); snapshots are live viewing too,
``live.snapshot``, written for a user's first picture of a camera and then once per throttle interval (the
wall polls them). One user watches at most ``console.live_views_per_user`` streams at once (409
``too_many_own_viewers``).
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated, Literal

from anyio import to_thread
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from console.credential import is_valid_csrf
from console.deps import (
    SESSION_COOKIE,
    LanguageDep,
    OptionalUser,
    PageUser,
    Principal,
    SessionDep,
    StationDep,
    audit_as,
    require,
    role_name,
)
from console.error import ApiError
from console.live import (
    LiveAnswer,
    LiveRegistry,
    LiveStats,
    UnknownCameraError,
    UserViewerLimitError,
)
from console.media_access import MediaPolicy, MediaPurpose, MediaRequest, check_media_access
from console.page import render_page
from console.permission import Permission, may_open_page
from console.station import Station
from storage.model import utcnow
from streams.health import HealthState, StreamHealth
from streams.snapshot import SnapshotDecodeError, SnapshotUnavailableError

router = APIRouter(tags=["live"])
Viewer = Annotated[Principal, require(Permission.LIVE_VIEW)]
StreamName = Literal["main", "sub"]


def get_live(station: StationDep) -> LiveRegistry:
    live = station.live
    if live is None:
        raise ApiError(503, "live_unavailable", "live view is not running on this station")
    return live


LiveDep = Annotated[LiveRegistry, Depends(get_live)]


# schemas ----------------------------------------------------------------------------------------


class OfferCreate(BaseModel):
    camera_id: str = Field(min_length=1, max_length=32)
    stream: StreamName = "sub"
    sdp: str = Field(min_length=1, max_length=64 * 1024)
    type: Literal["offer"] = "offer"


class AnswerPublic(BaseModel):
    session_id: str
    sdp: str
    type: str
    camera_id: str
    stream: str
    transcoded: bool

    @classmethod
    def of(cls, answer: LiveAnswer) -> AnswerPublic:
        return cls(
            session_id=answer.session_id,
            sdp=answer.sdp,
            type=answer.type,
            camera_id=answer.camera_id,
            stream=answer.stream,
            transcoded=answer.transcoded,
        )


class CameraLivePublic(BaseModel):
    id: str
    name: str
    location: str
    status: Literal["online", "offline", "connecting"]
    since: datetime | None
    detail: str | None
    streams: list[str]
    codec: str | None
    transcoded: bool
    recording: bool
    width: int | None
    height: int | None
    fps: float | None


class SessionPublic(BaseModel):
    session_id: str
    camera_id: str
    stream: str
    username: str
    transcoded: bool
    state: str
    age_s: float
    packets: int
    bytes: int
    dropped: int
    time_to_first_packet_s: float | None


class LiveStatsPublic(BaseModel):
    viewers: int
    max_viewers: int
    transcoders: int
    frames_encoded: int
    frames_decoded: int
    senders_encoding: int
    snapshots_encoded: int
    closed_sessions: int
    sessions: list[SessionPublic]

    @classmethod
    def of(cls, stats: LiveStats) -> LiveStatsPublic:
        return cls.model_validate(stats, from_attributes=True)


# camera status ----------------------------------------------------------------------------------


def wall_status(health: StreamHealth | None) -> Literal["online", "offline", "connecting"]:
    """The tile badge (pure): degraded still shows a picture, so it counts as online."""
    if health is None:
        return "connecting"
    if health.state in (HealthState.ONLINE, HealthState.DEGRADED):
        return "online"
    if health.state is HealthState.CONNECTING:
        return "connecting"
    return "offline"


def camera_statuses(station: Station, live: LiveRegistry) -> list[CameraLivePublic]:
    station.refresh_health()
    health = {(h.camera_id, h.stream): h for h in live.ingest.health()}
    recording = {c.id: c.recording for c in station.health.snapshot()}
    cameras: list[CameraLivePublic] = []
    for camera in live.cameras.values():
        streams = live.available_streams(camera.id)
        main = health.get((camera.id, "main"))
        wall_stream = "sub" if "sub" in streams else "main"
        shown = health.get((camera.id, wall_stream)) or main
        cameras.append(
            CameraLivePublic(
                id=camera.id,
                name=camera.name,
                location=camera.location.label(),
                status=wall_status(main),
                since=main.since_utc if main else None,
                detail=main.last_error if main and main.state is HealthState.OFFLINE else None,
                streams=streams,
                codec=shown.codec if shown else None,
                transcoded=live.will_transcode(camera.id, wall_stream),
                recording=recording.get(camera.id, False),
                width=main.width if main else None,
                height=main.height if main else None,
                fps=main.fps if main else None,
            )
        )
    return cameras


# routes -----------------------------------------------------------------------------------------


@router.get("/live", include_in_schema=False)
def get_wall_page(
    request: Request, station: StationDep, user: PageUser, language: LanguageDep, camera: str | None = None
) -> Response:
    if not may_open_page(user.permissions, "live"):
        raise ApiError(
            403,
            "forbidden",
            "the {role} role may not watch live video",
            params={"role": role_name(user.role)},
        )
    return render_page(
        request,
        station,
        "wall.html",
        language=language,
        user=user,
        context={
            "active": "live",
            "focus_camera": camera or "",
            "ice_servers": [
                server.model_dump(exclude_none=True) for server in station.settings.config.console.ice_servers
            ],
        },
    )


@router.get("/api/live/cameras", summary="Cameras of the live wall with their status")
def list_live_cameras(station: StationDep, live: LiveDep, user: Viewer) -> list[CameraLivePublic]:
    return camera_statuses(station, live)


@router.post("/api/live/offer", summary="Start watching a camera: WebRTC SDP offer in, answer out")
async def post_offer(body: OfferCreate, station: StationDep, user: Viewer, live: LiveDep) -> AnswerPublic:
    await to_thread.run_sync(_check_live_access, station, user, body.camera_id, MediaPurpose.LIVE)
    try:
        answer = await live.answer(
            camera_id=body.camera_id,
            requested_stream=body.stream,
            sdp=body.sdp,
            sdp_type=body.type,
            user_id=user.user_id,
            username=user.username,
        )
    except UnknownCameraError:
        raise  # answered as mapped in console.error, not as the camera without a stream below
    except UserViewerLimitError as exc:
        limit = station.settings.config.console.live_views_per_user
        raise ApiError(409, "too_many_own_viewers", exc.message, extra={"limit": limit}) from exc
    except LookupError as exc:  # choose_stream: the camera has no stream at all (the others: console.error)
        raise ApiError(
            400, "bad_offer", "camera {camera} has no stream to show", params={"camera": body.camera_id}
        ) from exc
    try:
        await to_thread.run_sync(_audit_view, station, user, answer)
    except BaseException:
        await live.close_session(answer.session_id, reason="audit_failed")  # no unaudited viewing
        raise
    return AnswerPublic.of(answer)


def _check_live_access(station: Station, user: Principal, camera_id: str, purpose: MediaPurpose) -> None:
    with station.database.session() as session:
        _check_live_media(session, station, user, camera_id, purpose)


def _check_live_media(
    session: Session, station: Station, user: Principal, camera_id: str, purpose: MediaPurpose
) -> None:
    now = utcnow()
    check_media_access(
        session,
        user,
        MediaRequest(camera_id=camera_id, start_utc=now, end_utc=now, purpose=purpose),
        policy=MediaPolicy.of(station.settings.config.console),
        now=now,
    )


def _audit_view(station: Station, user: Principal, answer: LiveAnswer) -> None:
    with station.database.session() as session:
        audit_as(
            session,
            user,
            action="live.view",
            resource_type="camera",
            resource_id=answer.camera_id,
            detail={
                "stream": answer.stream,
                "transcoded": answer.transcoded,
                "session": answer.session_id[:8],
            },
        )


@router.delete("/api/live/sessions/{session_id}", status_code=204, summary="Stop watching")
async def delete_session(session_id: str, live: LiveDep, user: Viewer) -> Response:
    await live.close_session(session_id, user_id=user.user_id, reason="viewer_left")
    return Response(status_code=204)


@router.post("/api/live/sessions/{session_id}/close", status_code=204, include_in_schema=False)
async def beacon_close_session(
    request: Request,
    session_id: str,
    live: LiveDep,
    user: OptionalUser,
    csrf_token: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    """The page-unload beacon: sendBeacon cannot set headers, so the CSRF token comes in the form body."""
    if user is None:
        raise ApiError(401, "not_authenticated", "sign in first", headers={"WWW-Authenticate": "Bearer"})
    if not is_valid_csrf(request.cookies.get(SESSION_COOKIE, ""), csrf_token):
        raise ApiError(403, "csrf_failed", "missing or wrong CSRF token")
    await live.close_session(session_id, user_id=user.user_id, reason="page_unload")
    return Response(status_code=204)


@router.get(
    "/api/live/cameras/{camera_id}/snapshot.jpg",
    summary="Newest picture of a camera as JPEG (for thumbnails and clients without WebRTC)",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}},
)
def get_snapshot(
    camera_id: str,
    session: SessionDep,
    station: StationDep,
    user: Viewer,
    live: LiveDep,
    stream: StreamName = "sub",
    width: Annotated[int | None, Query(ge=32, le=3840)] = None,
) -> Response:
    _check_live_media(session, station, user, camera_id, MediaPurpose.SNAPSHOT)
    try:
        snapshot = live.snapshot(camera_id, stream, max_width=width)
    except SnapshotUnavailableError as exc:
        raise ApiError(
            503,
            "no_picture",
            "no picture from camera {camera} yet",
            params={"camera": camera_id},
            cause=str(exc),
            headers={"Retry-After": "2"},
        ) from exc
    except SnapshotDecodeError as exc:
        raise ApiError(
            502,
            "undecodable_picture",
            "the picture of camera {camera} cannot be decoded",
            params={"camera": camera_id},
            cause=str(exc),
        ) from exc
    audit_snapshot(session, station, user, camera_id, snapshot.stream)
    return Response(
        content=snapshot.jpeg,
        media_type="image/jpeg",
        headers={
            "Cache-Control": "private, max-age=1",
            "X-Frame-Time": snapshot.ts_utc.isoformat(),
            "X-Camera-Online": "1" if snapshot.online else "0",
        },
    )


def audit_snapshot(session: Session, station: Station, user: Principal, camera_id: str, stream: str) -> None:
    """A snapshot is live viewing too (the wall polls one every few seconds): ``live.snapshot`` is written
    for the first picture of a camera a user fetches, then at most once per throttle interval."""
    key = ("snapshot", str(user.user_id), camera_id)
    if station.audit_throttle.should_audit(key, time.monotonic()):
        audit_as(
            session,
            user,
            action="live.snapshot",
            resource_type="camera",
            resource_id=camera_id,
            detail={"stream": stream, "every_s": station.audit_throttle.interval_s},
        )


@router.get("/api/live/stats", summary="Live sessions and passthrough counters")
async def get_live_stats(live: LiveDep, user: Viewer) -> LiveStatsPublic:
    return LiveStatsPublic.of(live.stats())
