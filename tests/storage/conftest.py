"""Storage tests run against SQLite and a real PostgreSQL server (see tests/support/database.py)."""

from __future__ import annotations

from tests.support.database import (  # noqa: F401
    blank_database_url,
    database,
    postgres_template,
    sqlite_template,
)
from tests.support.postgres import postgres_server  # noqa: F401
