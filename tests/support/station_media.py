"""A running console with located cameras, users of every role and real recorded segments.

``media_station`` (function scope) -> :class:`MediaStation`: a started TestClient over a station whose
cameras have locations (building 5 entrance 1, building 5 bins, a shared parking camera, building 7
entrance 2), one user per role (password :data:`tests.support.console.DEFAULT_PASSWORD`), and helpers to put
real fragmented-MP4 segments (encoded by :mod:`tests.support.segments`) plus their index rows on disk.

Use ``station.login(role)`` to get a fresh client for that role. It authenticates with an API token made
directly in the database (no password hashing per test: argon2 is slow on a loaded machine); use
``station.browser_login(role)`` for a cookie session with its CSRF header.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from config.schema import (
    CameraConfig,
    ConsoleConfig,
    Location,
    StationConfig,
    StationInfo,
    StorageConfig,
)
from config.settings import Settings
from console.app import create_app
from console.credential import new_api_token, token_hash, token_prefix
from console.password import hash_password
from console.station import Station
from storage.api_token import create_api_token
from storage.model import Role
from storage.user import create_user
from tests.support.console import DEFAULT_PASSWORD, running_station, sign_in
from tests.support.segments import SegmentFile, insert_segment_rows, write_segment_set

CAMERAS = [
    CameraConfig(
        id="b5-e1",
        name="Дом 5, подъезд 1",
        url="rtsp://127.0.0.1:9/b5e1",
        enabled=False,
        location=Location(building="5", entrance="1", area="подъезд"),
    ),
    CameraConfig(
        id="b5-bins",
        name="Дом 5, контейнеры",
        url="rtsp://127.0.0.1:9/b5bins",
        enabled=False,
        location=Location(building="5", area="контейнерная площадка"),
    ),
    CameraConfig(
        id="parking",
        name="Парковка",
        url="rtsp://127.0.0.1:9/parking",
        enabled=False,
        location=Location(area="парковка"),
    ),
    CameraConfig(
        id="b7-e2",
        name="Дом 7, подъезд 2",
        url="rtsp://127.0.0.1:9/b7e2",
        enabled=False,
        location=Location(building="7", entrance="2"),
    ),
]
ROLES = {
    "officer": Role.OFFICER,
    "investigator": Role.INVESTIGATOR,
    "supervisor": Role.SUPERVISOR,
    "admin": Role.ADMIN,
    "auditor": Role.AUDITOR,
}


CLOSED_CASE_DAYS = 400  # not the default (365): tests see that the console reads the setting


def media_settings(data_dir: Path, **console: object) -> Settings:
    config = StationConfig(
        station=StationInfo(name="ЖК Media", timezone="Asia/Almaty"),
        storage=StorageConfig(data_dir=data_dir, closed_case_retention_days=CLOSED_CASE_DAYS),
        cameras=CAMERAS,
        console=ConsoleConfig.model_validate(
            {"officer_recording_days": 7, "reason_required_after_days": 1, **console}
        ),
    )
    return Settings(config=config, config_path=None)


@functools.cache
def password_hash() -> str:
    """The hash of DEFAULT_PASSWORD, computed once per test session."""
    return hash_password(DEFAULT_PASSWORD)


@dataclass
class MediaStation:
    app: FastAPI
    client: TestClient
    user_ids: dict[str, int] = field(default_factory=dict)
    _clients: list[TestClient] = field(default_factory=list)

    @property
    def station(self) -> Station:
        return running_station(self.client)

    @property
    def recordings_dir(self) -> Path:
        return self.station.settings.recordings_dir

    def login(self, username: str) -> TestClient:
        token = new_api_token()
        with self.station.database.session() as session:
            create_api_token(
                session,
                user_id=self.user_ids[username],
                name=f"test-{len(self._clients)}",
                prefix=token_prefix(token),
                token_hash=token_hash(token),
            )
        client = TestClient(self.app, base_url="http://testserver")
        self._clients.append(client)
        client.headers["Authorization"] = f"Bearer {token}"
        return client

    def browser_login(self, username: str) -> TestClient:
        client = TestClient(self.app, base_url="http://testserver")
        self._clients.append(client)
        client.headers["X-CSRF-Token"] = sign_in(client, username)
        return client

    def record(
        self,
        camera_id: str,
        start_utc: datetime,
        *,
        count: int,
        segment_s: float = 2.0,
        skip: tuple[int, ...] = (),
    ) -> list[SegmentFile]:
        """Encode ``count`` real segments from ``start_utc`` and index them (ids in ``.row_ids``)."""
        files = write_segment_set(
            self.recordings_dir, camera_id, start_utc, count=count, segment_s=segment_s, gop=25, skip=skip
        )
        with self.station.database.session() as session:
            insert_segment_rows(session, camera_id, files)
        return files

    def segment_ids(self, camera_id: str) -> list[int]:
        from sqlalchemy import select

        from storage.model import Segment

        with self.station.database.session() as session:
            return list(
                session.scalars(
                    select(Segment.id).where(Segment.camera_id == camera_id).order_by(Segment.start_utc)
                )
            )


@contextlib.contextmanager
def started_media_station(settings: Settings) -> Iterator[MediaStation]:
    """The console of ``settings`` started under a TestClient, with one user per role in :data:`ROLES`."""
    app = create_app(settings)
    with TestClient(app, base_url="http://testserver") as client:
        media = MediaStation(app=app, client=client)
        with running_station(client).database.session() as session:
            for username, role in ROLES.items():
                user = create_user(session, username=username, role=role, password_hash=password_hash())
                media.user_ids[username] = user.id
        try:
            yield media
        finally:
            for extra in media._clients:
                extra.close()


@pytest.fixture
def media_station(tmp_path: Path) -> Iterator[MediaStation]:
    app = create_app(media_settings(tmp_path / "data"))
    with TestClient(app, base_url="http://testserver") as client:
        media = MediaStation(app=app, client=client)
        database = running_station(client).database
        with database.session() as session:
            for username, role in ROLES.items():
                user = create_user(
                    session,
                    username=username,
                    role=role,
                    password_hash=password_hash(),
                    display_name=username.title(),
                )
                media.user_ids[username] = user.id
        try:
            yield media
        finally:
            for extra in media._clients:
                extra.close()
