"""A station that records two cameras of the real RTSP test server, and what its index holds of them."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select

from config.schema import CameraConfig, Location, RecordingConfig, StationConfig, StationInfo, StorageConfig
from storage.database import Database
from storage.model import Segment
from storage.segment import FINISHED_STATUSES
from tests.support.rtsp_server import RtspServer

SEGMENT_S = 2


def rtsp_station_config(data_dir: Path, server: RtspServer) -> StationConfig:
    """Entrance 1 of building 5 (mount cam1) and the yard of building 5 (cam2), 2 s segments."""
    return StationConfig(
        station=StationInfo(name="ЖК RTSP", timezone="Asia/Almaty"),
        storage=StorageConfig(data_dir=data_dir),
        recording=RecordingConfig(segment_seconds=SEGMENT_S),
        cameras=[
            CameraConfig(
                id="b5-e1",
                name="Дом 5, подъезд 1",
                url=server.url("cam1"),
                location=Location(building="5", entrance="1"),
            ),
            CameraConfig(
                id="b5-yard",
                name="Дом 5, двор",
                url=server.url("cam2"),
                location=Location(building="5", area="двор"),
            ),
        ],
    )


def closed_footage(
    database: Database, camera_id: str, since: datetime | None = None
) -> tuple[int, datetime | None, datetime | None]:
    """(closed and hashed segments, start of the first, end of the newest) of a camera, from the index."""
    query = select(func.count(), func.min(Segment.start_utc), func.max(Segment.end_utc)).where(
        Segment.camera_id == camera_id,
        Segment.status.in_(FINISHED_STATUSES),
        Segment.sha256.is_not(None),
    )
    if since is not None:
        query = query.where(Segment.start_utc >= since)
    with database.session() as session:
        count, first, newest = session.execute(query).one()
    return int(count), first, newest


def wait_for_footage(
    database: Database, camera_id: str, count: int, *, timeout_s: float, since: datetime | None = None
) -> tuple[datetime, datetime]:
    """Wait until ``count`` segments are closed; returns (start of the first, end of the newest)."""
    deadline = time.monotonic() + timeout_s
    while True:
        closed, first, newest = closed_footage(database, camera_id, since)
        if closed >= count and first is not None and newest is not None:
            return first, newest
        if time.monotonic() > deadline:
            raise AssertionError(f"{camera_id}: fewer than {count} closed segments after {timeout_s} s")
        time.sleep(0.3)
