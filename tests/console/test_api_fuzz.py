"""A bounded fuzz run of the whole API with API tokens (issue 26, acceptance of finding 9).

Schemathesis generates requests from the app's own OpenAPI document, valid ones and invalid ones, for every
operation, signed in by the token of an admin (users, cameras) or a supervisor (everything else); each goes
to the real app (lifespan run, real database: SQLite, and PostgreSQL where it is installed). No answer may
be a 5xx and nothing may be logged with a traceback: a value the database or the code cannot take is a 4xx
in the one error shape.

The run is bounded and repeatable: a fixed number of examples per operation, derandomized (the same requests
every run), no example database, and a time budget per backend (:data:`BUDGET_S`) that the test checks.
Operations that never end (server-sent events) are left out, and requests that would lock a fuzzing user
out (its password, its token, it disabled) are skipped so the rest of the run still signs in.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from config.settings import Settings
from console.app import create_app
from storage.model import Role
from tests.support.console import make_user, running_station, sign_in

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

EXAMPLES_PER_MODE = 12  # per operation, for valid and for invalid requests each
# Each operation is fuzzed with the token of a role that may call it: the admin manages users and cameras,
# the supervisor does everything else (officer and investigator work).
FUZZ_ROLES = (Role.ADMIN, Role.SUPERVISOR)
ADMIN_PATHS = ("/api/users", "/api/cameras")
BUDGET_S = 90.0  # per backend; ~900 requests take 20-40 s on a 2-core machine
# Left out: a stream that never ends, and signing the fuzzer's own session out (it signs in by token).
LEFT_OUT = {("GET", "/api/events/stream"), ("POST", "/api/auth/logout")}
BASE_URL = "http://testserver"
COMPLAINT = {
    "received_at": "2026-12-01T10:00:00+05:00",
    "channel": "phone",
    "category": "littering",
    "building": "5",
    "incident_start": "2026-12-01T09:00:00+05:00",
    "incident_end": "2026-12-01T09:30:00+05:00",
}


@dataclass
class Fuzzer:
    """The app's client, the fuzzing users' tokens, and what the run found."""

    client: TestClient
    tokens: dict[Role, dict[str, str]]
    user_ids: set[int]
    token_ids: set[int]
    failures: list[str] = field(default_factory=list)
    requests: int = 0


def issue_token(client: TestClient, username: str, role: Role) -> tuple[int, int, str]:
    """A user of ``role`` and an API token of theirs: (user id, token id, secret)."""
    user_id = make_user(running_station(client).database, username, role)
    csrf = sign_in(client, username)
    created = client.post("/api/tokens", json={"name": "fuzz"}, headers={"X-CSRF-Token": csrf})
    assert created.status_code == 201, created.text
    client.cookies.clear()  # from here on only tokens: no session, no CSRF
    return user_id, created.json()["id"], created.json()["token"]


@pytest.fixture
def fuzzer(backend_settings: Settings) -> Iterator[Fuzzer]:
    app = create_app(backend_settings)
    # raise_server_exceptions=False: a 500 is an answer to count, not an exception in the test
    with TestClient(app, base_url=BASE_URL, raise_server_exceptions=False) as client:
        found = Fuzzer(client, tokens={}, user_ids=set(), token_ids=set())
        for role in FUZZ_ROLES:  # admin: users, tokens, cameras; supervisor: everything else
            user_id, token_id, secret = issue_token(client, f"fuzz-{role.value}", role)
            found.tokens[role] = {"Authorization": f"Bearer {secret}"}
            found.user_ids.add(user_id)
            found.token_ids.add(token_id)
        complaint = client.post("/api/complaints", json=COMPLAINT, headers=found.tokens[Role.SUPERVISOR])
        assert complaint.status_code == 201, complaint.text  # one to find: its routes get past the 404
        yield found


def openapi_schema(app: FastAPI) -> Any:
    return schemathesis.openapi.from_dict(app.openapi())


def locks_out_the_fuzzer(fuzzer: Fuzzer, path: str, parameters: dict[str, Any]) -> bool:
    """A request that would end a fuzzing user's access: its password, its tokens, it disabled."""
    if path.startswith("/api/users/{user_id}") and parameters.get("user_id") in fuzzer.user_ids:
        return True
    return path == "/api/tokens/{token_id}" and parameters.get("token_id") in fuzzer.token_ids


def send(fuzzer: Fuzzer, case: Any, headers: dict[str, str]) -> None:
    kwargs = case.as_transport_kwargs(base_url=BASE_URL, headers=headers)
    data = kwargs.pop("data", None)
    if isinstance(data, bytes | str):
        kwargs["content"] = data
    elif data is not None:
        kwargs["data"] = data
    kwargs.pop("cookies", None)  # only the token signs the fuzzer in
    response = fuzzer.client.request(**kwargs)
    fuzzer.requests += 1
    if response.status_code >= 500:
        fuzzer.failures.append(
            f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}\n"
            f"  {case.as_curl_command(headers=headers)}"
        )


def fuzz_operation(fuzzer: Fuzzer, operation: Any) -> None:
    headers = fuzzer.tokens[Role.ADMIN if operation.path.startswith(ADMIN_PATHS) else Role.SUPERVISOR]
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

        @given(operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES_PER_MODE,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],  # no shrinking: every failure is reported as found
            suppress_health_check=list(HealthCheck),
        )
        def one(case: Any) -> None:
            assume(not locks_out_the_fuzzer(fuzzer, operation.path, case.path_parameters or {}))
            send(fuzzer, case, headers)

        try:
            one()
        except Unsatisfiable:  # nothing to make invalid (no parameters, no body), or every case skipped
            continue


def test_fuzzing_the_api_with_a_token_finds_no_server_error(
    fuzzer: Fuzzer, caplog: pytest.LogCaptureFixture
) -> None:
    app = fuzzer.client.app
    assert isinstance(app, FastAPI)
    began = time.monotonic()
    operations = 0
    with caplog.at_level(logging.WARNING):
        for result in openapi_schema(app).get_all_operations():
            operation = result.ok()
            if (operation.method.upper(), operation.path) in LEFT_OUT:
                continue
            fuzz_operation(fuzzer, operation)
            operations += 1
    elapsed_s = time.monotonic() - began
    tracebacks = [r for r in caplog.records if r.exc_info is not None or r.levelno >= logging.ERROR]
    assert operations > 40 and fuzzer.requests > operations * EXAMPLES_PER_MODE
    assert not fuzzer.failures, f"{len(fuzzer.failures)} server error(s):\n" + "\n".join(fuzzer.failures)
    assert not tracebacks, "\n".join(f"{r.name}: {r.getMessage()}" for r in tracebacks)
    assert elapsed_s < BUDGET_S, f"fuzz run took {elapsed_s:.0f} s for {fuzzer.requests} requests"
