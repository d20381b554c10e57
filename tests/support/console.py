"""Fixtures for testing the web console against a real app, a real SQLite file and real password hashing.

Expose them from your test folder's conftest::

    from tests.support.console import console_app, console_client, console_settings  # noqa: F401

``console_settings`` -> :class:`config.settings.Settings` with a data dir under ``tmp_path`` and two cameras
    whose URLs point at a closed loopback port.
``console_client`` -> a started :class:`fastapi.testclient.TestClient` (lifespan run: migrated database,
    cameras mirrored, catalogs loaded); ``client.app.state.station`` is the running ``Station``.

Helpers: :func:`make_user` creates a user directly in the database, :func:`sign_in` logs a client in through
``POST /api/auth/login`` and returns the CSRF token for state-changing requests.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from config.schema import CameraConfig, ConsoleConfig, StationConfig, StationInfo, StorageConfig
from config.settings import Settings
from console.app import create_app
from console.password import hash_password
from console.station import Station
from storage.database import Database
from storage.model import Role
from storage.user import create_user

DEFAULT_PASSWORD = "correct-horse-battery"


def station_config(data_dir: Path, **console: object) -> StationConfig:
    return StationConfig(
        station=StationInfo(name="ЖК Test", timezone="Asia/Almaty"),
        storage=StorageConfig(data_dir=data_dir),
        cameras=[
            CameraConfig(id="entrance-1", name="Подъезд 1", url="rtsp://127.0.0.1:9/unreachable"),
            CameraConfig(id="yard", name="Двор", url="rtsp://127.0.0.1:9/yard", enabled=False),
        ],
        console=ConsoleConfig.model_validate(console),
    )


@pytest.fixture
def console_settings(tmp_path: Path) -> Settings:
    return Settings(config=station_config(tmp_path / "data"), config_path=None)


@pytest.fixture
def console_app(console_settings: Settings) -> FastAPI:
    return create_app(console_settings)


@pytest.fixture
def console_client(console_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(console_app, base_url="http://testserver") as client:
        yield client


def running_station(client: TestClient) -> Station:
    app = client.app
    if not isinstance(app, FastAPI):
        raise TypeError("expected a FastAPI app")
    station = app.state.station
    if not isinstance(station, Station):
        raise TypeError("the app is not running")
    return station


def make_user(
    database: Database,
    username: str,
    role: Role = Role.OFFICER,
    password: str = DEFAULT_PASSWORD,
    *,
    display_name: str | None = None,
) -> int:
    with database.session() as session:
        user = create_user(
            session,
            username=username,
            role=role,
            password_hash=hash_password(password),
            display_name=display_name,
        )
        return user.id


def sign_in(client: TestClient, username: str, password: str = DEFAULT_PASSWORD) -> str:
    """Log in through the API; returns the CSRF token. Raises AssertionError when refused."""
    response = client.post("/api/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    token: str = response.json()["csrf_token"]
    return token
