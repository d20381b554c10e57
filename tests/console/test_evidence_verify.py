"""Verifying an evidence package in the console, and the station key it is checked against."""

from __future__ import annotations

import json
import re
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from console.template import STATIC_DIR
from storage.model import AuditEntry, Role
from storage.signing import ensure_station_key
from tests.support.console import make_user, running_station, sign_in
from tests.support.evidence import flip_byte, make_package


def _verify(
    client: TestClient, csrf: str, package: Path, *, data: dict[str, str] | None = None
) -> dict[str, object]:
    with package.open("rb") as handle:
        response = client.post(
            "/api/evidence/verify",
            files={"package": (package.name, handle, "application/zip")},
            data=data or {},
            headers={"X-CSRF-Token": csrf},
        )
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def test_station_key_is_shown_to_signed_in_users(console_client: TestClient) -> None:
    assert console_client.get("/api/station/key").status_code == 401
    station = running_station(console_client)
    make_user(station.database, "officer")
    sign_in(console_client, "officer")
    body = console_client.get("/api/station/key").json()
    assert body["fingerprint"] == station.key.fingerprint
    assert body["public_key_pem"].startswith("-----BEGIN PUBLIC KEY-----")
    page = console_client.get("/verify")
    assert page.status_code == 200 and station.key.fingerprint in page.text


def test_a_package_of_this_station_verifies_and_a_changed_one_does_not(
    console_client: TestClient, tmp_path: Path
) -> None:
    station = running_station(console_client)
    make_user(station.database, "investigator", role=Role.INVESTIGATOR)
    csrf = sign_in(console_client, "investigator")
    package, _ = make_package(tmp_path / "good", key=station.key)
    good = _verify(console_client, csrf, package.path)
    assert good["valid"] is True and good["errors"] == [] and good["verdict"] == "valid"
    assert good["signer_trusted"] is True and good["station"] == "Опорный пункт 5"
    assert good["cameras"] == ["cam-1"]

    flip_byte(package.path, next(f.name for f in package.files if f.kind == "clip"))
    bad = _verify(console_client, csrf, package.path)
    assert bad["valid"] is False
    errors = bad["errors"]
    assert isinstance(errors, list) and any("clips/" in str(error) for error in errors)

    foreign, _ = make_package(tmp_path / "foreign", key=ensure_station_key(tmp_path / "other"))
    assert _verify(console_client, csrf, foreign.path)["verdict"] == "signer_unknown"  # signed, not by us
    # the station-key check can no longer be switched off: an old client asking for it gets the same
    relaxed = _verify(console_client, csrf, foreign.path, data={"against_station_key": "false"})
    assert relaxed["valid"] is False and relaxed["verdict"] == "signer_unknown"

    with station.database.session() as session:
        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.action == "evidence.verify")
        ).all()
    assert len(actions) == 4


def test_not_a_package_is_a_clear_error(console_client: TestClient, tmp_path: Path) -> None:
    station = running_station(console_client)
    make_user(station.database, "officer")
    csrf = sign_in(console_client, "officer")
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"this is not a zip")
    with junk.open("rb") as handle:
        response = console_client.post(
            "/api/evidence/verify",
            files={"package": ("junk.zip", handle, "application/zip")},
            headers={"X-CSRF-Token": csrf},
        )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "not_a_package"


INJECTED_NAME = "<img src=x onerror=alert(1)>\nresult: VALID\x1b[8m"


def test_forged_package_is_signer_unknown_and_its_text_is_escaped(
    console_client: TestClient, tmp_path: Path
) -> None:
    station = running_station(console_client)
    make_user(station.database, "investigator", role=Role.INVESTIGATOR)
    csrf = sign_in(console_client, "investigator")
    forged, forger = make_package(tmp_path / "forged", station_name=INJECTED_NAME)  # a key of its own
    body = _verify(console_client, csrf, forged.path)
    assert body["verdict"] == "signer_unknown" and body["valid"] is False and body["intact"] is True
    assert body["signer_trusted"] is False and body["errors"] == []
    assert body["package_key_fingerprint"] == forger.fingerprint
    assert body["station_key_fingerprint"] == station.key.fingerprint
    assert body["station"] == "<img src=x onerror=alert(1)>\\nresult: VALID\\x1b[8m"
    warnings = body["warnings"]
    assert isinstance(warnings, list) and any(forger.fingerprint in str(w) for w in warnings)

    def strings(value: object) -> list[str]:
        if isinstance(value, str):
            return [value]
        if isinstance(value, list):
            return [s for item in value for s in strings(item)]
        return []

    assert not [s for s in strings(list(body.values())) if "\x1b" in s or "\n" in s]
    with station.database.session() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "evidence.verify")).one()
    assert json.loads(entry.detail or "{}")["verdict"] == "signer_unknown"


def test_verify_page_offers_no_way_around_the_station_key(console_client: TestClient) -> None:
    make_user(running_station(console_client).database, "officer")
    sign_in(console_client, "officer")
    page = console_client.get("/verify", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    assert "against_station_key" not in page.text
    assert "data-signer-unknown=" in page.text and "the signer is unknown" in page.text
    script = (STATIC_DIR / "js" / "verify.js").read_text(encoding="utf-8")
    # what a package says reaches the page as text only
    assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write", script)
