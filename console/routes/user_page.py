"""The users page for admins (``/admin/users``).

The page carries only the roles (with their translated names) and the translated texts; the users, their
API tokens and open sessions come from the users API (:mod:`console.routes.user`), and every change goes
back through it.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from console.deps import ROLE_LABELS, LanguageDep, PageUser, StationDep, role_name
from console.error import ApiError
from console.page import render_page
from console.permission import may_open_page
from storage.model import Role

pages = APIRouter(include_in_schema=False)


@pages.get("/admin/users")
def users_page(request: Request, station: StationDep, user: PageUser, language: LanguageDep) -> Response:
    if not may_open_page(user.permissions, "users"):
        raise ApiError(
            403,
            "forbidden",
            "the {role} role may not manage users",
            params={"role": role_name(user.role)},
        )
    gettext = station.catalogs.get(language).gettext
    roles = [{"value": role.value, "label": gettext(ROLE_LABELS[role.value])} for role in Role]
    return render_page(
        request,
        station,
        "users.html",
        language=language,
        user=user,
        context={"active": "users", "roles": roles},
    )
