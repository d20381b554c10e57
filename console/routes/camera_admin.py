"""Camera administration (``cameras.manage``): list, add, edit, disable, enable or remove a camera, and try
a URL (and its sub-stream URL) before saving it.

Every change goes into the station's config file through :mod:`config.writer` (whole file validated,
atomic replace, previous file kept as ``.bak``); a refused change leaves the file as it was and answers 422
with a translated message per field (:mod:`console.field_error`). Cameras are connected at start-up, so a
saved camera change takes effect after a restart: the answers say so (``restart_required``), and the list
marks cameras whose saved settings differ from the running ones. Passwords never leave the station: URLs
are answered redacted, an edit that does not type a password keeps the stored one
(:mod:`console.camera_form`), and the audit log gets redacted URLs only.

Removing a camera takes it out of the config file only, like disabling it takes effect after a restart.
What was recorded stays, as in the VMSs this follows: the camera's database row (``in_config`` false after
the restart), its indexed footage (deleted by retention as before), its events, and its evidence (locks keep
holding; complaints keep their attached footage and can still export it). So a removal is never refused for
evidence locks or open complaints: the confirmation shows how many stay (``GET .../{id}/records``), the
answer and the audit entry (``camera.delete``, the redacted before-state) say it too.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import re
import threading
from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Body, Request
from pydantic import BaseModel, Field, ValidationError

from config.error import ConfigError
from config.schema import CameraConfig, StationConfig, Transport
from config.secret import camera_url
from config.writer import add_camera, backup_path, edit_config_file, remove_camera, update_camera
from console.camera_form import (
    CameraChange,
    CameraCreate,
    UrlTest,
    audit_view,
    camera_changes,
    camera_entry,
    check_stream_url,
    has_password,
    merge_password,
    public_url,
    stored_password,
    sub_stream_password,
)
from console.deps import Principal, SessionDep, StationDep, audit_as, require
from console.error import ApiError, request_translations
from console.field_error import FieldProblemError, field_messages, invalid_fields
from console.i18n import Message
from console.permission import Permission
from console.saved_config import saved_config
from console.station import Station
from storage.camera import camera_records
from storage.model import utcnow
from streams.probe import ProbeReason, ProbeResult, probe_stream

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api/admin/cameras", tags=["camera admin"])
Admin = Annotated[Principal, require(Permission.CAMERAS_MANAGE)]
JsonBody = Annotated[dict[str, Any], Body()]
PROBE_TIMEOUT_S = 6.0
MAX_PROBES = 2  # tests at once: each holds a worker thread (shared with every sync route) up to the timeout
_PROBES = threading.BoundedSemaphore(MAX_PROBES)
_CAMERA_PATH = re.compile(r"^cameras\[\d+\]\.")  # a config problem's place -> the form field

REASON_MESSAGES: dict[ProbeReason, Message] = {
    ProbeReason.REFUSED: Message("connection refused: nothing answers at this address and port"),
    ProbeReason.TIMEOUT: Message("no answer in time: check the address and that the camera is on"),
    ProbeReason.UNAUTHORIZED: Message("401 unauthorized: the camera refused the user name or password"),
    ProbeReason.NOT_FOUND: Message("the camera has no stream at this path"),
    ProbeReason.NO_VIDEO: Message("the stream has no usable video"),
    ProbeReason.NOT_H264: Message("the camera sends video that is not H.264: set its encoder to H.264"),
    ProbeReason.NO_PICTURE: Message("connected, but the picture could not be decoded"),
    ProbeReason.CONNECT_FAILED: Message("could not connect to the camera"),
}


class CameraAdminPublic(BaseModel):
    id: str
    name: str
    url: str = Field(description="Redacted: a password shows as ***")
    sub_url: str | None
    transport: Transport
    enabled: bool
    detection_enabled: bool
    has_password: bool
    location: dict[str, str | None]
    running: bool = Field(description="The running station has this camera")
    restart_pending: bool = Field(description="Saved settings differ from the running ones")


class RunningCamera(BaseModel):
    id: str
    name: str


class CameraList(BaseModel):
    cameras: list[CameraAdminPublic]
    editable: bool = Field(description="False when the station runs without a config file (the demo)")
    removed_running: list[RunningCamera] = Field(
        default_factory=list,
        description="Removed from the config file, still connected until the station restarts",
    )


class CameraRecordsPublic(BaseModel):
    """What the station keeps of a camera when it is removed from the config: all of it."""

    segments: int = Field(description="Indexed recording segments (deleted by retention as before)")
    active_locks: int = Field(description="Evidence locks in force (they keep holding)")
    open_complaints: int = Field(description="Open complaints with its footage attached (kept, exportable)")


class RemovedCamera(BaseModel):
    id: str
    restart_required: bool = Field(description="Removed from the file; connected until the station restarts")
    backup: str = Field(description="The previous config file, kept beside it")
    kept: CameraRecordsPublic = Field(
        description="Nothing recorded is deleted: footage, events, evidence stay"
    )


class SavedCamera(BaseModel):
    camera: CameraAdminPublic
    restart_required: bool = Field(description="Saved; the running station uses it after a restart")
    backup: str = Field(description="The previous config file, kept beside it")


class UrlTestResult(BaseModel):
    ok: bool
    reason: ProbeReason | None
    message: str = Field(description="In the request's language")
    codec: str | None
    width: int | None
    height: int | None
    fps: float | None
    snapshot: str | None = Field(description="The first picture, as a data: URL (JPEG)")
    elapsed_s: float
    sub_stream: UrlTestResult | None = Field(
        default=None, description="The sub-stream URL's result, when one was given"
    )


def _saved_config(station: Station) -> StationConfig:
    return saved_config(station.settings)


def _public(station: Station, camera: CameraConfig) -> CameraAdminPublic:
    running = {c.id: c for c in station.settings.config.cameras}.get(camera.id)
    return CameraAdminPublic(
        id=camera.id,
        name=camera.name,
        url=public_url(camera.url) or "",
        sub_url=public_url(camera.sub_url),
        transport=camera.transport,
        enabled=camera.enabled,
        detection_enabled=camera.detection.enabled,
        has_password=has_password(camera, station.settings.secrets),
        location=camera.location.model_dump(),
        running=running is not None,
        restart_pending=running != camera,
    )


def _config_path(station: Station) -> Any:
    path = station.settings.config_path
    if path is None:
        raise ApiError(
            409, "no_config_file", "this station runs without a config file; cameras cannot be saved here"
        )
    return path


def _form(request: Request, model: type[CameraChange] | type[UrlTest], body: dict[str, Any]) -> Any:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise invalid_fields(request, field_messages(exc)) from None


def _checked_url(field: str, submitted: str, typed: str | None, stored: str | None) -> str:
    if stored is not None and submitted == public_url(stored) and not typed:
        return stored  # sent back as shown: unchanged (a file:// camera of the demo stays editable)
    check_stream_url(field, submitted)
    return merge_password(field, submitted, typed, stored)


def _checked_urls(form: CameraChange, stored: CameraConfig | None) -> tuple[str | None, str | None]:
    url = sub_url = None
    if form.url is not None:
        url = _checked_url("url", form.url, form.password, stored.url if stored else None)
    if form.sub_url:
        typed = sub_stream_password(form.sub_url, form.password)
        sub_url = _checked_url("sub_url", form.sub_url, typed, stored.sub_url if stored else None)
    return url, sub_url


async def _save(request: Request, station: Station, change: Any) -> StationConfig:
    path = _config_path(station)
    try:
        return await to_thread.run_sync(lambda: edit_config_file(path, change))
    except ConfigError as exc:
        fields = {
            _CAMERA_PATH.sub("", problem.path) if _CAMERA_PATH.match(problem.path) else "_form": Message(
                "invalid value: {problem}", problem=problem.message
            )
            for problem in exc.problems
        }
        raise invalid_fields(request, fields) from exc
    except OSError as exc:
        raise ApiError(
            500,
            "config_not_saved",
            "the config file could not be saved: {error}",
            params={"error": exc.strerror or str(exc)},
        ) from exc


@router.get("", summary="The cameras in the config file (URLs redacted)")
def list_cameras(station: StationDep, _admin: Admin) -> CameraList:
    saved = _saved_config(station)
    in_file = {camera.id for camera in saved.cameras}
    return CameraList(
        cameras=[_public(station, camera) for camera in saved.cameras],
        editable=station.settings.config_path is not None,
        removed_running=[
            RunningCamera(id=camera.id, name=camera.name)
            for camera in station.settings.config.cameras
            if camera.id not in in_file
        ],
    )


def _saved_camera(station: Station, camera_id: str) -> CameraConfig:
    found = next((camera for camera in _saved_config(station).cameras if camera.id == camera_id), None)
    if found is None:
        raise ApiError(
            404, "unknown_camera", "no camera {camera} on this station", params={"camera": camera_id[:40]}
        )
    return found


def _records(session: SessionDep, camera_id: str) -> CameraRecordsPublic:
    records = camera_records(session, camera_id=camera_id, now=utcnow())
    return CameraRecordsPublic(
        segments=records.segments, active_locks=records.active_locks, open_complaints=records.open_complaints
    )


@router.get("/{camera_id}/records", summary="What the station keeps of a camera (shown before removing it)")
def get_camera_records(
    camera_id: str, station: StationDep, session: SessionDep, _admin: Admin
) -> CameraRecordsPublic:
    return _records(session, _saved_camera(station, camera_id).id)


@router.delete(
    "/{camera_id}",
    summary="Remove a camera from the config file (disconnected after a restart; its footage stays)",
    description="Takes the camera out of the config file (validated, atomic, previous file kept). It stays "
    "connected until the station restarts. Nothing recorded is deleted: the camera's database row, indexed "
    "footage (retention applies as before), events, evidence locks and complaint attachments stay, so the "
    "footage can still be found, played and exported; adding a camera with the same id again continues its "
    "history. Audited as `camera.delete` with the redacted before-state.",
)
async def delete_camera(
    camera_id: str, request: Request, station: StationDep, session: SessionDep, admin: Admin
) -> RemovedCamera:
    before = _saved_camera(station, camera_id)
    kept = _records(session, camera_id)
    await _save(request, station, lambda data: remove_camera(data, camera_id))
    audit_as(
        session,
        admin,
        action="camera.delete",
        resource_type="camera",
        resource_id=camera_id,
        detail={"before": audit_view(before), "after": None, "kept": kept.model_dump()},
    )
    logger.info(
        "%s: camera removed from the config by %s (disconnected after a restart; its footage stays)",
        camera_id,
        admin.username,
    )
    return RemovedCamera(
        id=camera_id, restart_required=True, backup=str(backup_path(_config_path(station))), kept=kept
    )


@router.post("", status_code=201, summary="Add a camera to the config file (connected after a restart)")
async def create_camera(
    request: Request, body: JsonBody, station: StationDep, session: SessionDep, admin: Admin
) -> SavedCamera:
    form: CameraCreate = _form(request, CameraCreate, body)
    saved = _saved_config(station)
    if any(camera.id == form.id for camera in saved.cameras):
        fields = {"id": Message("a camera with the id {camera} already exists", camera=form.id)}
        raise invalid_fields(request, fields)
    try:
        url, sub_url = _checked_urls(form, None)
    except FieldProblemError as problem:
        raise invalid_fields(request, {problem.field: problem.message}) from None
    entry = camera_entry(form, url or form.url, sub_url)
    config = await _save(request, station, lambda data: add_camera(data, entry))
    camera = config.camera(form.id)
    audit_as(
        session,
        admin,
        action="camera.create",
        resource_type="camera",
        resource_id=camera.id,
        detail={"before": None, "after": audit_view(camera)},
    )
    logger.info("%s: camera added to the config by %s (connected after a restart)", camera.id, admin.username)
    return SavedCamera(
        camera=_public(station, camera), restart_required=True, backup=str(backup_path(_config_path(station)))
    )


@router.patch("/{camera_id}", summary="Change, disable or enable a camera (in force after a restart)")
async def change_camera(
    camera_id: str, request: Request, body: JsonBody, station: StationDep, session: SessionDep, admin: Admin
) -> SavedCamera:
    form: CameraChange = _form(request, CameraChange, body)
    saved = _saved_config(station)
    before = next((camera for camera in saved.cameras if camera.id == camera_id), None)
    if before is None:
        raise ApiError(
            404, "unknown_camera", "no camera {camera} on this station", params={"camera": camera_id[:40]}
        )
    try:
        url, sub_url = _checked_urls(form, before)
    except FieldProblemError as problem:
        raise invalid_fields(request, {problem.field: problem.message}) from None
    changes = camera_changes(form, url, sub_url)
    config = await _save(request, station, lambda data: update_camera(data, camera_id, changes))
    camera = config.camera(camera_id)
    audit_as(
        session,
        admin,
        action="camera.update",
        resource_type="camera",
        resource_id=camera_id,
        detail={
            "before": audit_view(before),
            "after": audit_view(camera),
            "password_changed": stored_password(before.url) != stored_password(camera.url),
        },
    )
    logger.info(
        "%s: camera changed in the config by %s (in force after a restart)", camera_id, admin.username
    )
    return SavedCamera(
        camera=_public(station, camera),
        restart_required=camera != before,
        backup=str(backup_path(_config_path(station))),
    )


def _probe_urls(form: UrlTest, station: Station) -> tuple[str, str | None]:
    """The main and (when given) sub-stream URLs to try, with stored passwords put back."""
    stored = None
    if form.camera_id is not None:
        stored = next((c for c in _saved_config(station).cameras if c.id == form.camera_id), None)
    url = _checked_url("url", form.url, form.password, stored.url if stored else None)
    sub_url = None
    if form.sub_url:
        typed = sub_stream_password(form.sub_url, form.password)
        sub_url = _checked_url("sub_url", form.sub_url, typed, stored.sub_url if stored else None)
    if stored is not None and not form.password:
        # a password variable not set in this process: the URL is tried as it is
        with contextlib.suppress(ConfigError):
            url = camera_url(stored, url, secrets=station.settings.secrets)
        if sub_url is not None:
            with contextlib.suppress(ConfigError):
                sub_url = camera_url(stored, sub_url, secrets=station.settings.secrets)
    return url, sub_url


def _answer(request: Request, result: ProbeResult) -> UrlTestResult:
    translations = request_translations(request)
    if result.reason is not None:
        message = REASON_MESSAGES[result.reason]
    elif result.fps:
        message = Message(
            "connected: {codec}, {width}×{height}, {fps} fps",
            codec=(result.codec or "").upper(),
            width=result.width,
            height=result.height,
            fps=f"{result.fps:g}",
        )
    else:
        message = Message(
            "connected: {codec}, {width}×{height}",
            codec=(result.codec or "").upper(),
            width=result.width,
            height=result.height,
        )
    snapshot = None
    if result.jpeg is not None:
        snapshot = "data:image/jpeg;base64," + base64.b64encode(result.jpeg).decode("ascii")
    return UrlTestResult(
        ok=result.ok,
        reason=result.reason,
        message=message.translate(translations),
        codec=result.codec,
        width=result.width,
        height=result.height,
        fps=result.fps,
        snapshot=snapshot,
        elapsed_s=round(result.elapsed_s, 3),
    )


@router.post("/test", summary="Connect to a camera URL and answer its first picture and stream format")
async def test_url(
    request: Request, body: JsonBody, station: StationDep, session: SessionDep, admin: Admin
) -> UrlTestResult:
    form: UrlTest = _form(request, UrlTest, body)
    try:
        url, sub_url = _probe_urls(form, station)
    except FieldProblemError as problem:
        raise invalid_fields(request, {problem.field: problem.message}) from None
    transport = form.transport.value
    if not _PROBES.acquire(blocking=False):
        raise ApiError(
            429, "probe_busy", "other camera addresses are being tested; try again in a few seconds"
        )
    try:
        result = await to_thread.run_sync(
            lambda: probe_stream(url, transport=transport, timeout_s=PROBE_TIMEOUT_S)
        )
        sub_result = None
        if sub_url is not None:  # one after the other: a test holds one probe slot
            sub_result = await to_thread.run_sync(
                lambda: probe_stream(sub_url, transport=transport, timeout_s=PROBE_TIMEOUT_S)
            )
    finally:
        _PROBES.release()
    detail: dict[str, Any] = {
        "url": public_url(url),
        "ok": result.ok,
        "reason": result.reason.value if result.reason else None,
        "detail": result.detail,
    }
    if sub_result is not None:
        detail["sub_stream"] = {
            "url": public_url(sub_url),
            "ok": sub_result.ok,
            "reason": sub_result.reason.value if sub_result.reason else None,
            "detail": sub_result.detail,
        }
    audit_as(
        session,
        admin,
        action="camera.url_test",
        resource_type="camera",
        resource_id=form.camera_id or "-",
        detail=detail,
    )
    answer = _answer(request, result)
    if sub_result is not None:
        answer.sub_stream = _answer(request, sub_result)
    return answer
