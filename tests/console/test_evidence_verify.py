"""Verifying an evidence package in the console, and the station key it is checked against."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from storage.model import AuditEntry, Role
from storage.signing import ensure_station_key
from tests.support.console import make_user, running_station, sign_in
from tests.support.evidence import flip_byte, make_package


def _verify(client: TestClient, csrf: str, package: Path, *, station_key: bool = True) -> dict[str, object]:
    with package.open("rb") as handle:
        response = client.post(
            "/api/evidence/verify",
            files={"package": (package.name, handle, "application/zip")},
            data={"against_station_key": "true" if station_key else "false"},
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
    assert good["valid"] is True and good["errors"] == []

    flip_byte(package.path, next(f.name for f in package.files if f.kind == "clip"))
    bad = _verify(console_client, csrf, package.path)
    assert bad["valid"] is False
    errors = bad["errors"]
    assert isinstance(errors, list) and any("clips/" in str(error) for error in errors)

    foreign, _ = make_package(tmp_path / "foreign", key=ensure_station_key(tmp_path / "other"))
    assert _verify(console_client, csrf, foreign.path)["valid"] is False  # signed, but not by us
    assert _verify(console_client, csrf, foreign.path, station_key=False)["valid"] is True

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
