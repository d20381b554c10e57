"""Schema migrations (Alembic), run on start and by ``station db upgrade``.

A database stamped with a revision this code does not know is newer than the code: it is refused rather than
touched, because running old code on a newer schema can lose data.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


class DatabaseTooNewError(RuntimeError):
    """The database was migrated by a newer Station Console than this one."""


def alembic_config(engine: Engine | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if engine is not None:
        # configparser interpolates '%': escape it (a password may contain one)
        url = engine.url.render_as_string(hide_password=False)
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError("no migrations found in " + str(MIGRATIONS_DIR))
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def known_revisions() -> set[str]:
    scripts = ScriptDirectory.from_config(alembic_config())
    return {rev.revision for rev in scripts.walk_revisions()}


def is_up_to_date(engine: Engine) -> bool:
    """True when the database is at the newest schema this code knows."""
    check_not_newer(engine)
    return current_revision(engine) == head_revision()


def check_not_newer(engine: Engine) -> None:
    """Raise :class:`DatabaseTooNewError` when the database carries a revision this code does not know."""
    current = current_revision(engine)
    if current is None:
        return
    if current not in known_revisions():
        raise DatabaseTooNewError(
            f"database schema revision {current} is newer than this Station Console "
            f"(which knows up to {head_revision()}); upgrade the software, do not downgrade the database"
        )


def upgrade_to_head(engine: Engine) -> tuple[str | None, str]:
    """Migrate to the newest schema; returns (revision before, revision after).

    Every pending revision runs in one transaction, DDL included, so a process killed mid-way leaves the
    database at the revision it had and the next start-up runs the whole upgrade again
    (:func:`begin_sqlite_transaction` makes that hold on SQLite too)."""
    check_not_newer(engine)
    before = current_revision(engine)
    cfg = alembic_config(engine)
    with engine.begin() as connection:
        begin_sqlite_transaction(connection)
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")
    return before, head_revision()


def begin_sqlite_transaction(connection: Connection) -> None:
    """Open the SQLite transaction now, with its write lock (``BEGIN IMMEDIATE``); nothing on PostgreSQL.

    Python's sqlite3 module (before 3.12's ``autocommit``) opens a transaction only before INSERT, UPDATE,
    DELETE and REPLACE: ``CREATE`` and ``ALTER TABLE`` outside one commit at once. A migration killed after
    its ``ALTER TABLE`` and before its data step left the new columns under the old revision, and the next
    start-up failed on "duplicate column name". Inside an explicit transaction the module adds no BEGIN of its
    own, and SQLAlchemy's commit and rollback end this one.
    """
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")
