"""Who may read or change complaints over the API, and the audit rows of complaint changes.

Shared by the complaint routes (:mod:`console.routes.complaint`, :mod:`console.routes.complaint_still`):
:data:`Reader` and :data:`Editor` are the dependencies that refuse (audited) a role without the right;
:func:`audit_complaint` writes a change's audit row; :func:`refuse_change` audits a refused change and
commits it before the refusal rolls the request back; :func:`audit_lock` writes an evidence lock's own row.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from console import complaint as rules
from console.deps import CurrentUser, Principal, SessionDep, audit_as, audit_route_denied, role_name
from console.error import ApiError
from console.i18n import Message
from storage.model import Complaint


def _deny(session: Session, request: Request, user: Principal, message: Message) -> ApiError:
    audit_route_denied(session, request, user, str(message))
    return ApiError(403, "forbidden", message)


def complaint_reader(request: Request, user: CurrentUser, session: SessionDep) -> Principal:
    if not rules.may_read(user.permissions):
        raise _deny(
            session,
            request,
            user,
            Message("the {role} role may not read complaints", role=role_name(user.role)),
        )
    return user


def complaint_editor(request: Request, user: CurrentUser, session: SessionDep) -> Principal:
    if not rules.may_edit(user.permissions):
        raise _deny(
            session,
            request,
            user,
            Message("the {role} role may not change complaints", role=role_name(user.role)),
        )
    return user


Reader = Annotated[Principal, Depends(complaint_reader)]
Editor = Annotated[Principal, Depends(complaint_editor)]


def audit_complaint(
    session: Session, user: Principal, action: str, complaint: Complaint, allowed: bool = True, **detail: Any
) -> None:
    """The audit row of an action on ``complaint`` (resource: the complaint's number)."""
    audit_as(
        session,
        user,
        action=action,
        allowed=allowed,
        resource_type="complaint",
        resource_id=complaint.number,
        detail=detail or None,
    )


def refuse_change(
    session: Session, user: Principal, action: str, complaint: Complaint, error: ApiError, **detail: Any
) -> ApiError:
    """Audit a refused change (``allowed=False``, with the refusal's code) and commit it: the error that
    follows rolls the request's session back, and the attempt must stay on record. Returns ``error``."""
    audit_complaint(session, user, action, complaint, allowed=False, code=error.code, **detail)
    session.commit()
    return error


def audit_lock(
    session: Session, user: Principal, action: str, complaint: Complaint, lock_id: int, **detail: Any
) -> None:
    """The lock's own audit row (``evidence.lock``, ``evidence.unlock``, ``evidence.lock_expiry``), next to
    the complaint's: an auditor can follow a lock by its id from creation to release."""
    audit_as(
        session,
        user,
        action=action,
        resource_type="evidence_lock",
        resource_id=str(lock_id),
        reason=f"complaint {complaint.number}",
        detail={"complaint": complaint.number, **detail},
    )
