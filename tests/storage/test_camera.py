"""Config cameras mirrored into the cameras table: insert, update, mark removed, never delete."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from config.schema import CameraConfig
from storage.camera import sync_cameras
from storage.database import Database
from storage.model import Camera, Segment


def _camera(camera_id: str, name: str = "Cam", **extra: object) -> CameraConfig:
    return CameraConfig.model_validate(
        {"id": camera_id, "name": name, "url": f"rtsp://10.0.0.1/{camera_id}", **extra}
    )


def _rows(database: Database) -> dict[str, Camera]:
    with database.session() as session:
        return {row.id: row for row in session.scalars(select(Camera)).all()}


def test_first_sync_inserts_every_camera(database: Database) -> None:
    cameras = [
        _camera("gate-1", "Gate", location={"building": "5", "entrance": "2", "floor": "1", "area": "yard"}),
        _camera("yard-1", "Yard", enabled=False),
    ]
    with database.session() as session:
        result = sync_cameras(session, cameras)
    assert result.added == ["gate-1", "yard-1"]
    assert (result.updated, result.removed) == ([], [])
    rows = _rows(database)
    assert (rows["gate-1"].building, rows["gate-1"].entrance, rows["gate-1"].area) == ("5", "2", "yard")
    assert rows["gate-1"].enabled and rows["gate-1"].in_config
    assert not rows["yard-1"].enabled


def test_resync_updates_changed_and_marks_removed_without_deleting(database: Database) -> None:
    with database.session() as session:
        sync_cameras(session, [_camera("gate-1", "Gate"), _camera("yard-1", "Yard")])
        session.add(
            Segment(
                camera_id="yard-1",
                start_utc=datetime(2024, 5, 1, tzinfo=UTC),
                end_utc=datetime(2024, 5, 1, 0, 1, tzinfo=UTC),
                path="yard-1/2024/05/01/000000.mp4",
            )
        )
    with database.session() as session:
        result = sync_cameras(session, [_camera("gate-1", "Gate (north)"), _camera("bins-1", "Bins")])
    assert (result.added, result.updated, result.removed) == (["bins-1"], ["gate-1"], ["yard-1"])
    rows = _rows(database)
    assert set(rows) == {"gate-1", "yard-1", "bins-1"}
    assert rows["gate-1"].name == "Gate (north)"
    assert not rows["yard-1"].in_config
    assert rows["gate-1"].in_config and rows["bins-1"].in_config


def test_unchanged_sync_changes_nothing_and_readding_revives_the_row(database: Database) -> None:
    cameras = [_camera("gate-1")]
    with database.session() as session:
        sync_cameras(session, cameras)
    with database.session() as session:
        assert sync_cameras(session, cameras).unchanged == ["gate-1"]
    with database.session() as session:
        assert sync_cameras(session, []).removed == ["gate-1"]
    with database.session() as session:
        again = sync_cameras(session, [])
    assert again.removed == []  # already marked
    with database.session() as session:
        revived = sync_cameras(session, cameras)
    assert revived.updated == ["gate-1"]
    assert _rows(database)["gate-1"].in_config
