"""Migrations: upgrade from empty on both backends, idempotent, and a newer database is refused."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text

from storage.database import Database
from storage.migration import (
    DatabaseTooNewError,
    current_revision,
    head_revision,
    is_up_to_date,
    upgrade_to_head,
)
from storage.model import Base


def test_upgrade_from_empty_creates_every_table(blank_database_url: str) -> None:
    db = Database(blank_database_url)
    try:
        assert current_revision(db.engine) is None
        before, after = upgrade_to_head(db.engine)
        assert (before, after) == (None, head_revision())
        assert current_revision(db.engine) == head_revision()
        tables = set(inspect(db.engine).get_table_names())
        assert set(Base.metadata.tables) <= tables
        assert "alembic_version" in tables
        assert is_up_to_date(db.engine)
    finally:
        db.dispose()


def test_upgrade_again_is_a_no_op(database: Database) -> None:
    head = head_revision()
    assert upgrade_to_head(database.engine) == (head, head)
    assert upgrade_to_head(database.engine) == (head, head)
    assert current_revision(database.engine) == head


def test_database_from_newer_software_is_refused(database: Database) -> None:
    with database.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    with pytest.raises(DatabaseTooNewError) as info:
        upgrade_to_head(database.engine)
    message = str(info.value)
    assert "9999_future" in message
    assert "newer than this Station Console" in message
    assert head_revision() in message
    with pytest.raises(DatabaseTooNewError):
        is_up_to_date(database.engine)
    # Refused means untouched.
    assert current_revision(database.engine) == "9999_future"


def test_too_new_error_is_a_runtime_error() -> None:
    assert issubclass(DatabaseTooNewError, RuntimeError)
