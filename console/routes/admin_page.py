"""The admin's camera and station settings pages (``/admin/cameras``, ``/admin/settings``).

The pages carry only their translated texts; the cameras and settings come from their APIs
(:mod:`console.routes.camera_admin`, :mod:`console.routes.station_settings`) and every change goes back
through them.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from console.deps import LanguageDep, PageUser, StationDep, role_name
from console.error import ApiError
from console.page import render_page
from console.permission import may_open_page

pages = APIRouter(include_in_schema=False)


@pages.get("/admin/cameras")
def cameras_page(request: Request, station: StationDep, user: PageUser, language: LanguageDep) -> Response:
    if not may_open_page(user.permissions, "cameras"):
        raise ApiError(
            403, "forbidden", "the {role} role may not manage cameras", params={"role": role_name(user.role)}
        )
    return render_page(
        request, station, "cameras.html", language=language, user=user, context={"active": "cameras"}
    )


@pages.get("/admin/settings")
def settings_page(request: Request, station: StationDep, user: PageUser, language: LanguageDep) -> Response:
    if not may_open_page(user.permissions, "settings"):
        raise ApiError(
            403,
            "forbidden",
            "the {role} role may not change station settings",
            params={"role": role_name(user.role)},
        )
    return render_page(
        request, station, "settings.html", language=language, user=user, context={"active": "settings"}
    )
