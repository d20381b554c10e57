"""Fixtures for the streams tests (re-exported from tests/support)."""

from __future__ import annotations

from tests.support.database import database, postgres_template, sqlite_template  # noqa: F401
from tests.support.media import clip_cache, small_clip  # noqa: F401
from tests.support.postgres import postgres_server  # noqa: F401
from tests.support.rtsp_server import rtsp_server, rtsp_server_factory  # noqa: F401
