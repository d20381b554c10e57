"""The zone and mask editor page for admins (``/admin/zones``).

The page carries only the camera list and the translated texts; the zones, masks and the picture to draw on
come from the zones API (:mod:`console.routes.zone`), and Save puts them back through it.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from console.deps import LanguageDep, PageUser, StationDep, role_name
from console.error import ApiError
from console.page import render_page
from console.permission import may_open_page

pages = APIRouter(include_in_schema=False)


@pages.get("/admin/zones")
def zones_page(request: Request, station: StationDep, user: PageUser, language: LanguageDep) -> Response:
    if not may_open_page(user.permissions, "zones"):
        raise ApiError(
            403,
            "forbidden",
            "the {role} role may not edit detection zones",
            params={"role": role_name(user.role)},
        )
    config = station.settings.config
    return render_page(
        request,
        station,
        "zones.html",
        language=language,
        user=user,
        context={
            "active": "zones",
            "cameras": [{"id": camera.id, "name": camera.name} for camera in config.cameras],
            "editable": station.settings.config_path is not None,
        },
    )
