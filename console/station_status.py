"""The station's overall status for ``/api/health`` and the officer's screen: ok, warning or degraded.

``degraded`` means footage is being lost or cannot be kept: the database is down, a camera that should be
recorded is not delivering or its recorder raises an alarm, or retention stopped recording or failed.
``warning`` means everything is recorded but something needs a look: retention deleted footage before its
retention period (the disk holds fewer days than configured), or a camera delivers with trouble (low
rate, broken packets, clock drift). A disk smaller than the retention target is a standing condition, not
an outage; before this split it kept the whole station "degraded" for as long as it lasted, which hid real
outages behind it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from console.health import CameraHealth, CameraStatus
from storage.retention import RetentionStatus


class StatusLevel(StrEnum):
    OK = "ok"
    WARNING = "warning"
    DEGRADED = "degraded"


#: Retention alarms that only warn: everything is still recorded (see the module text).
WARNING_ALARMS = frozenset({"footage_deleted_early"})
#: Camera states in which nothing is recorded from the camera.
NOT_DELIVERING = frozenset(
    {CameraStatus.OFFLINE, CameraStatus.UNAUTHORIZED, CameraStatus.STALLED, CameraStatus.ERROR}
)


@dataclass(frozen=True, slots=True)
class StatusReason:
    """One cause of a non-ok status; ``code`` is stable (the UI translates it), ``message`` is English."""

    level: StatusLevel
    code: str
    message: str
    camera_id: str | None = None


@dataclass(frozen=True, slots=True)
class StationStatus:
    level: StatusLevel
    reasons: tuple[StatusReason, ...]  # degraded ones first, then warnings; each group in input order


def assess_station(
    *,
    database_ok: bool,
    retention: RetentionStatus,
    cameras: Sequence[CameraHealth],
    recorder_alarms: Mapping[str, tuple[str, str | None]],
    detection_problems: Sequence[tuple[str, str, str | None]] = (),
) -> StationStatus:
    """The station's status from what each part reports (pure). ``recorder_alarms``: camera id -> the alarm
    its recorder raises and its last error (``streams.recorder.RecorderStatus.alarm``, ``.last_error``), for
    the cameras whose recorder raises one. ``detection_problems``: (code, message, camera id) of a stalled
    detector or a model that cannot be loaded; they warn."""
    reasons: list[StatusReason] = []
    if not database_ok:
        reasons.append(StatusReason(StatusLevel.DEGRADED, "database_down", "the database does not answer"))
    if retention.recording_stopped:
        reasons.append(
            StatusReason(
                StatusLevel.DEGRADED,
                "recording_stopped",
                "recording stopped: the disk holds only footage under evidence locks",
            )
        )
    for alarm in retention.alarms:
        level = StatusLevel.WARNING if alarm.code in WARNING_ALARMS else StatusLevel.DEGRADED
        reasons.append(StatusReason(level, alarm.code, alarm.message, alarm.camera_id))
    for camera in cameras:
        if camera.status is CameraStatus.DISABLED:
            continue
        if camera.status in NOT_DELIVERING:
            detail = f": {camera.detail}" if camera.detail else ""
            reasons.append(
                StatusReason(
                    StatusLevel.DEGRADED,
                    f"camera_{camera.status.value}",
                    f"{camera.name} is {camera.status.value}{detail}",
                    camera.id,
                )
            )
        elif camera.status is CameraStatus.DEGRADED:
            detail = f": {camera.detail}" if camera.detail else ""
            reasons.append(
                StatusReason(
                    StatusLevel.WARNING,
                    "camera_degraded",
                    f"{camera.name} delivers with trouble{detail}",
                    camera.id,
                )
            )
        recorder_alarm = recorder_alarms.get(camera.id)
        if recorder_alarm is not None:
            code, error = recorder_alarm
            detail = f": {error}" if error else ""
            reasons.append(
                StatusReason(
                    StatusLevel.DEGRADED,
                    code if code.startswith("recorder_") else f"recorder_{code}",
                    f"{camera.name}: recorder alarm {code}{detail}",
                    camera.id,
                )
            )
    for code, message, camera_id in detection_problems:
        # Detection never costs footage: its troubles only warn.
        reasons.append(StatusReason(StatusLevel.WARNING, code, message, camera_id))
    ordered = tuple(
        [r for r in reasons if r.level is StatusLevel.DEGRADED]
        + [r for r in reasons if r.level is StatusLevel.WARNING]
    )
    if not ordered:
        return StationStatus(StatusLevel.OK, ())
    return StationStatus(ordered[0].level, ordered)
