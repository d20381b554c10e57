"""``station db upgrade`` and ``station db current``: the database schema."""

from __future__ import annotations

import argparse
from typing import Any

from console.cli.common import add_config_argument, connect_database, database_errors, load_cli_settings
from storage.migration import check_not_newer, current_revision, head_revision, upgrade_to_head


def register(subparsers: Any) -> None:
    db = subparsers.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    upgrade = db_sub.add_parser(
        "upgrade", help="migrate the database to the newest schema (creates it if needed)"
    )
    add_config_argument(upgrade)
    upgrade.set_defaults(func=_upgrade)
    current = db_sub.add_parser("current", help="show the database's schema revision and the newest known")
    add_config_argument(current)
    current.set_defaults(func=_current)


def _name(revision: str | None) -> str:
    return revision if revision is not None else "none (empty database)"


@database_errors
def _upgrade(args: argparse.Namespace) -> int:
    database = connect_database(load_cli_settings(args))
    try:
        before, after = upgrade_to_head(database.engine)
    finally:
        database.dispose()
    print(f"database: {database.safe_url}")
    print(f"before: {_name(before)}")
    print(f"after: {after}")
    print("already up to date" if before == after else f"upgraded {_name(before)} -> {after}")
    return 0


@database_errors
def _current(args: argparse.Namespace) -> int:
    database = connect_database(load_cli_settings(args))
    try:
        print(f"database: {database.safe_url}")
        current = current_revision(database.engine)
        head = head_revision()
        print(f"current: {_name(current)}")
        print(f"head: {head}")
        check_not_newer(database.engine)  # raises with its explanation
    finally:
        database.dispose()
    print("up to date" if current == head else "upgrade needed: run 'station db upgrade'")
    return 0
