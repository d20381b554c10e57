"""Database fixtures for storage tests, on SQLite and on a real PostgreSQL server.

Expose them from your test folder's conftest (all four names: ``database`` looks up the templates and the
server by name)::

    from tests.support.database import (  # noqa: F401
        blank_database_url,
        database,
        postgres_template,
        sqlite_template,
    )
    from tests.support.postgres import postgres_server  # noqa: F401

Run one backend only with ``@pytest.mark.parametrize("database", ["sqlite"], indirect=True)``.

Fixtures
--------
``database`` (function scope, parametrised ``[sqlite]`` / ``[postgresql]``) -> ``storage.database.Database``
    A migrated, empty database of its own for each test: a SQLite file under ``tmp_path`` (WAL, foreign keys
    on) or a fresh PostgreSQL database on the session's throwaway server. Use ``database.session()`` to read
    and write; ``database.engine.dialect.name`` says which backend runs. Both are copied from a template
    migrated once per session, so a test costs milliseconds, not a migration.

``blank_database_url`` (function scope, same parametrisation) -> ``str``
    The URL of an empty, never-migrated database (for migration tests).

The ``postgresql`` variants carry the ``postgres`` marker (``-m "not postgres"`` runs SQLite only) and are
skipped only where no PostgreSQL binaries exist (see :mod:`tests.support.postgres`).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from storage.database import Database
from storage.migration import upgrade_to_head
from tests.support.postgres import PostgresServer

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]
TEMPLATE_DB = "station_template"


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once per session, copied for each test."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    database = Database(sqlite_url(path))
    upgrade_to_head(database.engine)
    database.dispose()  # closing the last connection checkpoints the WAL into the main file
    return path


@pytest.fixture(scope="session")
def postgres_template(postgres_server: PostgresServer) -> str:
    """A PostgreSQL database migrated to head once per session; tests clone it with CREATE ... TEMPLATE."""
    postgres_server.execute(f"CREATE DATABASE {TEMPLATE_DB}")
    database = Database(postgres_server.url(TEMPLATE_DB))
    upgrade_to_head(database.engine)
    database.dispose()  # a template must have no open connections when it is copied
    return TEMPLATE_DB


@contextmanager
def _fresh_url(request: pytest.FixtureRequest, tmp_path: Path, *, migrated: bool) -> Iterator[str]:
    backend: str = request.param
    if backend == "sqlite":
        path = tmp_path / "station.db"
        if migrated:
            shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield sqlite_url(path)
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    template = request.getfixturevalue("postgres_template") if migrated else None
    url = server.create_database(template=template)
    try:
        yield url
    finally:
        name = make_url(url).database
        if name:
            server.drop_database(name)


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated, empty :class:`Database` per test, on SQLite and on PostgreSQL."""
    with _fresh_url(request, tmp_path, migrated=True) as url:
        db = Database(url)
        try:
            yield db
        finally:
            db.dispose()


@pytest.fixture(params=BACKENDS)
def blank_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of an empty, never-migrated database, on SQLite and on PostgreSQL."""
    with _fresh_url(request, tmp_path, migrated=False) as url:
        yield url
