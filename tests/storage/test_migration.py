"""Migrations: upgrade from empty on both backends, idempotent, and a newer database is refused."""

from __future__ import annotations

from datetime import timedelta

import pytest
from alembic import command
from sqlalchemy import Boolean, column, insert, inspect, select, table, text

from storage.database import Database
from storage.migration import (
    DatabaseTooNewError,
    alembic_config,
    current_revision,
    head_revision,
    is_up_to_date,
    upgrade_to_head,
)
from storage.model import ApiToken, Base, UTCDateTime, utcnow


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


def _migrate(database: Database, revision: str, *, down: bool = False) -> None:
    cfg = alembic_config(database.engine)
    with database.engine.begin() as connection:
        cfg.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(cfg, revision)


def test_0002_revokes_tokens_that_outlived_a_reset_or_a_disable(blank_database_url: str) -> None:
    """Tokens made before the user's last password change, or of a disabled user, were never revoked by
    0001-era code (finding 2 of issue 26): 0002 revokes them; the others get the default expiry."""
    db = Database(blank_database_url)
    try:
        _migrate(db, "0001")
        now = utcnow()
        users = table(
            "users",
            *(column(c) for c in ("id", "username", "role", "password_hash")),
            column("disabled", Boolean),
            column("created_at", UTCDateTime()),
            column("password_changed_at", UTCDateTime()),
        )
        tokens = table(
            "api_tokens",
            *(column(c) for c in ("id", "user_id", "name", "prefix", "token_hash")),
            column("created_at", UTCDateTime()),
            column("expires_at", UTCDateTime()),
            column("revoked_at", UTCDateTime()),
        )
        day = timedelta(days=1)
        with db.engine.begin() as connection:
            connection.execute(
                insert(users),
                [
                    {
                        "id": 1,
                        "username": "reset",
                        "role": "officer",
                        "password_hash": "x",
                        "disabled": False,
                        "created_at": now - 30 * day,
                        "password_changed_at": now - 2 * day,
                    },
                    {
                        "id": 2,
                        "username": "off",
                        "role": "officer",
                        "password_hash": "x",
                        "disabled": True,
                        "created_at": now - 30 * day,
                        "password_changed_at": now - 30 * day,
                    },
                    {
                        "id": 3,
                        "username": "fine",
                        "role": "officer",
                        "password_hash": "x",
                        "disabled": False,
                        "created_at": now - 30 * day,
                        "password_changed_at": now - 30 * day,
                    },
                ],
            )
            rows = [
                (1, "before reset", now - 10 * day, None),
                (1, "after reset", now - 1 * day, None),
                (2, "of disabled", now - 10 * day, now + 5 * day),
                (3, "no expiry", now - 10 * day, None),
                (3, "own expiry", now - 10 * day, now + 5 * day),
            ]
            connection.execute(
                insert(tokens),
                [
                    {
                        "id": i,
                        "user_id": u,
                        "name": n,
                        "prefix": "stn_x",
                        "token_hash": f"{i:064d}",
                        "created_at": c,
                        "expires_at": e,
                        "revoked_at": None,
                    }
                    for i, (u, n, c, e) in enumerate(rows, start=1)
                ],
            )
        _migrate(db, "0002")
        with db.session() as session:
            found = {t.name: t for t in session.scalars(select(ApiToken))}
        assert (found["before reset"].revoked_reason, found["of disabled"].revoked_reason) == (
            "password_reset",
            "user_disabled",
        )
        assert all(found[n].revoked_at is not None for n in ("before reset", "of disabled"))
        for name in ("after reset", "no expiry"):
            token = found[name]
            assert token.revoked_at is None and token.expires_at is not None
            assert abs((token.expires_at - now) / day - 90) < 0.01
        assert found["own expiry"].expires_at == now + 5 * day and found["own expiry"].revoked_at is None
        _migrate(db, "0001", down=True)
        assert "revoked_reason" not in {c["name"] for c in inspect(db.engine).get_columns("api_tokens")}
        assert upgrade_to_head(db.engine) == ("0001", head_revision())
    finally:
        db.dispose()
