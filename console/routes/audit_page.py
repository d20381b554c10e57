"""The audit-log viewer for the auditor (``/audit``).

The page carries only the translated texts, the station's time zone and the actions the log holds (the
action filter's suggestions); the rows, the chain verification and the CSV export come from the audit API
(:mod:`console.routes.audit`), which also records each view.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from console.deps import LanguageDep, PageUser, SessionDep, StationDep, role_name
from console.error import ApiError
from console.page import render_page
from console.permission import may_open_page
from storage.audit import audit_actions

pages = APIRouter(include_in_schema=False)


@pages.get("/audit")
def audit_page(
    request: Request, station: StationDep, session: SessionDep, user: PageUser, language: LanguageDep
) -> Response:
    if not may_open_page(user.permissions, "audit"):
        raise ApiError(
            403,
            "forbidden",
            "the {role} role may not read the audit log",
            params={"role": role_name(user.role)},
        )
    actions = audit_actions(session)
    prefixes = sorted({action.split(".", 1)[0] + "." for action in actions if "." in action})
    return render_page(
        request,
        station,
        "audit.html",
        language=language,
        user=user,
        context={"active": "audit", "actions": prefixes + actions},
    )
