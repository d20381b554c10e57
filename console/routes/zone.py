"""The zone and mask editor's API (admins): a camera's detection zones and motion masks, read and saved.

``PUT /api/cameras/{id}/detection`` validates the zones and masks, writes them into the station's config
file (the whole new file validated first, replaced atomically, the previous one kept as ``.bak``:
:mod:`config.writer`) and applies them to the running detection from the camera's next frame, without a
restart. ``GET .../snapshot.jpg`` is the camera's current picture to draw on. Every save is audited.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel, Field

from config.error import ConfigError
from config.schema import CameraConfig, DetectionKind, MotionMask, Zone
from config.settings import apply_overrides
from config.writer import backup_path, edit_config_file, set_camera_detection_areas
from console.deps import Principal, SessionDep, StationDep, audit_as, require
from console.error import ApiError
from console.permission import Permission
from console.station import Station
from streams.snapshot import SnapshotDecodeError

router = APIRouter(prefix="/api/cameras", tags=["zones"])
Admin = Annotated[Principal, require(Permission.CAMERAS_MANAGE)]


class CameraDetectionPublic(BaseModel):
    camera_id: str
    name: str
    enabled: bool
    kinds: list[DetectionKind]
    zones: list[Zone]
    masks: list[MotionMask]
    frame_width: int | None = Field(description="Width of the frames detection analyses, when known")
    frame_height: int | None
    editable: bool = Field(description="False when the station runs without a config file (the demo)")


class DetectionAreas(BaseModel):
    zones: list[Zone] = Field(default_factory=list, max_length=32)
    masks: list[MotionMask] = Field(default_factory=list, max_length=32)


class SavedAreas(CameraDetectionPublic):
    applied: bool = Field(description="True: running detection uses them now; False: from the next start")
    backup: str | None = Field(description="The previous config file, kept beside it")


def _camera(station: Station, camera_id: str) -> CameraConfig:
    try:
        return station.settings.config.camera(camera_id)
    except KeyError:
        raise ApiError(
            404, "unknown_camera", "no camera {camera} on this station", params={"camera": camera_id[:40]}
        ) from None


def _public(station: Station, camera: CameraConfig) -> CameraDetectionPublic:
    width = height = None
    if station.detection is not None:
        decoder = station.detection.decoders.get(camera.id)
        if decoder is not None and decoder.stats().width:
            width, height = decoder.stats().width, decoder.stats().height
    return CameraDetectionPublic(
        camera_id=camera.id,
        name=camera.name,
        enabled=camera.detection.enabled,
        kinds=list(camera.detection.kinds),
        zones=list(camera.detection.zones),
        masks=list(camera.detection.masks),
        frame_width=width,
        frame_height=height,
        editable=station.settings.config_path is not None,
    )


@router.get("/{camera_id}/detection", summary="A camera's detection zones and motion masks")
def get_areas(camera_id: str, station: StationDep, _admin: Admin) -> CameraDetectionPublic:
    return _public(station, _camera(station, camera_id))


@router.put("/{camera_id}/detection", summary="Save a camera's zones and masks to the config and apply them")
async def put_areas(
    camera_id: str, body: DetectionAreas, station: StationDep, session: SessionDep, admin: Admin
) -> SavedAreas:
    before = _camera(station, camera_id)
    path = station.settings.config_path
    if path is None:
        raise ApiError(
            409, "no_config_file", "this station runs without a config file; zones cannot be saved"
        )
    zones = [zone.model_dump(mode="json", exclude_defaults=True) for zone in body.zones]
    masks = [mask.model_dump(mode="json") for mask in body.masks]
    try:
        config = await to_thread.run_sync(
            lambda: edit_config_file(
                path, lambda data: set_camera_detection_areas(data, camera_id, zones=zones, masks=masks)
            )
        )
    except ConfigError as exc:
        raise ApiError(
            422, "invalid_config", "the config would be invalid: {report}", params={"report": exc.report()}
        ) from exc
    except OSError as exc:
        raise ApiError(
            500,
            "config_not_saved",
            "the config file could not be saved: {error}",
            params={"error": exc.strerror or str(exc)},
        ) from exc
    station.settings = replace(station.settings, config=apply_overrides(config, os.environ))
    camera = station.settings.config.camera(camera_id)
    applied = False
    if station.detection is not None:
        station.detection.settings = station.settings
        applied = station.detection.apply_camera(camera)
    audit_as(
        session,
        admin,
        action="camera.detection.update",
        resource_type="camera",
        resource_id=camera_id,
        detail={
            "zones_before": [z.name for z in before.detection.zones],
            "zones": [z.name for z in camera.detection.zones],
            "masks": len(camera.detection.masks),
            "applied": applied,
        },
    )
    public = _public(station, camera)
    return SavedAreas(**public.model_dump(), applied=applied, backup=str(backup_path(path)))


@router.get(
    "/{camera_id}/detection/snapshot.jpg",
    summary="The camera's current picture, to draw zones on",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}},
)
def get_picture(camera_id: str, station: StationDep, session: SessionDep, admin: Admin) -> Response:
    camera = _camera(station, camera_id)
    live = station.live
    if live is None:
        raise ApiError(503, "no_picture", "no picture from camera {camera} yet", params={"camera": camera.id})
    stream = "sub" if camera.sub_url else "main"
    try:
        snapshot = live.snapshot(camera.id, stream)
    except (LookupError, SnapshotDecodeError, RuntimeError) as exc:
        raise ApiError(
            503, "no_picture", "no picture from camera {camera} yet", params={"camera": camera.id}
        ) from exc
    audit_as(
        session,
        admin,
        action="camera.snapshot",
        resource_type="camera",
        resource_id=camera.id,
        reason="zone editor",
    )
    return Response(content=snapshot.jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})
