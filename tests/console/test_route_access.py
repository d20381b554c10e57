"""Every route refuses anonymous requests, except the few that must be public.

The test walks the OpenAPI document and ``app.routes`` at run time, so routes added later by anyone are
covered without touching this file. A new public route must be added to PUBLIC on purpose.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIWebSocketRoute, iter_route_contexts
from fastapi.testclient import TestClient
from starlette.routing import BaseRoute, Mount, WebSocketRoute
from starlette.websockets import WebSocketDisconnect

# (method, path template) reachable without signing in
PUBLIC = {
    ("GET", "/api/health"),
    ("POST", "/api/auth/login"),
    ("GET", "/login"),
    ("POST", "/login"),
}
PUBLIC_MOUNTS = {"/static"}
# Machine endpoints outside /api that answer like the API (401, no login redirect): scrapers hold tokens.
MACHINE_PATHS = {"/metrics"}
PARAM = re.compile(r"\{([^}:]+)(?::[^}]+)?\}")


def concrete(path: str) -> str:
    return PARAM.sub("1", path)


def http_routes(app: FastAPI) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for path, item in app.openapi().get("paths", {}).items():
        found.update((method.upper(), path) for method in item if method != "parameters")
    for route in flat_routes(app):
        if isinstance(route.path, str) and route.methods:
            found.update((method, route.path) for method in route.methods if method != "HEAD")
    return found


def flat_routes(app: FastAPI) -> list[Any]:
    """Every route, with included routers flattened (FastAPI keeps them nested in ``app.routes``)."""
    return list(iter_route_contexts(app.routes))


def is_websocket(route: Any) -> bool:
    original: BaseRoute = route.original_route
    return isinstance(original, APIWebSocketRoute | WebSocketRoute)


def test_the_walk_sees_the_routes(console_app: FastAPI) -> None:
    routes = http_routes(console_app)
    assert ("GET", "/api/users") in routes and ("GET", "/") in routes and ("POST", "/logout") in routes
    assert len(routes) >= 12


def anonymous_leaks(client: TestClient) -> tuple[list[str], int]:
    """Routes that did not refuse an anonymous request, and how many routes were checked."""
    app = client.app
    assert isinstance(app, FastAPI)
    leaks: list[str] = []
    checked = 0
    for method, path in sorted(http_routes(app)):
        if (method, path) in PUBLIC:
            continue
        checked += 1
        response = client.request(method, concrete(path), json={}, follow_redirects=False)
        if path == "/api" or path.startswith("/api/") or path in MACHINE_PATHS:
            refused = (
                response.status_code == 401
                and response.json()["error"]["code"] == "not_authenticated"
                and response.headers.get("WWW-Authenticate") == "Bearer"
            )
        else:
            refused = response.status_code == 303 and response.headers["location"].startswith("/login?next=")
        if not refused:
            leaks.append(f"{method} {path} -> {response.status_code}")
    return leaks, checked


def test_every_route_refuses_anonymous_requests(console_client: TestClient) -> None:
    leaks, checked = anonymous_leaks(console_client)
    assert not leaks
    assert checked >= 8


def test_the_walk_catches_a_forgotten_dependency(console_app: FastAPI) -> None:
    @console_app.get("/api/forgotten")
    def forgotten() -> dict[str, str]:
        return {"oops": "open"}

    @console_app.get("/forgotten-page", include_in_schema=False)
    def forgotten_page() -> dict[str, str]:
        return {"oops": "open"}

    with TestClient(console_app) as client:
        leaks, _checked = anonymous_leaks(client)
    assert leaks == ["GET /api/forgotten -> 200", "GET /forgotten-page -> 200"]


def test_every_websocket_refuses_anonymous_connections(console_client: TestClient) -> None:
    app = console_client.app
    assert isinstance(app, FastAPI)
    for route in flat_routes(app):
        if is_websocket(route):
            with (
                pytest.raises(WebSocketDisconnect),
                console_client.websocket_connect(concrete(route.path)) as ws,
            ):
                ws.receive_text()


def test_only_known_mounts_are_public(console_app: FastAPI) -> None:
    mounts = {route.path for route in flat_routes(console_app) if isinstance(route.original_route, Mount)}
    assert mounts <= PUBLIC_MOUNTS, f"unexpected mount(s) {mounts - PUBLIC_MOUNTS}: protect them or list them"


def test_public_routes_answer_anonymously(console_client: TestClient) -> None:
    assert console_client.get("/api/health").status_code == 200
    assert console_client.get("/login").status_code == 200
    assert console_client.get("/static/css/console.css").status_code == 200
    assert console_client.get("/static/js/api.js").status_code == 200


def test_openapi_document_needs_a_user(console_client: TestClient) -> None:
    assert console_client.get("/api/openapi.json").status_code == 401
    assert console_client.get("/docs").status_code == 404
