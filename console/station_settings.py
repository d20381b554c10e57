"""The station settings an admin may change from the console, and which of them the running station takes
without a restart.

:class:`SettingsForm` is the form (same bounds as :mod:`config.schema`; unknown keys refused). Each setting
has its place in the config file (:data:`SETTING_PATHS`). :func:`plan_apply` (pure) splits a saved change
into what applies now (read per request or per retention pass from ``station.settings``) and what waits for
a restart (per-camera detection: its decoders and worker are built at start-up). :func:`apply_running`
(pure) returns the running config with the live settings of the saved file copied in; the cameras of the
running config are left alone, so pages never see a camera the station does not run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from config.schema import StationConfig


class SettingsForm(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    station_name: str | None = Field(default=None, min_length=1, max_length=120)
    language: Literal["ru", "kk", "en"] | None = None
    retention_days: int | None = Field(default=None, ge=1, le=3650)
    closed_case_retention_days: int | None = Field(default=None, ge=0, le=36500)
    export_retention_days: int | None = Field(default=None, ge=1, le=3650)
    idle_timeout_minutes: int | None = Field(default=None, ge=0, le=24 * 60)
    session_hours: float | None = Field(default=None, gt=0, le=24 * 30)
    live_views_per_user: int | None = Field(default=None, ge=1, le=32)
    complaint_due_hours: int | None = Field(default=None, ge=1, le=24 * 90)
    officer_recording_days: int | None = Field(default=None, ge=0, le=3650)
    reason_required_after_days: int | None = Field(default=None, ge=0, le=3650)
    detection: dict[str, bool] | None = Field(
        default=None, description="Camera id -> detection on/off (takes effect after a restart)"
    )


#: form field -> its (section, key) in the config file; all of these apply without a restart
SETTING_PATHS: Mapping[str, tuple[str, str]] = {
    "station_name": ("station", "name"),
    "language": ("console", "language"),
    "retention_days": ("recording", "retention_days"),
    "closed_case_retention_days": ("storage", "closed_case_retention_days"),
    "export_retention_days": ("console", "export_retention_days"),
    "idle_timeout_minutes": ("console", "idle_timeout_minutes"),
    "session_hours": ("console", "session_hours"),
    "live_views_per_user": ("console", "live_views_per_user"),
    "complaint_due_hours": ("console", "complaint_due_hours"),
    "officer_recording_days": ("console", "officer_recording_days"),
    "reason_required_after_days": ("console", "reason_required_after_days"),
}


def settings_values(config: StationConfig) -> dict[str, Any]:
    """The form's values as ``config`` has them."""
    values: dict[str, Any] = {}
    for name, (section, key) in SETTING_PATHS.items():
        value = getattr(getattr(config, section), key)
        values[name] = int(value) if isinstance(value, float) and value.is_integer() else value
    values["detection"] = {camera.id: camera.detection.enabled for camera in config.cameras}
    return values


@dataclass(frozen=True, slots=True)
class ApplyPlan:
    applied: tuple[str, ...]  # changed and in force now
    restart: tuple[str, ...]  # changed, saved, in force after a restart ("detection.<camera>")


def plan_apply(before: Mapping[str, Any], after: Mapping[str, Any]) -> ApplyPlan:
    """Which settings changed between two :func:`settings_values`, split by when they take effect."""
    applied = tuple(name for name in SETTING_PATHS if before.get(name) != after.get(name))
    old, new = before.get("detection") or {}, after.get("detection") or {}
    restart = tuple(f"detection.{camera}" for camera in new if old.get(camera) != new[camera])
    return ApplyPlan(applied, restart)


def pending_restart(running: StationConfig, saved: StationConfig) -> tuple[str, ...]:
    """Saved settings the running station does not use yet (it has to be restarted)."""
    running_cameras = {camera.id: camera for camera in running.cameras}
    return tuple(
        f"detection.{camera.id}"
        for camera in saved.cameras
        if camera.id in running_cameras
        and running_cameras[camera.id].detection.enabled != camera.detection.enabled
    )


def apply_running(running: StationConfig, saved: StationConfig, names: Iterable[str]) -> StationConfig:
    """``running`` with the settings ``names`` taken from ``saved`` (sections copied, then validated)."""
    sections: dict[str, dict[str, Any]] = {}
    for name in names:
        section, key = SETTING_PATHS[name]
        sections.setdefault(section, {})[key] = getattr(getattr(saved, section), key)
    update = {
        section: getattr(running, section).model_copy(update=values) for section, values in sections.items()
    }
    return running.model_copy(update=update)


def file_changes(
    form: SettingsForm, cameras: Iterable[str]
) -> tuple[dict[tuple[str, ...], Any], dict[str, bool]]:
    """The form as values to set by path, and the per-camera detection switches (for known cameras only)."""
    values: dict[tuple[str, ...], Any] = {}
    for name, path in SETTING_PATHS.items():
        value = getattr(form, name)
        if value is not None:
            values[path] = value
    known = set(cameras)
    detection = {camera: on for camera, on in (form.detection or {}).items() if camera in known}
    return values, detection
