"""Domain errors mapped once in :data:`console.error.DOMAIN_ERRORS` answer in the one error shape."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from console.complaint import ComplaintRuleError, TransitionError
from console.error import DOMAIN_ERRORS, ApiError, domain_api_error, install_error_handlers
from console.i18n import Message
from console.live import UnknownCameraError, UnknownSessionError

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
