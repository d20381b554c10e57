"""Domain errors mapped once in :data:`console.error.DOMAIN_ERRORS` answer in the one error shape."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from console.complaint import ComplaintRuleError, TransitionError
from console.error import DOMAIN_ERRORS, ApiError, domain_api_error, install_error_handlers
from console.export_error import NothingToExportError
from console.i18n import Message
from console.live import OfferError, UnknownCameraError, UnknownSessionError, ViewerLimitError
from console.verify_worker import VerifyBusyError, VerifyCrashError, VerifyTimeoutError
from storage.complaint import ComplaintNotFoundError, EvidenceNotFoundError
from storage.event import EventNotFoundError, EventReviewError
from storage.evidence.error import PackageUnreadableError
from storage.user import UserNotFoundError

CASES = [
    (
        UnknownSessionError(Message("no live session {session}", session="abc")),
        404,
        "unknown_session",
        "no live session abc",
    ),
    (
        UnknownCameraError(Message("no camera {camera} on this station", camera="cam9")),
        404,
        "unknown_camera",
        "no camera cam9 on this station",
    ),
    (
        TransitionError("transition_not_allowed", Message("no change from {a}", a="new")),
        409,
        "transition_not_allowed",
        "no change from new",
    ),
    (
        TransitionError("outcome_required", Message("give the outcome")),
        422,
        "outcome_required",
        "give the outcome",
    ),
    (
        ComplaintRuleError("incident_in_future", Message("the incident cannot end in the future")),
        422,
        "incident_in_future",
        "the incident cannot end in the future",
    ),
]


@pytest.mark.parametrize(("exc", "status", "code", "message"), CASES)
def test_a_domain_error_becomes_its_api_error(exc: Exception, status: int, code: str, message: str) -> None:
    error = domain_api_error(exc)
    assert (error.status_code, error.code, error.detail, error.cause) == (status, code, message, None)


@pytest.mark.parametrize(("exc", "status", "code", "message"), CASES)
def test_a_route_that_lets_it_propagate_answers_in_the_error_shape(
    exc: Exception, status: int, code: str, message: str
) -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/api/fail")
    def fail() -> None:
        raise exc

    response = TestClient(app).get("/api/fail")
    assert response.status_code == status
    assert response.json() == {"error": {"code": code, "message": message, "message_en": message}}


def test_an_unregistered_error_is_refused() -> None:
    with pytest.raises(TypeError):
        domain_api_error(KeyError("x"))


def test_every_registered_family_subclasses_a_built_in() -> None:
    builtin = (ValueError, LookupError, OverflowError, OSError, RuntimeError, PermissionError)
    assert all(issubclass(cls, builtin) for cls in DOMAIN_ERRORS)
    assert not any(issubclass(cls, ApiError) for cls in DOMAIN_ERRORS)


# --- the families mapped once instead of in each route (issue 25) --------------------------------------

MAPPED = [
    (
        ViewerLimitError(Message("all {count} live views are taken", count=32)),
        503,
        "too_many_viewers",
        "all 32 live views are taken",
        None,
    ),
    (
        OfferError(Message("the offer has no video"), cause="no m=video line"),
        400,
        "bad_offer",
        "the offer has no video",
        "no m=video line",
    ),
    (ComplaintNotFoundError(7), 404, "complaint_not_found", "no complaint 7", None),
    (
        EvidenceNotFoundError(3, "2026-0007"),
        404,
        "evidence_not_found",
        "no footage 3 attached to complaint 2026-0007",
        None,
    ),
    (
        NothingToExportError("2026-0007"),
        409,
        "nothing_to_export",
        "complaint 2026-0007 has no attached footage",
        None,
    ),
    (EventNotFoundError(12), 404, "event_not_found", "no event 12", None),
    (
        EventReviewError("a dismissal needs a reason"),
        422,
        "review_reason_required",
        "a false alarm needs a reason",
        None,
    ),
    (UserNotFoundError("no user with id 9", user=9), 404, "user_not_found", "no user 9", None),
    (
        VerifyTimeoutError(30.4, package="evil\x1b.zip"),
        422,
        "verify_timeout",
        "checking evil\\x1b.zip took longer than 30 s and was stopped",
        None,
    ),
    (
        VerifyCrashError("the check ended without a report (exit status 9)", package="p.zip"),
        422,
        "verify_failed",
        "p.zip could not be checked to the end",
        "the check ended without a report (exit status 9)",
    ),
    (
        PackageUnreadableError("p.zip: no manifest.json: not an evidence package", package="p.zip"),
        422,
        "not_a_package",
        "p.zip is not a readable evidence package",
        "p.zip: no manifest.json: not an evidence package",
    ),
]


@pytest.mark.parametrize(("exc", "status", "code", "message", "cause"), MAPPED)
def test_each_family_answers_with_its_status_code_and_the_id_it_carries(
    exc: Exception, status: int, code: str, message: str, cause: str | None
) -> None:
    error = domain_api_error(exc)
    assert (error.status_code, error.code, error.detail, error.cause) == (status, code, message, cause)


def test_a_busy_verifier_says_when_to_come_back() -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/api/fail")
    def fail() -> None:
        raise VerifyBusyError(2)

    response = TestClient(app).get("/api/fail")
    assert response.status_code == 429 and response.headers["Retry-After"] == "60"
    assert (
        response.json()["error"]["message"] == "2 package checks are running already; try again in a minute"
    )
