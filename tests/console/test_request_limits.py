"""Values the database or ``datetime`` cannot hold are a 422 at the door, on SQLite and PostgreSQL alike
(issue 26, finding 9): ids and offsets past the ``integer`` column, times whose UTC conversion overflows, NUL
characters in any text (anonymous login included) and an uploaded file name longer than the audit column.
Before, each was a 500 with a traceback in the log."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from config.settings import Settings
from console.app import create_app
from console.request_types import DB_INT_MAX, check_utc_range
from storage.model import Role
from tests.support.console import make_user, running_station, sign_in

TOO_BIG = [DB_INT_MAX + 1, 2**63]
DB_INT_MIN = -(2**31)
FAR_FUTURE = "9999-12-31T23:59:59-14:00"  # aware, but its UTC time is past datetime.max


@pytest.fixture
def api(backend_settings: Settings, caplog: pytest.LogCaptureFixture) -> Iterator[TestClient]:
    """A supervisor and an admin's token; afterwards, nothing may have been logged with a traceback."""
    with (
        caplog.at_level(logging.WARNING),
        TestClient(create_app(backend_settings), raise_server_exceptions=False) as client,
    ):
        database = running_station(client).database
        make_user(database, "admin", Role.ADMIN)
        make_user(database, "sup", Role.SUPERVISOR)
        signed_in(client, "sup")
        yield client
    assert not [r for r in caplog.records if r.exc_info is not None or r.levelno >= logging.ERROR]


def signed_in(client: TestClient, username: str) -> None:
    client.cookies.clear()
    client.headers["X-CSRF-Token"] = sign_in(client, username)


def refused(response: httpx.Response, code: str = "validation_error") -> bool:
    """A 422 in the one error shape, with ``code``."""
    error = response.json()["error"] if response.status_code == 422 else {}
    return error.get("code") == code and bool(error.get("message"))


@pytest.mark.parametrize("value", TOO_BIG)
def test_ids_and_offsets_past_the_integer_column_are_refused(api: TestClient, value: int) -> None:
    for path in (
        f"/api/events/{value}",
        f"/api/complaints/{value}",
        f"/api/complaints/1/evidence/{value}",
        f"/api/exports/{value}",
        f"/api/recordings/segments/{value}?view=1",
        f"/api/recordings/segments/1?view={value}",
        f"/api/complaints?offset={value}",
        f"/api/complaints?assignee_id={value}",
    ):
        method = "DELETE" if "/evidence/" in path else "GET"
        assert refused(api.request(method, path)), path
    patch = api.patch("/api/complaints/1", json={"assignee_id": value})
    assert refused(patch)
    attach = {"camera_id": "entrance-1", "start": "2026-12-01T09:00:00Z", "end": "2026-12-01T09:10:00Z"}
    assert refused(api.post("/api/complaints/1/evidence", json={**attach, "event_id": value}))
    signed_in(api, "admin")
    assert refused(api.get(f"/api/users/{value}/tokens"))
    assert refused(api.delete(f"/api/users/1/tokens/{value}"))
    assert refused(api.delete(f"/api/tokens/{value}"))


def test_a_time_whose_utc_overflows_is_refused(api: TestClient) -> None:
    assert refused(api.get(f"/api/complaints?from={FAR_FUTURE}"))
    assert refused(api.get(f"/api/events?start={FAR_FUTURE}"))
    export = {"cameras": ["entrance-1"], "start": FAR_FUTURE, "end": FAR_FUTURE, "reason": "test"}
    assert refused(api.post("/api/exports", json=export))
    early = {**export, "start": "0001-01-01T00:00:00+14:00", "end": "2026-12-01T00:00:00Z"}
    assert refused(api.post("/api/exports", json=early))


def test_utc_range_check() -> None:
    now = datetime(2026, 12, 5, 12, tzinfo=UTC)
    assert check_utc_range(now) is now
    with pytest.raises(ValueError, match="out of range"):
        check_utc_range(datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-14))))
    with pytest.raises(ValueError, match="between"):
        check_utc_range(datetime(1, 1, 1, 12, tzinfo=UTC))


def test_nul_characters_are_refused_everywhere(api: TestClient) -> None:
    api.cookies.clear()
    anonymous = api.post("/api/auth/login", json={"username": "sup\u0000", "password": "x"})
    assert refused(anonymous, "nul_character")
    assert api.post("/login", data={"username": "sup\x00", "password": "x"}).status_code == 422
    signed_in(api, "sup")
    assert refused(api.get("/api/complaints?building=a%00b"), "nul_character")
    assert refused(api.get("/api/complaints", params={"q": "\x00"}), "nul_character")
    assert refused(api.get("/api/recordings/timeline?camera=a%00&start=x&end=y"), "nul_character")
    note = api.post("/api/complaints/1/notes", json={"note": "a\u0000b"})
    assert refused(note, "nul_character")
    # an escaped backslash before "u0000" is text, not a NUL: it reaches the route (no complaint 1: 404)
    body = rb'{"note": "a\\u0000"}'  # JSON for the text a, backslash, u0000
    escaped = api.post("/api/complaints/1/notes", content=body, headers={"Content-Type": "application/json"})
    assert escaped.status_code == 404, escaped.text
    assert api.get("/api/events/a%00b").status_code == 422


def test_a_long_uploaded_file_name_is_no_server_error(api: TestClient) -> None:
    name = "п" * 200 + ".zip"
    response = api.post("/api/evidence/verify", files={"package": (name, b"not a zip", "application/zip")})
    assert response.status_code == 422 and response.json()["error"]["code"] == "not_a_package"
    response = api.post("/api/evidence/verify", files={"package": ("a\x00b.zip", b"PK", "application/zip")})
    assert response.status_code < 500


def integer_schemas(document: dict[str, Any], schema: Any) -> Iterator[dict[str, Any]]:
    """Every integer (sub)schema of ``schema``, with ``$ref`` followed into the document's components."""
    if not isinstance(schema, dict):
        return
    if "$ref" in schema:
        yield from integer_schemas(document, document["components"]["schemas"][schema["$ref"].split("/")[-1]])
        return
    if schema.get("type") == "integer":
        yield schema
    for part in (*schema.get("anyOf", ()), *schema.get("oneOf", ()), *schema.get("allOf", ())):
        yield from integer_schemas(document, part)
    yield from integer_schemas(document, schema.get("items"))
    for value in schema.get("properties", {}).values():
        yield from integer_schemas(document, value)


def fits_the_database(schema: dict[str, Any]) -> bool:
    low, high = schema.get("minimum"), schema.get("maximum")
    return low is not None and high is not None and DB_INT_MIN <= low <= high <= DB_INT_MAX


def test_every_integer_a_request_carries_fits_the_database(console_app: FastAPI) -> None:
    """Ids, offsets and counts in paths, queries and bodies: bounded by DbId/DbOffset or smaller (a new
    route with a bare ``int`` fails here)."""
    document = console_app.openapi()
    unbounded: list[str] = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            schemas = [(p["name"], p["schema"]) for p in operation.get("parameters", [])]
            content = operation.get("requestBody", {}).get("content", {})
            schemas += [("body", media.get("schema")) for media in content.values()]
            for name, schema in schemas:
                unbounded += [
                    f"{method.upper()} {path} {name}: {found}"
                    for found in integer_schemas(document, schema)
                    if not fits_the_database(found)
                ]
    assert not unbounded, "\n".join(unbounded)
