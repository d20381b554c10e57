"""Security headers: the pure choice, then on real answers of the app (pages, API, static files)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from config.schema import ConsoleConfig
from config.settings import Settings
from console.app import create_app
from console.security_headers import CONTENT_SECURITY_POLICY, security_headers
from tests.support.console import make_user, running_station, sign_in, station_config


def test_the_policy_allows_only_the_own_origin_and_no_framing() -> None:
    headers = dict(security_headers("/api/users", has_cache_control=False, hsts_seconds=0))
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    assert "frame-ancestors 'none'" in csp and "media-src 'self' blob:" in csp
    assert headers["X-Content-Type-Options"] == "nosniff" and headers["Referrer-Policy"] == "same-origin"
    assert headers["Cache-Control"] == "no-store" and "Strict-Transport-Security" not in headers
    static = dict(security_headers("/static/js/wall.js", has_cache_control=False, hsts_seconds=0))
    assert "Cache-Control" not in static
    own = dict(security_headers("/api/live/cameras/x/snapshot.jpg", has_cache_control=True, hsts_seconds=0))
    assert "Cache-Control" not in own  # the route chose its own
    hsts = dict(security_headers("/", has_cache_control=False, hsts_seconds=31536000))
    assert hsts["Strict-Transport-Security"] == "max-age=31536000"


def test_pages_api_and_static_files_carry_the_headers(console_client: TestClient) -> None:
    make_user(running_station(console_client).database, "ivanov")
    login_page = console_client.get("/login", headers={"Accept": "text/html"})
    assert login_page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert (
        login_page.headers["x-frame-options"] == "DENY" and login_page.headers["cache-control"] == "no-store"
    )
    assert "onerror=" not in login_page.text and "onsubmit=" not in login_page.text
    sign_in(console_client, "ivanov")
    me = console_client.get("/api/auth/me")
    assert me.headers["cache-control"] == "no-store" and me.headers["x-content-type-options"] == "nosniff"
    refused = console_client.get("/api/users")  # an error answer too
    assert refused.status_code == 403 and refused.headers["cache-control"] == "no-store"
    home = console_client.get("/", headers={"Accept": "text/html"})
    assert home.status_code == 200 and "onerror=" not in home.text
    script = console_client.get("/static/js/shell.js")
    assert script.status_code == 200 and "no-store" not in script.headers.get("cache-control", "")
    assert script.headers["x-content-type-options"] == "nosniff"


def test_no_template_has_inline_script_or_handlers() -> None:
    templates = Path(__file__).resolve().parents[2] / "console" / "templates"
    for template in templates.glob("*.html"):
        text = template.read_text(encoding="utf-8")
        assert " onsubmit=" not in text and " onerror=" not in text and " onclick=" not in text, template.name
        assert " style=" not in text, template.name
        for chunk in text.split("<script")[1:]:
            opening = chunk.split(">", 1)[0]
            assert "src=" in opening or 'type="application/json"' in opening, template.name


def test_hsts_is_sent_when_configured_and_needs_https(tmp_path: Path) -> None:
    config = station_config(tmp_path / "data", secure_cookies=True, hsts_seconds=600)
    with TestClient(create_app(Settings(config=config, config_path=None))) as client:
        assert client.get("/login").headers["strict-transport-security"] == "max-age=600"
    with pytest.raises(ValidationError, match="hsts_seconds needs secure_cookies"):
        ConsoleConfig(hsts_seconds=600)
