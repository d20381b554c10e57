"""What CLI commands share: the ``--config`` option, and "load settings, open the migrated database".

Use it from a command module::

    def register(subparsers: Any) -> None:
        parser = subparsers.add_parser("users", help="...")
        add_config_argument(parser)
        parser.set_defaults(func=_list)

    @database_errors
    def _list(args: argparse.Namespace) -> int:
        settings, database = open_database(args)
        try:
            with database.session() as session:
                ...
        finally:
            database.dispose()
        return 0

The config is resolved like ``station run`` does it: ``--config PATH``, else ``$STATION_CONFIG``, else
``/etc/station/station.yaml``, with ``STATION_DATA_DIR`` / ``STATION_DB_URL`` applied. A bad config raises
:class:`config.error.ConfigError`, which ``station`` turns into its report and exit code 78.
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.exc import OperationalError

from config.error import ConfigError
from config.secret import redact_text
from config.settings import ENV_CONFIG, Settings, load_settings
from config.verify import verify_writable_dir
from storage.database import Database, DatabaseUrlError
from storage.migration import DatabaseTooNewError, current_revision, upgrade_to_head

EXIT_FAILURE = 1
EXIT_UNAVAILABLE = 69  # sysexits.h EX_UNAVAILABLE: the database cannot be reached

Handler = Callable[[argparse.Namespace], int]


class DatabaseNotReadyError(RuntimeError):
    """The database has no schema yet (never migrated)."""


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--config PATH`` (``-c``) to a command's parser."""
    parser.add_argument(
        "-c",
        "--config",
        type=Path,
        default=None,
        metavar="PATH",
        help=f"station config file (default: ${ENV_CONFIG}, else /etc/station/station.yaml)",
    )


def load_cli_settings(args: argparse.Namespace) -> Settings:
    """Settings from ``--config`` or the environment, as ``station run`` resolves them."""
    return load_settings(getattr(args, "config", None))


def prepare_data_dir(settings: Settings) -> None:
    """Create the data dir if needed; a dir that cannot be written is a :class:`ConfigError`."""
    problems = verify_writable_dir(
        settings.data_dir,
        label="storage.data_dir",
        source=settings.config_path.name if settings.config_path else "station.yaml",
    )
    if problems:
        raise ConfigError(problems)


def connect_database(settings: Settings) -> Database:
    """Create the data dir and open the database as it is (no migration)."""
    prepare_data_dir(settings)
    return Database(settings.db_url)


def open_database(args: argparse.Namespace, *, migrate: bool = True) -> tuple[Settings, Database]:
    """Load settings, create the data dir, open the database and (by default) migrate it to head.

    With ``migrate=False`` the schema is left as it is, but a database that was never migrated raises
    :class:`DatabaseNotReadyError`. The caller disposes the database.
    """
    settings = load_cli_settings(args)
    database = connect_database(settings)
    try:
        if migrate:
            upgrade_to_head(database.engine)
        elif current_revision(database.engine) is None:
            raise DatabaseNotReadyError(
                f"database {database.safe_url} has no schema yet: run 'station db upgrade' first"
            )
    except BaseException:
        database.dispose()
        raise
    return settings, database


def database_errors(handler: Handler) -> Handler:
    """Turn database failures into one clear line on stderr and an exit code (no traceback)."""

    @functools.wraps(handler)
    def _wrapped(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except (DatabaseTooNewError, DatabaseNotReadyError, DatabaseUrlError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_FAILURE
        except OperationalError as exc:
            print(f"error: cannot use the database: {redact_text(str(exc.orig))}", file=sys.stderr)
            return EXIT_UNAVAILABLE

    return _wrapped
