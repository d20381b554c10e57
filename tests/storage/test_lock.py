"""Evidence locks: create, release, expiry, queries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from storage.database import Database
from storage.lock import (
    LockNotFoundError,
    active_locks,
    create_lock,
    locks_covering,
    release_lock,
    set_lock_expiry,
)

T0 = datetime(2025, 5, 1, 8, 0, tzinfo=UTC)


def test_create_query_release(database: Database) -> None:
    with database.session() as session:
        first = create_lock(
            session, camera_id="cam-1", start_utc=T0, end_utc=T0 + timedelta(minutes=5), reason=" case 12 "
        )
        second = create_lock(
            session,
            camera_id="cam-2",
            start_utc=T0,
            end_utc=T0 + timedelta(minutes=5),
            reason="case 13",
            expires_at=T0 + timedelta(days=365),
        )
        first_id, second_id = first.id, second.id
    with database.session() as session:
        spans = active_locks(session, now=T0)
        assert {s.lock_id for s in spans} == {first_id, second_id}
        assert [s.lock_id for s in active_locks(session, now=T0, camera_id="cam-1")] == [first_id]
        covering = locks_covering(
            session,
            camera_id="cam-1",
            start_utc=T0 + timedelta(minutes=5),
            end_utc=T0 + timedelta(minutes=6),
            now=T0,
        )
        assert [s.lock_id for s in covering] == [first_id]  # touching the end counts
        assert (
            locks_covering(
                session,
                camera_id="cam-1",
                start_utc=T0 + timedelta(minutes=6),
                end_utc=T0 + timedelta(minutes=7),
                now=T0,
            )
            == []
        )
        assert active_locks(session, now=T0 + timedelta(days=366), camera_id="cam-2") == []
    with database.session() as session:
        release_lock(session, lock_id=first_id, at=T0 + timedelta(days=1))
        release_lock(session, lock_id=first_id, at=T0 + timedelta(days=2))  # idempotent: first time kept
        set_lock_expiry(session, lock_id=second_id, expires_at=None)
    with database.session() as session:
        spans = active_locks(session, now=T0 + timedelta(days=400))
        assert [s.lock_id for s in spans] == [second_id]
        with pytest.raises(LockNotFoundError):
            release_lock(session, lock_id=999_999, at=T0)


@pytest.mark.parametrize("minutes", [0, -1])
def test_empty_range_refused(database: Database, minutes: int) -> None:
    with database.session() as session, pytest.raises(ValueError, match="empty"):
        create_lock(
            session, camera_id="cam-1", start_utc=T0, end_utc=T0 + timedelta(minutes=minutes), reason="x"
        )


def test_reason_required(database: Database) -> None:
    with database.session() as session, pytest.raises(ValueError, match="reason"):
        create_lock(session, camera_id="cam-1", start_utc=T0, end_utc=T0 + timedelta(minutes=1), reason="  ")
