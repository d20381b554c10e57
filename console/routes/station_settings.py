"""Station settings (``settings.manage``): the settings an admin may change from the console
(:mod:`console.station_settings`), read from and saved to the config file.

A save validates the form (a translated message per field), writes the file through :mod:`config.writer`
(whole file validated, atomic replace, previous file kept as ``.bak``; a refused save leaves it as it was),
puts the settings that the running station reads per request or per retention pass in force at once, and
says which saved ones wait for a restart (detection on or off per camera). Every save is audited with the
values before and after.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Body, Request
from pydantic import BaseModel, Field, ValidationError

from config.error import ConfigError
from config.schema import StationConfig
from config.writer import backup_path, edit_config_file, set_values, update_camera
from console.deps import Principal, SessionDep, StationDep, audit_as, require
from console.error import ApiError
from console.field_error import field_messages, invalid_fields
from console.i18n import Message
from console.permission import Permission
from console.saved_config import saved_config
from console.station import Station
from console.station_settings import (
    SETTING_PATHS,
    SettingsForm,
    apply_running,
    file_changes,
    pending_restart,
    plan_apply,
    settings_values,
)
from storage.retention import RetentionSettings

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api/admin/settings", tags=["station settings"])
Admin = Annotated[Principal, require(Permission.SETTINGS_MANAGE)]
JsonBody = Annotated[dict[str, Any], Body()]


class StationSettingsPublic(BaseModel):
    values: dict[str, Any] = Field(description="The saved settings, by form field")
    cameras: dict[str, str] = Field(description="Camera id -> name, for the detection switches")
    restart_pending: list[str] = Field(description="Saved settings the running station does not use yet")
    editable: bool = Field(description="False when the station runs without a config file (the demo)")


class SavedSettings(StationSettingsPublic):
    applied: list[str] = Field(description="Changed settings in force now")
    restart_required: list[str] = Field(description="Changed settings in force after a restart")
    backup: str = Field(description="The previous config file, kept beside it")


def _saved_config(station: Station) -> StationConfig:
    return saved_config(station.settings)


def _public(station: Station, saved: StationConfig) -> StationSettingsPublic:
    return StationSettingsPublic(
        values=settings_values(saved),
        cameras={camera.id: camera.name for camera in saved.cameras},
        restart_pending=list(pending_restart(station.settings.config, saved)),
        editable=station.settings.config_path is not None,
    )


def apply_live(station: Station, saved: StationConfig, names: tuple[str, ...]) -> None:
    """Put the settings ``names`` of ``saved`` in force in the running station."""
    if not names:
        return
    config = apply_running(station.settings.config, saved, names)
    station.settings = replace(station.settings, config=config)
    retention = station.recording.retention
    retention.settings = RetentionSettings.from_config(config, interval_s=retention.settings.interval_s)
    if station.detection is not None:
        station.detection.settings = station.settings
        default = config.recording.retention_days
        station.detection.recorder.retention_days = {
            c.id: c.recording.retention_days or default for c in config.cameras
        }


@router.get("", summary="The station settings an admin may change here")
def get_settings(station: StationDep, _admin: Admin) -> StationSettingsPublic:
    return _public(station, _saved_config(station))


def _form(request: Request, body: dict[str, Any], cameras: set[str]) -> SettingsForm:
    try:
        form = SettingsForm.model_validate(body)
    except ValidationError as exc:
        raise invalid_fields(request, field_messages(exc)) from None
    unknown = {
        f"detection.{camera}": Message("no camera {camera} on this station", camera=camera[:40])
        for camera in (form.detection or {})
        if camera not in cameras
    }
    if unknown:
        raise invalid_fields(request, unknown)
    return form


@router.put("", summary="Save station settings to the config file and apply what the station can")
async def put_settings(
    request: Request, body: JsonBody, station: StationDep, session: SessionDep, admin: Admin
) -> SavedSettings:
    path = station.settings.config_path
    if path is None:
        raise ApiError(
            409, "no_config_file", "this station runs without a config file; settings cannot be saved here"
        )
    before_config = _saved_config(station)
    form = _form(request, body, {camera.id for camera in before_config.cameras})
    values, detection = file_changes(form, (camera.id for camera in before_config.cameras))

    def change(data: dict[str, Any]) -> None:
        set_values(data, values)
        for camera_id, enabled in detection.items():
            update_camera(data, camera_id, {"detection": {"enabled": enabled}})

    try:
        saved = await to_thread.run_sync(lambda: edit_config_file(path, change))
    except ConfigError as exc:
        by_path = {".".join(place): name for name, place in SETTING_PATHS.items()}
        fields = {
            by_path.get(problem.path, "_form"): Message("invalid value: {problem}", problem=problem.message)
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
    before, after = settings_values(before_config), settings_values(saved)
    plan = plan_apply(before, after)
    apply_live(station, saved, plan.applied)
    changed = [*plan.applied, *plan.restart]
    audit_as(
        session,
        admin,
        action="settings.update",
        resource_type="settings",
        resource_id="station",
        detail={
            "before": {name: _audit_value(before, name) for name in changed},
            "after": {name: _audit_value(after, name) for name in changed},
            "applied": list(plan.applied),
            "restart_required": list(plan.restart),
        },
    )
    logger.info(
        "station settings saved by %s: in force now %s, after a restart %s",
        admin.username,
        list(plan.applied),
        list(plan.restart),
    )
    public = _public(station, saved)
    return SavedSettings(
        **public.model_dump(),
        applied=list(plan.applied),
        restart_required=list(plan.restart),
        backup=str(backup_path(path)),
    )


def _audit_value(values: dict[str, Any], name: str) -> Any:
    if name.startswith("detection."):
        return values["detection"].get(name.removeprefix("detection."))
    return values.get(name)
