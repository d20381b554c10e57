"""Alembic environment: always run with a connection handed in by :mod:`storage.migration`."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from storage.model import Base


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


_connection = context.config.attributes.get("connection")
if _connection is None:
    raise RuntimeError("storage migrations run through storage.migration, which passes a connection")
run_migrations(_connection)
