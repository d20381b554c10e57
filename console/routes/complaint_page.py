"""Complaint pages: the list with the registration form, and one complaint (the data comes from
:mod:`console.routes.complaint`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from console import complaint as rules
from console.deps import LanguageDep, PageUser, Principal, StationDep, role_name
from console.error import ApiError
from console.page import render_page
from console.permission import Permission, may_open_page
from console.request_types import DbId

pages = APIRouter(include_in_schema=False)


def _page_reader(user: Principal) -> None:
    if not may_open_page(user.permissions, "complaints"):
        raise ApiError(
            403, "forbidden", "the {role} role may not read complaints", params={"role": role_name(user.role)}
        )


@pages.get("/complaints")
def complaints_page(request: Request, station: StationDep, user: PageUser, language: LanguageDep) -> Response:
    _page_reader(user)
    return render_page(
        request,
        station,
        "complaints.html",
        language=language,
        user=user,
        context={"active": "complaints", "can_edit": rules.may_edit(user.permissions)},
    )


@pages.get("/complaints/{complaint_id}")
def complaint_page(
    complaint_id: DbId, request: Request, station: StationDep, user: PageUser, language: LanguageDep
) -> Response:
    _page_reader(user)
    return render_page(
        request,
        station,
        "complaint.html",
        language=language,
        user=user,
        context={
            "active": "complaints",
            "complaint_id": complaint_id,
            "can_edit": rules.may_edit(user.permissions),
            "can_export": user.can(Permission.EXPORTS_CREATE),
        },
    )
