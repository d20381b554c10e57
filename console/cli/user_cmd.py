"""``station user add|list|passwd|disable|enable|token``: manage console accounts from the shell.

``passwd`` and ``disable`` end every session and revoke every API token of the user (``enable`` brings none
back). ``token NAME --name WHAT`` makes an API token (default lifetime 90 days, ``--expires-days`` up to 365);
``token NAME --list`` lists the user's tokens, ``--revoke ID`` and ``--revoke-all`` revoke them.

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
from datetime import datetime
from typing import Any, TextIO

from console.account import (
    DEFAULT_TOKEN_DAYS,
    MAX_TOKEN_DAYS,
    AccessEnded,
    Actor,
    add_user,
    change_disabled,
    change_password,
    issue_api_token,
    withdraw_all_tokens,
    withdraw_api_token,
)
from console.cli.common import add_config_argument, database_errors, open_database
from console.password import WeakPasswordError
from storage.api_token import ApiTokenNotFoundError, list_api_tokens
from storage.model import ApiToken, utcnow
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

    passwd = actions.add_parser(
        "passwd", help="set a new password (ends the user's sessions, revokes their API tokens)"
    )
    passwd.add_argument("name")
    passwd.set_defaults(func=_passwd)

    disable = actions.add_parser(
        "disable", help="disable a user; their sessions end and their API tokens are revoked at once"
    )
    disable.add_argument("name")
    disable.set_defaults(func=_disable, disabled=True)

    enable = actions.add_parser("enable", help="enable a disabled user (revoked API tokens stay revoked)")
    enable.add_argument("name")
    enable.set_defaults(func=_disable, disabled=False)

    token = actions.add_parser(
        "token",
        help="create an API token for scripts (printed once), or list or revoke a user's tokens",
        description="With --name: create a token (printed once on stdout). With --list, --revoke ID or "
        "--revoke-all: list or revoke the user's tokens.",
    )
    token.add_argument("name", help="the user the token acts as")
    what = token.add_mutually_exclusive_group(required=True)
    what.add_argument("--name", dest="token_name", metavar="WHAT", help="create a token; what it is for")
    what.add_argument("--list", action="store_true", help="list the user's tokens")
    what.add_argument("--revoke", type=int, metavar="ID", help="revoke the user's token ID")
    what.add_argument("--revoke-all", action="store_true", help="revoke every token of the user")
    token.add_argument(
        "--expires-days",
        type=int,
        default=DEFAULT_TOKEN_DAYS,
        metavar="DAYS",
        help=f"with --name: the token expires after this many days (default {DEFAULT_TOKEN_DAYS}, "
        f"at most {MAX_TOKEN_DAYS})",
    )
    token.add_argument("--json", action="store_true", help="with --list: machine-readable output")
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
            print(f"password of {user.username!r} changed; {_ended(ended)}")
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
            ended = change_disabled(session, actor=cli_actor(), user=user, disabled=args.disabled)
            print(
                f"user {user.username!r} disabled; {_ended(ended)}"
                if args.disabled
                else f"user {user.username!r} enabled"
            )
    except UserNotFoundError as exc:
        return _fail(args, str(exc))
    finally:
        database.dispose()
    return 0


def _ended(ended: AccessEnded) -> str:
    return f"{ended.sessions} open session(s) ended, {ended.tokens} API token(s) revoked"


@database_errors
def _token(args: argparse.Namespace) -> int:
    if args.token_name is not None:
        return _token_create(args)
    if args.list:
        return _token_list(args)
    return _token_revoke(args)


def _token_list(args: argparse.Namespace) -> int:
    _settings, database = open_database(args)
    try:
        with database.session() as session:
            user = get_user(session, username=args.name)
            now = utcnow()
            rows = [_token_row(token, now) for token in list_api_tokens(session, user_id=user.id)]
    except UserNotFoundError as exc:
        return _fail(args, str(exc))
    finally:
        database.dispose()
    _print_tokens(rows, as_json=args.json, username=user.username)
    return 0


def _token_revoke(args: argparse.Namespace) -> int:
    _settings, database = open_database(args)
    try:
        with database.session() as session:
            user = get_user(session, username=args.name)
            if args.revoke_all:
                count = withdraw_all_tokens(session, actor=cli_actor(), user=user)
                done = f"{count} API token(s) revoked for {user.username!r}"
            else:
                token = withdraw_api_token(session, actor=cli_actor(), user=user, token_id=args.revoke)
                done = f"API token {token.id} ({token.name!r}) of {user.username!r} revoked"
    except UserNotFoundError as exc:
        return _fail(args, str(exc))
    except ApiTokenNotFoundError:
        return _fail(args, f"user {args.name.strip().lower()!r} has no API token {args.revoke}")
    finally:
        database.dispose()
    print(done)
    return 0


def _token_create(args: argparse.Namespace) -> int:
    if not 1 <= args.expires_days <= MAX_TOKEN_DAYS:
        return _fail(args, f"--expires-days must be between 1 and {MAX_TOKEN_DAYS}")
    _settings, database = open_database(args)
    try:
        with database.session() as session:
            user = get_user(session, username=args.name)
            if user.disabled:
                return _fail(args, f"user {user.username!r} is disabled")
            row, secret = issue_api_token(
                session, actor=cli_actor(), user=user, name=args.token_name, expires_days=args.expires_days
            )
            expires = _when(row.expires_at)
    except (UserNotFoundError, ValueError) as exc:
        return _fail(args, str(exc))
    finally:
        database.dispose()
    print(secret)
    print(
        f"API token {row.id} ({row.name!r}) for {args.name!r}, expires {expires}: shown once, store it now; "
        "send it as 'Authorization: Bearer <token>'",
        file=sys.stderr,
    )
    return 0


def _when(moment: datetime | None) -> str:
    return moment.isoformat(timespec="seconds") if moment else ""


def _token_status(token: ApiToken, now: datetime) -> str:
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= now:
        return "expired"
    return "active"


def _token_row(token: ApiToken, now: datetime) -> dict[str, Any]:
    return {
        "id": token.id,
        "name": token.name,
        "prefix": token.prefix,
        "status": _token_status(token, now),
        "created_at": _when(token.created_at),
        "expires_at": _when(token.expires_at) or "never",
        "last_used_at": _when(token.last_used_at),
        "revoked_at": _when(token.revoked_at),
        "revoked_reason": token.revoked_reason or "",
    }


def _print_tokens(rows: list[dict[str, Any]], *, as_json: bool, username: str) -> None:
    if as_json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        print(f"{username!r} has no API tokens")
        return
    columns = ("id", "name", "prefix", "status", "expires_at", "last_used_at", "revoked_reason")
    text = [{c: str(row[c]) for c in columns} for row in rows]
    widths = {c: max(len(c), *(len(r[c]) for r in text)) for c in columns}
    print("  ".join(c.upper().ljust(widths[c]) for c in columns).rstrip())
    for row in text:
        print("  ".join(row[c].ljust(widths[c]) for c in columns).rstrip())
