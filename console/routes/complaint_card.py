"""The printable complaint card (``/complaints/{id}/card``): an A4 page with the complaint, its history, the
attached footage with the hashes of its files and the exported packages' fingerprints, and signature lines.

Who may open it: whoever may open the complaint page. The reporter shows exactly as on the complaint page
(:func:`console.complaint_presenter.present`), and showing it is audited the same way
(``complaint.view_personal``, with ``view: card``).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from console.complaint_card import build_card
from console.deps import LanguageDep, PageUser, SessionDep, StationDep, audit_as, role_name
from console.error import ApiError
from console.page import render_page
from console.permission import may_open_page
from console.request_types import DbId
from storage.complaint import get_complaint
from storage.model import utcnow

pages = APIRouter(include_in_schema=False)


@pages.get("/complaints/{complaint_id}/card")
def complaint_card_page(
    complaint_id: DbId,
    request: Request,
    station: StationDep,
    session: SessionDep,
    user: PageUser,
    language: LanguageDep,
) -> Response:
    if not may_open_page(user.permissions, "complaints"):
        raise ApiError(
            403, "forbidden", "the {role} role may not read complaints", params={"role": role_name(user.role)}
        )
    complaint = get_complaint(session, complaint_id=complaint_id)
    card = build_card(session, complaint, user, key_fingerprint=station.key.fingerprint)
    if card.shows_personal_data:
        audit_as(
            session,
            user,
            action="complaint.view_personal",
            resource_type="complaint",
            resource_id=complaint.number,
            detail={"view": "card"},
        )
    return render_page(
        request,
        station,
        "complaint_card.html",
        language=language,
        user=user,
        context={"active": "complaints", "card": card, "printed_at": utcnow()},
    )
