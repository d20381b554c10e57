"""Gap rows: one open gap per camera, reasons kept, seconds per window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from storage.database import Database
from storage.gap import add_gap, close_gap, find_open_gap, gap_seconds, gaps_overlapping, open_gap
from storage.model import Gap, GapReason

T0 = datetime(2025, 5, 1, 8, 0, tzinfo=UTC)


def _gaps(db: Database) -> list[tuple[str, str, datetime, datetime | None]]:
    with db.session() as session:
        rows = session.scalars(select(Gap).order_by(Gap.start_utc, Gap.id)).all()
        return [(g.camera_id, g.reason, g.start_utc, g.end_utc) for g in rows]


def test_open_then_close(database: Database) -> None:
    with database.session() as session:
        open_gap(
            session, camera_id="cam-1", start_utc=T0, reason=GapReason.CAMERA_UNREACHABLE, detail="refused"
        )
    with database.session() as session:
        gap = find_open_gap(session, camera_id="cam-1")
        assert gap is not None and gap.detail == "refused"
        closed = close_gap(session, camera_id="cam-1", end_utc=T0 + timedelta(seconds=12))
        assert closed is not None
    assert _gaps(database) == [("cam-1", "camera_unreachable", T0, T0 + timedelta(seconds=12))]
    with database.session() as session:
        assert close_gap(session, camera_id="cam-1", end_utc=T0) is None  # nothing open: no-op


def test_same_reason_keeps_the_open_gap_other_reason_splits_it(database: Database) -> None:
    with database.session() as session:
        open_gap(session, camera_id="cam-1", start_utc=T0, reason=GapReason.STATION_STOPPED)
        open_gap(
            session, camera_id="cam-1", start_utc=T0 + timedelta(seconds=5), reason=GapReason.STATION_STOPPED
        )
        open_gap(
            session,
            camera_id="cam-1",
            start_utc=T0 + timedelta(seconds=9),
            reason=GapReason.CAMERA_UNREACHABLE,
        )
        open_gap(
            session,
            camera_id="cam-1",
            start_utc=T0 + timedelta(seconds=20),
            reason=GapReason.CAMERA_UNREACHABLE,
        )
        close_gap(session, camera_id="cam-1", end_utc=T0 + timedelta(seconds=30))
    assert _gaps(database) == [
        ("cam-1", "station_stopped", T0, T0 + timedelta(seconds=9)),
        ("cam-1", "camera_unreachable", T0 + timedelta(seconds=9), T0 + timedelta(seconds=30)),
    ]


def test_close_before_start_is_clamped(database: Database) -> None:
    with database.session() as session:
        open_gap(session, camera_id="cam-1", start_utc=T0, reason=GapReason.STREAM_STALLED)
        close_gap(session, camera_id="cam-1", end_utc=T0 - timedelta(seconds=1))
    assert _gaps(database)[0][3] == T0


def test_unknown_reason_refused(database: Database) -> None:
    with database.session() as session, pytest.raises(ValueError):
        open_gap(session, camera_id="cam-1", start_utc=T0, reason="gremlins")  # type: ignore[arg-type]


def test_gap_seconds_last_hour_and_day(database: Database) -> None:
    now = T0 + timedelta(hours=30)
    with database.session() as session:
        add_gap(
            session,
            camera_id="a",
            start_utc=now - timedelta(hours=2),
            end_utc=now - timedelta(minutes=50),
            reason=GapReason.CAMERA_UNREACHABLE,
        )
        add_gap(
            session,
            camera_id="a",
            start_utc=now - timedelta(days=3),
            end_utc=now - timedelta(days=2),
            reason=GapReason.DISK_FULL,
        )
        add_gap(
            session,
            camera_id="b",
            start_utc=now - timedelta(hours=25),
            end_utc=now - timedelta(hours=23),
            reason=GapReason.STREAM_STALLED,
        )
        open_gap(session, camera_id="c", start_utc=now - timedelta(minutes=10), reason=GapReason.UNAUTHORIZED)
        with pytest.raises(ValueError, match="before it starts"):
            add_gap(
                session,
                camera_id="a",
                start_utc=now,
                end_utc=now - timedelta(seconds=1),
                reason=GapReason.DISK_FULL,
            )
    with database.session() as session:
        hour = gap_seconds(session, since_utc=now - timedelta(hours=1), now_utc=now)
        day = gap_seconds(session, since_utc=now - timedelta(days=1), now_utc=now)
        overlapping = gaps_overlapping(
            session, camera_id="a", start_utc=now - timedelta(hours=3), end_utc=now
        )
    assert hour == pytest.approx({"a": 600.0, "c": 600.0})
    assert day == pytest.approx({"a": 4200.0, "b": 3600.0, "c": 600.0})
    assert [g.reason for g in overlapping] == ["camera_unreachable"]
