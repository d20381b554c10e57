"""The web console on each database backend, for API tests that must hold on SQLite and PostgreSQL alike.

Expose the fixture from your test module (it looks up the PostgreSQL fixtures by name, so the module's
conftest must provide ``postgres_server`` and ``postgres_template``, as ``tests/console/conftest.py`` does)::

    from tests.support.api_backend import backend_settings  # noqa: F401

``backend_settings`` (function scope, parametrised ``[sqlite]`` / ``[postgresql]``) -> ``Settings``
    The console test station (:func:`tests.support.console.station_config`) with a data dir under
    ``tmp_path``; on ``postgresql`` its database is a fresh copy of the session's migrated template on the
    throwaway server, dropped afterwards. The ``postgresql`` variant carries the ``postgres`` marker.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from config.schema import StorageConfig
from config.settings import Settings
from tests.support.console import station_config
from tests.support.postgres import PostgresServer


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    config = station_config(tmp_path / "data")
    if request.param == "sqlite":
        yield Settings(config=config, config_path=None)
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    url = server.create_database(template=request.getfixturevalue("postgres_template"))
    storage = StorageConfig(data_dir=tmp_path / "data", db_url=url)
    try:
        yield Settings(config=config.model_copy(update={"storage": storage}), config_path=None)
    finally:
        name = make_url(url).database
        if name:
            server.drop_database(name)
