"""Notifications for the wall and overview pages: what needs someone's attention now.

Nothing is stored: every notification is a condition of the running station, computed when asked
(:func:`plan_notifications`, pure) and gone once the condition clears.

- ``camera_offline``: an enabled camera delivers nothing (offline, refused credentials, stalled, error; see
  ``NOT_DELIVERING``). Told to those who watch, search or manage cameras (:data:`CAMERA_PERMISSIONS`).
- ``recording_alarm``: footage is being lost or cannot be kept: the database does not answer, the disk is
  full, only evidence is left, retention failed, a camera's recorder raises an alarm. Told to the same users.
- ``complaint_overdue``: an open complaint past its due time (``due_at``, set from
  ``console.complaint_due_hours`` when it is registered; :func:`storage.complaint.is_overdue`). Told to
  ``complaints.edit``.
- ``events_pending``: detection events awaiting review. Told to ``events.review``.

Each notification has a stable ``key`` (the same condition keeps its key from one poll to the next, a new
one gets a new key: the newest pending event's id is part of ``events_pending``'s key), so the page can tell
what is new and play its sound only then. Texts are :class:`console.i18n.Message` values, translated when
the answer is written.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from console.health import CameraHealth
from console.i18n import Message
from console.overview import camera_cause
from console.permission import Permission
from console.station_status import NOT_DELIVERING, StatusReason

CAMERA_PERMISSIONS: Final = frozenset(
    {Permission.LIVE_VIEW, Permission.RECORDINGS_VIEW, Permission.CAMERAS_MANAGE}
)
"""Who hears of cameras that deliver nothing and of recording alarms: those who watch, search or fix them."""

OVERDUE_LISTED: Final = 5
"""Up to this many overdue complaints are listed one by one; more become one line with their count."""

OVERDUE_LIST_LINK: Final = "/complaints?overdue=1&mine=0"
"""The complaints list showing every overdue complaint, not only the user's (the list reads its filters
from the URL: ``static/js/complaints.js``)."""


class NotificationKind(StrEnum):
    CAMERA_OFFLINE = "camera_offline"
    RECORDING_ALARM = "recording_alarm"
    COMPLAINT_OVERDUE = "complaint_overdue"
    EVENTS_PENDING = "events_pending"


class NotificationLevel(StrEnum):
    ALARM = "alarm"  # footage is being lost
    WARNING = "warning"  # a deadline passed
    INFO = "info"  # something to look at


RECORDING_ALARMS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "database_down": "The database does not answer: new footage is not indexed.",
        "database_unreachable": "The database does not answer: new footage is not indexed.",
        "recording_stopped": "Recording stopped: the disk holds only footage kept as evidence.",
        "evidence_only_left": "The disk holds only footage kept as evidence: recording will stop.",
        "disk_full": "The recordings disk is full.",
        "disk_too_slow": "The recordings disk is too slow.",
        "disk_io_error": "The recordings disk fails to write: footage is being lost.",
        "recorder_error": "The recording cannot be written.",
        "unsupported_stream": "The camera's video format is not supported.",
        "retention_error": "Old footage could not be deleted: the disk may fill up.",
    }
)
"""Recording alarms by their code: the station status's (:mod:`console.station_status`) and, after
``recorder_``, a camera recorder's (``streams.recorder.RecorderStatus.alarm``): English msgids."""

RECORDING_FAILS: Final = "The recording fails."
CAMERA_ALARM: Final = "Camera {camera}: {problem}"
CAMERA_OFFLINE: Final = "Camera {camera} delivers no video."
COMPLAINT_OVERDUE: Final = "Complaint {number} is overdue."
COMPLAINTS_OVERDUE: Final = "Overdue complaints: {count}."
EVENTS_PENDING: Final = "Detection events awaiting review: {count}."
MESSAGES: Final = frozenset(
    {
        *RECORDING_ALARMS.values(),
        RECORDING_FAILS,
        CAMERA_ALARM,
        CAMERA_OFFLINE,
        COMPLAINT_OVERDUE,
        COMPLAINTS_OVERDUE,
        EVENTS_PENDING,
    }
)
"""Every text a notification shows (the catalogs must have them all; the camera causes of
:data:`console.overview.CAMERA_CAUSES` come as details)."""


@dataclass(frozen=True, slots=True)
class OverdueComplaint:
    id: int
    number: str
    due_at: datetime


@dataclass(frozen=True, slots=True)
class PendingEvents:
    count: int
    newest_id: int
    newest_at: datetime


@dataclass(frozen=True, slots=True)
class Notification:
    key: str
    kind: NotificationKind
    level: NotificationLevel
    message: Message
    link: str | None
    since: datetime | None = None
    detail: Message | None = None
    camera_id: str | None = None
    count: int | None = None


def _camera_notifications(
    cameras: Sequence[CameraHealth], permissions: Collection[Permission]
) -> list[Notification]:
    found = []
    for camera in cameras:
        if camera.status not in NOT_DELIVERING:
            continue
        cause = camera_cause(camera.detail)
        found.append(
            Notification(
                key=f"camera_offline:{camera.id}",
                kind=NotificationKind.CAMERA_OFFLINE,
                level=NotificationLevel.ALARM,
                message=Message(CAMERA_OFFLINE, camera=camera.name),
                link=f"/live?camera={camera.id}" if Permission.LIVE_VIEW in permissions else "/",
                since=camera.since,
                detail=Message(cause) if cause else None,
                camera_id=camera.id,
            )
        )
    return found


def _problem(code: str) -> Message:
    return Message(RECORDING_ALARMS.get(code, RECORDING_FAILS))


def _alarm_message(reason: StatusReason, names: Mapping[str, str]) -> Message | None:
    """The words for a recording alarm (pure); None for a status reason that is not one."""
    if reason.code.startswith("recorder_") and reason.camera_id is not None:
        camera = names.get(reason.camera_id, reason.camera_id)
        code = reason.code.removeprefix("recorder_")
        return Message(
            CAMERA_ALARM, camera=camera, problem=_problem(code if code in RECORDING_ALARMS else reason.code)
        )
    if reason.code in RECORDING_ALARMS:
        message = _problem(reason.code)
        if reason.camera_id is not None:
            return Message(
                CAMERA_ALARM, camera=names.get(reason.camera_id, reason.camera_id), problem=message
            )
        return message
    return None


def _alarm_notifications(reasons: Sequence[StatusReason], names: Mapping[str, str]) -> list[Notification]:
    found = []
    for reason in reasons:
        message = _alarm_message(reason, names)
        if message is None:
            continue
        found.append(
            Notification(
                key=f"recording_alarm:{reason.code}:{reason.camera_id or ''}",
                kind=NotificationKind.RECORDING_ALARM,
                level=NotificationLevel.ALARM,
                message=message,
                link="/",
                camera_id=reason.camera_id,
            )
        )
    return found


def _overdue_notifications(overdue: Sequence[OverdueComplaint], total: int) -> list[Notification]:
    if total > OVERDUE_LISTED or total > len(overdue):
        oldest = min((c.due_at for c in overdue), default=None)
        return [
            Notification(
                key=f"complaints_overdue:{total}",
                kind=NotificationKind.COMPLAINT_OVERDUE,
                level=NotificationLevel.WARNING,
                message=Message(COMPLAINTS_OVERDUE, count=total),
                link=OVERDUE_LIST_LINK,
                since=oldest,
                count=total,
            )
        ]
    return [
        Notification(
            key=f"complaint_overdue:{c.id}",
            kind=NotificationKind.COMPLAINT_OVERDUE,
            level=NotificationLevel.WARNING,
            message=Message(COMPLAINT_OVERDUE, number=c.number),
            link=f"/complaints/{c.id}",
            since=c.due_at,
        )
        for c in overdue
    ]


def _events_notification(pending: PendingEvents) -> Notification:
    return Notification(
        key=f"events_pending:{pending.newest_id}",
        kind=NotificationKind.EVENTS_PENDING,
        level=NotificationLevel.INFO,
        message=Message(EVENTS_PENDING, count=pending.count),
        link="/events",
        since=pending.newest_at,
        count=pending.count,
    )


def plan_notifications(
    *,
    permissions: Collection[Permission],
    cameras: Sequence[CameraHealth],
    reasons: Sequence[StatusReason],
    overdue: Sequence[OverdueComplaint] = (),
    overdue_total: int = 0,
    pending_events: PendingEvents | None = None,
) -> list[Notification]:
    """What ``permissions`` may be told, alarms first (pure). ``reasons`` are the station status's
    (:func:`console.station_status.assess_station`); ``overdue`` lists up to :data:`OVERDUE_LISTED` of the
    ``overdue_total`` overdue complaints."""
    found: list[Notification] = []
    if CAMERA_PERMISSIONS & frozenset(permissions):
        names = {camera.id: camera.name for camera in cameras}
        found += _alarm_notifications(reasons, names)
        found += _camera_notifications(cameras, permissions)
    if Permission.COMPLAINTS_EDIT in permissions and overdue_total:
        found += _overdue_notifications(overdue, overdue_total)
    if Permission.EVENTS_REVIEW in permissions and pending_events is not None and pending_events.count:
        found.append(_events_notification(pending_events))
    return found
