"""One JSON error shape for every API error."""

from __future__ import annotations

from fastapi.testclient import TestClient

from storage.model import Role
from tests.support.console import make_user, running_station, sign_in


def error_of(response_json: object) -> dict[str, object]:
    assert isinstance(response_json, dict) and set(response_json) == {"error"}
    error = response_json["error"]
    assert isinstance(error, dict) and isinstance(error["code"], str) and isinstance(error["message"], str)
    return error


def test_401_404_405_422_share_the_shape(console_client: TestClient) -> None:
    assert error_of(console_client.get("/api/users").json())["code"] == "not_authenticated"
    assert error_of(console_client.get("/api/nothing-here").json())["code"] == "not_found"
    assert error_of(console_client.delete("/api/health").json())["code"] == "method_not_allowed"
    invalid = console_client.post("/api/auth/login", json={"username": ""})
    assert invalid.status_code == 422
    error = error_of(invalid.json())
    assert error["code"] == "validation_error"
    details = error["details"]
    assert isinstance(details, list) and {d["loc"] for d in details} == {"body.username", "body.password"}
    broken = console_client.post(
        "/api/auth/login", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert broken.status_code == 422 and error_of(broken.json())["code"] == "validation_error"


def test_path_parameter_validation_error(console_client: TestClient) -> None:
    make_user(running_station(console_client).database, "admin", Role.ADMIN)
    csrf = sign_in(console_client, "admin")
    response = console_client.patch("/api/users/abc", json={}, headers={"X-CSRF-Token": csrf})
    assert response.status_code == 422 and error_of(response.json())["code"] == "validation_error"
    missing = console_client.patch("/api/users/999", json={}, headers={"X-CSRF-Token": csrf})
    assert missing.status_code == 404 and error_of(missing.json())["code"] == "user_not_found"
