"""Start-up: migrations, camera mirroring, refusing a newer database; shutdown closes the database."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from config.settings import Settings
from console.app import create_app
from storage.database import Database
from storage.migration import DatabaseTooNewError, head_revision
from storage.model import Camera
from streams.fanout import Fanout
from streams.ingest import IngestManager
from streams.recorder import Housekeeper, SegmentRecorder


def test_start_migrates_and_mirrors_cameras(console_settings: Settings) -> None:
    app = create_app(console_settings)
    with TestClient(app):
        pass
    database = Database(console_settings.db_url)
    try:
        with database.session() as session:
            assert (
                session.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
                == head_revision()
            )
            assert {row.id for row in session.scalars(select(Camera))} == {"entrance-1", "yard"}
    finally:
        database.dispose()
    assert not hasattr(app.state, "station")  # shutdown unwound the station


def test_refuses_a_database_from_a_newer_version(console_settings: Settings) -> None:
    with TestClient(create_app(console_settings)):
        pass
    database = Database(console_settings.db_url)
    with database.session() as session:
        session.execute(text("UPDATE alembic_version SET version_num = 'ffffffffffff'"))
    database.dispose()
    with (
        pytest.raises(DatabaseTooNewError, match="newer than this Station Console"),
        TestClient(create_app(console_settings)),
    ):
        pass


def test_first_start_tells_how_to_create_a_user(
    console_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("WARNING"), TestClient(create_app(console_settings)):
        pass
    assert "station user add NAME --role admin" in caplog.text


def test_recorders_listen_before_the_cameras_start(
    console_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A camera that connects at once must not publish its first packets before its recorder listens."""
    order: list[str] = []
    attach, start = SegmentRecorder.attach, IngestManager.start

    def attach_and_note(self: SegmentRecorder, fanout: Fanout, housekeeper: Housekeeper) -> None:
        order.append(f"attach {self.camera_id}")
        attach(self, fanout, housekeeper)

    def start_and_note(self: IngestManager) -> None:
        order.append("cameras start")
        start(self)

    monkeypatch.setattr(SegmentRecorder, "attach", attach_and_note)
    monkeypatch.setattr(IngestManager, "start", start_and_note)
    with TestClient(create_app(console_settings)):
        pass
    assert order == ["attach entrance-1", "cameras start"]
