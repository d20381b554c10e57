"""The exports list (``/exports``): who built which evidence package and when, its fingerprint, and
"download again".

The page carries only the translated texts, the station's time zone and what the user may do; the rows come
from ``GET /api/exports`` and every download goes through ``GET /api/exports/{id}/download``, which audits it
(:mod:`console.routes.export`).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from console.deps import LanguageDep, PageUser, StationDep, role_name
from console.error import ApiError
from console.page import render_page
from console.permission import EXPORT_LIST_ALL_PERMISSIONS, Permission, may_open_page

pages = APIRouter(include_in_schema=False)


@pages.get("/exports")
def exports_page(request: Request, station: StationDep, user: PageUser, language: LanguageDep) -> Response:
    if not may_open_page(user.permissions, "exports"):
        raise ApiError(
            403,
            "forbidden",
            "the {role} role may not list evidence packages",
            params={"role": role_name(user.role)},
        )
    can_export = user.can(Permission.EXPORTS_CREATE)
    return render_page(
        request,
        station,
        "exports.html",
        language=language,
        user=user,
        context={
            "active": "exports",
            "can_export": can_export,
            "can_list_all": bool(EXPORT_LIST_ALL_PERMISSIONS & user.permissions),
            "default_scope": "mine" if can_export else "all",
        },
    )
