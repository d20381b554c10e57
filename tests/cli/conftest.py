"""CLI tests: real config files, real SQLite files and the real PostgreSQL server; no STATION_* leaks."""

from __future__ import annotations

import pytest

from tests.support.database import (  # noqa: F401
    blank_database_url,
    database,
    postgres_template,
    sqlite_template,
)
from tests.support.media import clip_cache, small_clip  # noqa: F401
from tests.support.postgres import postgres_server  # noqa: F401
from tests.support.rtsp_server import rtsp_server_factory  # noqa: F401


@pytest.fixture(autouse=True)
def _clean_station_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("STATION_CONFIG", "STATION_DATA_DIR", "STATION_DB_URL"):
        monkeypatch.delenv(name, raising=False)
