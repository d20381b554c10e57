"""The segment index on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from storage.database import Database
from storage.layout import segment_relative_path
from storage.model import SegmentStatus
from storage.segment import (
    SegmentClose,
    SegmentNotFoundError,
    bytes_by_camera,
    close_segment,
    discard_segment,
    find_segment,
    mark_segment_deleted,
    newest_segment,
    newest_segment_end_by_camera,
    open_segment,
    open_segments,
    recording_rates,
    segments_overlapping,
    update_segment_progress,
)

T0 = datetime(2025, 5, 1, 8, 0, tzinfo=UTC)


def _record(db: Database, camera: str, start: datetime, seconds: float, size: int) -> str:
    path = segment_relative_path(camera, start)
    with db.session() as session:
        open_segment(
            session, camera_id=camera, path=path, start_utc=start, codec="h264", width=640, height=360
        )
    with db.session() as session:
        end = start + timedelta(seconds=seconds)
        close_segment(
            session, path=path, close=SegmentClose(end, seconds, size, "ab" * 32, 6, clock_offset_s=0.25)
        )
    return path


def test_open_progress_close_round_trip(database: Database) -> None:
    path = segment_relative_path("cam-1", T0)
    with database.session() as session:
        row = open_segment(
            session, camera_id="cam-1", path=path, start_utc=T0, codec="h264", clock_offset_s=0.1
        )
        assert row.status == SegmentStatus.OPEN and row.end_utc == T0
    with database.session() as session:
        update_segment_progress(
            session, path=path, end_utc=T0 + timedelta(seconds=10), bytes_written=5000, keyframes=2
        )
    with database.session() as session:
        found = find_segment(session, path=path)
        assert found is not None and found.duration_s == 10.0 and found.bytes == 5000
        assert [s.path for s in open_segments(session, camera_id="cam-1")] == [path]
    with database.session() as session:
        close_segment(
            session, path=path, close=SegmentClose(T0 + timedelta(seconds=60.4), 60.4, 123456, "f" * 64, 7)
        )
    with database.session() as session:
        closed = find_segment(session, path=path)
        assert closed is not None
        assert (closed.status, closed.bytes, closed.sha256, closed.keyframes) == (
            "closed",
            123456,
            "f" * 64,
            7,
        )
        assert closed.end_utc == T0 + timedelta(seconds=60.4) and closed.end_utc.tzinfo is not None
        assert closed.clock_offset_s == 0.1
        # progress after close does not move a closed row
        update_segment_progress(session, path=path, end_utc=T0, bytes_written=1, keyframes=1)
        assert closed.bytes == 123456


def test_close_unknown_path_and_bad_status(database: Database) -> None:
    with database.session() as session, pytest.raises(SegmentNotFoundError):
        close_segment(session, path="cam-1/nope.mp4", close=SegmentClose(T0, 0, 0, "", 0))
    with database.session() as session, pytest.raises(ValueError, match="closed or recovered"):
        close_segment(session, path="x", close=SegmentClose(T0, 0, 0, "", 0), status=SegmentStatus.DELETED)


def test_queries_overlap_newest_bytes_rates(database: Database) -> None:
    a1 = _record(database, "cam-a", T0, 60, 1000)
    a2 = _record(database, "cam-a", T0 + timedelta(seconds=60), 60, 2000)
    b1 = _record(database, "cam-b", T0 + timedelta(seconds=30), 60, 500)
    with database.session() as session:
        found = segments_overlapping(
            session,
            camera_id="cam-a",
            start_utc=T0 + timedelta(seconds=59),
            end_utc=T0 + timedelta(seconds=61),
        )
        assert [s.path for s in found] == [a1, a2]
        assert (
            segments_overlapping(
                session,
                camera_id="cam-a",
                start_utc=T0 + timedelta(seconds=120),
                end_utc=T0 + timedelta(hours=1),
            )
            == []
        )
        with pytest.raises(ValueError, match="empty range"):
            segments_overlapping(session, camera_id="cam-a", start_utc=T0, end_utc=T0)
        newest = newest_segment(session, camera_id="cam-a")
        assert newest is not None and newest.path == a2
        assert newest_segment_end_by_camera(session) == {
            "cam-a": T0 + timedelta(seconds=120),
            "cam-b": T0 + timedelta(seconds=90),
        }
        assert bytes_by_camera(session) == {"cam-a": 3000, "cam-b": 500}
        assert recording_rates(session, since_utc=T0) == {"cam-a": (3000, 120.0), "cam-b": (500, 60.0)}
        row_a2 = find_segment(session, path=a2)
        assert row_a2 is not None
        mark_segment_deleted(session, segment_id=row_a2.id, at=T0 + timedelta(days=31))
    with database.session() as session:
        assert bytes_by_camera(session) == {"cam-a": 1000, "cam-b": 500}
        newest = newest_segment(session, camera_id="cam-a")
        assert newest is not None and newest.path == a1
        everything = segments_overlapping(
            session, camera_id="cam-a", start_utc=T0, end_utc=T0 + timedelta(hours=1), include_deleted=True
        )
        assert len(everything) == 2
        assert find_segment(session, path=b1) is not None


def test_discard_marks_an_empty_file_deleted(database: Database) -> None:
    path = segment_relative_path("cam-1", T0)
    with database.session() as session:
        open_segment(session, camera_id="cam-1", path=path, start_utc=T0)
    with database.session() as session:
        discard_segment(session, path=path, at=T0 + timedelta(seconds=3))
    with database.session() as session:
        row = find_segment(session, path=path)
        assert row is not None and row.status == "deleted" and row.bytes == 0
