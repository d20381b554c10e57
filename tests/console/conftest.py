"""Console tests: a real app with a SQLite data dir; account storage also runs on PostgreSQL."""

from __future__ import annotations

from tests.support.api_backend import backend_settings  # noqa: F401
from tests.support.console import console_app, console_client, console_settings  # noqa: F401
from tests.support.database import database, postgres_template, sqlite_template  # noqa: F401
from tests.support.postgres import postgres_server  # noqa: F401
from tests.support.station_media import media_station  # noqa: F401
