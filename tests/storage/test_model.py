"""Column types and constraints that must hold on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, StatementError

from storage.database import Database
from storage.model import Camera, Gap, GapReason, User

ALMATY = timezone(timedelta(hours=5))


def test_naive_datetime_is_refused(database: Database) -> None:
    with pytest.raises(StatementError, match="naive datetime") as info, database.session() as session:
        session.add(Camera(id="cam-1", name="Cam", created_at=datetime(2024, 5, 1, 12, 0)))
        session.flush()
    assert isinstance(info.value.orig, ValueError)


def test_aware_datetime_round_trips_as_utc(database: Database) -> None:
    local = datetime(2024, 5, 1, 17, 30, 15, 123456, tzinfo=ALMATY)
    with database.session() as session:
        session.add(Camera(id="cam-1", name="Cam", created_at=local))
    with database.session() as session:
        stored = session.scalars(select(Camera.created_at)).one()
    assert stored == local
    assert stored.tzinfo == UTC
    assert stored == datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=UTC)


def test_datetime_comparisons_work_in_queries(database: Database) -> None:
    start = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    with database.session() as session:
        session.add(Camera(id="cam-1", name="Cam"))
        session.flush()
        for minutes in (0, 10, 20):
            session.add(
                Gap(
                    camera_id="cam-1",
                    start_utc=start + timedelta(minutes=minutes),
                    reason=GapReason.STREAM_STALLED.value,
                )
            )
    cutoff = (start + timedelta(minutes=5)).astimezone(ALMATY)
    with database.session() as session:
        later = session.scalars(select(Gap.start_utc).where(Gap.start_utc > cutoff).order_by(Gap.id)).all()
    assert later == [start + timedelta(minutes=10), start + timedelta(minutes=20)]


def test_foreign_keys_are_enforced(database: Database) -> None:
    with pytest.raises(IntegrityError), database.session() as session:
        session.add(Gap(camera_id="no-such-camera", start_utc=datetime.now(UTC), reason="stream_error"))
        session.flush()


def test_check_constraints_are_enforced(database: Database) -> None:
    with pytest.raises(IntegrityError), database.session() as session:
        session.add(User(username="x", role="superuser", password_hash="h"))
        session.flush()
