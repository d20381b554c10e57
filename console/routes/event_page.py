"""The events page: the officer's review queue of detection events (``/events``).

The page itself carries only what the script needs to start (cameras and their places, the zones configured
for detection, the clip's pre- and post-roll, the user's rights); the list, the pictures, the clips and the
reviews come from the events API (:mod:`console.routes.event`), attaching to a complaint from the complaints
API (:mod:`console.routes.complaint`).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from config.schema import StationConfig
from console.deps import LanguageDep, PageUser, StationDep, role_name
from console.error import ApiError
from console.page import render_page
from console.permission import Permission, may_open_page

pages = APIRouter(include_in_schema=False)


def page_cameras(config: StationConfig) -> list[dict[str, Any]]:
    """The configured cameras with their places (for the camera filter and a new complaint's place)."""
    return [
        {
            "id": camera.id,
            "name": camera.name,
            "building": camera.location.building,
            "entrance": camera.location.entrance,
            "area": camera.location.area,
        }
        for camera in config.cameras
    ]


def detection_zones(config: StationConfig) -> list[str]:
    """Names of the zones configured on any camera (for the zone filter's suggestions)."""
    return sorted({zone.name for camera in config.cameras for zone in camera.detection.zones})


@pages.get("/events")
def events_page(request: Request, station: StationDep, user: PageUser, language: LanguageDep) -> Response:
    if not may_open_page(user.permissions, "events"):
        raise ApiError(
            403,
            "forbidden",
            "the {role} role may not see detection events",
            params={"role": role_name(user.role)},
        )
    config = station.settings.config
    return render_page(
        request,
        station,
        "events.html",
        language=language,
        user=user,
        context={
            "active": "events",
            "cameras": page_cameras(config),
            "zones": detection_zones(config),
            "can_review": user.can(Permission.EVENTS_REVIEW),
            "can_attach": user.can(Permission.COMPLAINTS_EDIT),
            "pre_s": config.detection.event_clip_pre_s,
            "post_s": config.detection.event_clip_post_s,
        },
    )
