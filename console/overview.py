"""What the overview page (``/``) shows of the station's status, in words an officer reads.

:class:`console.station_status.StatusReason` carries a stable ``code`` and an English ``message`` for logs
and ``/api/health``. The page shows neither as they are: the template translates the code into a title,
and :func:`reason_views` adds the camera's cause (``connect_failed`` -> "the camera does not answer") as an
English msgid the template translates. The English message stays available as the technical detail
(a tooltip), never as the visible text, so a page in Kazakh shows no English sentence.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from console.health import CameraHealth
from console.station_status import StationStatus, StatusReason

REFRESH_S: Final = 15
"""How often the open overview page fetches its dynamic parts again."""

CAMERA_CAUSES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "connect_failed": "The camera does not answer: no network connection, or the camera is off.",
        "unauthorized": "The camera refused the user name or password.",
        "stalled": "The camera is connected but sends no picture.",
        "ended": "The camera closed the video stream.",
        "bad_format": "The camera sends no usable video.",
        "unsupported": "The camera's video format is not supported.",
        "config": "The camera's settings are wrong.",
        "error": "The camera's video cannot be received.",
        "low_fps": "The camera sends too few frames.",
        "corrupt_packets": "The camera sends damaged video.",
        "timestamps_backwards": "The camera's clock went back.",
        "timestamps_jump": "The camera's clock jumped.",
        "clock_slow": "The camera's clock runs slow.",
        "clock_fast": "The camera's clock runs fast.",
    }
)
"""Causes of a camera's trouble by the short reason its health detail starts with (``streams.error``
reasons, ``streams.health.assess_quality`` and ``streams.clock.ClockEvent`` values): English msgids."""


@dataclass(frozen=True, slots=True)
class ReasonView:
    """One reason as the page shows it: ``cause`` is an English msgid (or None), ``technical`` the English
    message, shown only on demand."""

    reason: StatusReason
    cause: str | None

    @property
    def technical(self) -> str:
        return self.reason.message


def cause_code(detail: str | None) -> str | None:
    """The short reason a health detail starts with (``"connect_failed: connection refused"`` ->
    ``"connect_failed"``), or None."""
    if not detail:
        return None
    code = detail.split(":", 1)[0].strip().lower()
    return code or None


def camera_cause(detail: str | None) -> str | None:
    """The msgid that explains a camera's health detail, or None for one we have no words for."""
    code = cause_code(detail)
    return None if code is None else CAMERA_CAUSES.get(code)


def reason_views(status: StationStatus | None, cameras: Sequence[CameraHealth]) -> tuple[ReasonView, ...]:
    if status is None:
        return ()
    details = {camera.id: camera.detail for camera in cameras}
    return tuple(
        ReasonView(
            reason,
            camera_cause(details.get(reason.camera_id))
            if reason.camera_id is not None and reason.code.startswith("camera_")
            else None,
        )
        for reason in status.reasons
    )
