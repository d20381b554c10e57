"""``station user add|list|passwd|disable|enable|token``: manage console accounts from the shell.

Passwords are never taken from the command line (it shows in ``ps`` and shell history): they are read from
an interactive prompt with confirmation, or from the first line of stdin when stdin is not a terminal::

    printf '%s\\n' "$PASSWORD" | station user add ivanov --role officer

Every change is written to the audit log with source ``cli`` and the operating-system user in its detail.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from datetime import timedelta
from typing import Any, TextIO

from console.account import Actor, add_user, change_disabled, change_password, issue_api_token
from console.cli.common import add_config_argument, database_errors, open_database
from console.password import WeakPasswordError
from storage.model import utcnow
from storage.user import UserExistsError, UserNotFoundError, get_user, list_users, parse_role

EXIT_FAILED = 1


class PasswordInputError(ValueError):
    """No usable password was given."""


def register(subparsers: Any) -> None:
    user = subparsers.add_parser("user", help="manage console users")
    actions = user.add_subparsers(dest="user_command", metavar="ACTION", required=True)

    add = actions.add_parser("add", help="create a user (password from a prompt or stdin)")
    add.add_argument("name", help="user name (latin letters, digits, . _ -)")
    add.add_argument(
        "--role", required=True, help="officer, investigator, supervisor, admin or auditor", type=str
    )
    add.add_argument("--display-name", help="full name shown in the console")
    add.set_defaults(func=_add)

    lst = actions.add_parser("list", help="list users")
    lst.add_argument("--json", action="store_true", help="machine-readable output")
    lst.set_defaults(func=_list)

    passwd = actions.add_parser("passwd", help="set a new password (ends the user's sessions)")
    passwd.add_argument("name")
    passwd.set_defaults(func=_passwd)

    disable = actions.add_parser("disable", help="disable a user; their sessions and tokens stop at once")
    disable.add_argument("name")
    disable.set_defaults(func=_disable, disabled=True)

    enable = actions.add_parser("enable", help="enable a disabled user")
    enable.add_argument("name")
    enable.set_defaults(func=_disable, disabled=False)

    token = actions.add_parser("token", help="create an API token for scripts (printed once)")
    token.add_argument("name", help="the user the token acts as")
    token.add_argument("--name", dest="token_name", required=True, help="what the token is for")
    token.add_argument("--expires-days", type=int, help="expire after this many days (default: never)")
    token.set_defaults(func=_token)

    for parser in (add, lst, passwd, disable, enable, token):
        add_config_argument(parser)


def cli_actor() -> Actor:
    try:
        os_user = getpass.getuser()
    except (OSError, KeyError):
        os_user = "unknown"
    return Actor(source="cli", detail={"os_user": os_user})


def read_new_password(stdin: TextIO | None = None) -> str:
    """Prompt twice on a terminal; otherwise read the first line of stdin."""
    stream = sys.stdin if stdin is None else stdin
    if stream.isatty():
        first = getpass.getpass("New password: ")
        second = getpass.getpass("Repeat the password: ")
        if first != second:
            raise PasswordInputError("the passwords do not match")
        password = first
    else:
        password = stream.readline().rstrip("\r\n")
    if not password:
        raise PasswordInputError("no password given (type it at the prompt or pipe it on stdin)")
    return password


def _fail(args: argparse.Namespace, message: str) -> int:
    print(f"station user {args.user_command}: error: {message}", file=sys.stderr)
    return EXIT_FAILED


@database_errors
def _add(args: argparse.Namespace) -> int:
    try:
        role = parse_role(args.role)
        password = read_new_password()
    except ValueError as exc:
        return _fail(args, str(exc))
    _settings, database = open_database(args)
    try:
        with database.session() as session:
            user = add_user(
                session,
                actor=cli_actor(),
                username=args.name,
                role=role,
                password=password,
                display_name=args.display_name,
            )
            created = f"user {user.username!r} created with role {user.role}"
    except (UserExistsError, WeakPasswordError, ValueError) as exc:
        return _fail(args, str(exc))
    finally:
        database.dispose()
    print(created)
    return 0


@database_errors
def _list(args: argparse.Namespace) -> int:
    _settings, database = open_database(args)
    try:
        with database.session() as session:
            users = list_users(session)
            rows = [
                {
                    "username": u.username,
                    "role": u.role,
                    "status": "disabled" if u.disabled else "active",
                    "display_name": u.display_name or "",
                    "created_at": u.created_at.isoformat(timespec="seconds"),
                    "last_login_at": u.last_login_at.isoformat(timespec="seconds") if u.last_login_at else "",
                }
                for u in users
            ]
    finally:
        database.dispose()
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    if not rows:
        print("no users (create one with: station user add NAME --role admin)")
        return 0
    columns = ("username", "role", "status", "display_name", "last_login_at")
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in columns}
    print("  ".join(c.upper().ljust(widths[c]) for c in columns).rstrip())
    for row in rows:
        print("  ".join(row[c].ljust(widths[c]) for c in columns).rstrip())
    return 0


@database_errors
def _passwd(args: argparse.Namespace) -> int:
    try:
        password = read_new_password()
    except ValueError as exc:
        return _fail(args, str(exc))
    _settings, database = open_database(args)
    try:
        with database.session() as session:
            user = get_user(session, username=args.name)
            ended = change_password(session, actor=cli_actor(), user=user, password=password)
            print(f"password of {user.username!r} changed; {ended} open session(s) ended")
    except (UserNotFoundError, WeakPasswordError) as exc:
        return _fail(args, str(exc))
    finally:
        database.dispose()
    return 0


@database_errors
def _disable(args: argparse.Namespace) -> int:
    _settings, database = open_database(args)
    try:
        with database.session() as session:
            user = get_user(session, username=args.name)
            if user.disabled == args.disabled:
                print(f"user {user.username!r} is already {'disabled' if args.disabled else 'enabled'}")
                return 0
            change_disabled(session, actor=cli_actor(), user=user, disabled=args.disabled)
            print(f"user {user.username!r} {'disabled' if args.disabled else 'enabled'}")
    except UserNotFoundError as exc:
        return _fail(args, str(exc))
    finally:
        database.dispose()
    return 0


@database_errors
def _token(args: argparse.Namespace) -> int:
    if args.expires_days is not None and not 1 <= args.expires_days <= 3650:
        return _fail(args, "--expires-days must be between 1 and 3650")
    _settings, database = open_database(args)
    try:
        with database.session() as session:
            user = get_user(session, username=args.name)
            if user.disabled:
                return _fail(args, f"user {user.username!r} is disabled")
            expires_at = utcnow() + timedelta(days=args.expires_days) if args.expires_days else None
            row, secret = issue_api_token(
                session, actor=cli_actor(), user=user, name=args.token_name, expires_at=expires_at
            )
    except (UserNotFoundError, ValueError) as exc:
        return _fail(args, str(exc))
    finally:
        database.dispose()
    print(secret)
    print(
        f"API token {row.id} ({row.name!r}) for {args.name!r}: shown once, store it now; "
        "send it as 'Authorization: Bearer <token>'",
        file=sys.stderr,
    )
    return 0
