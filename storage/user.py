"""Station users: keyword-only functions over the ``users`` table.

Passwords arrive here already hashed (hashing is the console's job); user names are normalised once by
:func:`parse_username` and stored lower-case.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.model import Role, User, utcnow

USERNAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"
_USERNAME = re.compile(USERNAME_PATTERN)


class UserExistsError(ValueError):
    """A user with this name already exists."""


class UserNotFoundError(LookupError):
    """No user with this name or id; ``user`` is the one asked for (the id, or the name)."""

    def __init__(self, message: str, *, user: int | str) -> None:
        super().__init__(message)
        self.user = user


def parse_username(value: str) -> str:
    """Strip and lower-case a user name; raise :class:`ValueError` with the rule when it is not valid."""
    name = value.strip().lower()
    if not _USERNAME.match(name):
        raise ValueError(
            f"invalid user name {value!r}: use 1-64 latin letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def parse_role(value: str) -> Role:
    try:
        return Role(value.strip().lower())
    except ValueError as exc:
        known = ", ".join(role.value for role in Role)
        raise ValueError(f"unknown role {value!r} (expected one of: {known})") from exc


def create_user(
    session: Session,
    *,
    username: str,
    role: Role,
    password_hash: str,
    display_name: str | None = None,
    now: datetime | None = None,
) -> User:
    name = parse_username(username)
    if find_user(session, username=name) is not None:
        raise UserExistsError(f"user {name!r} already exists")
    at = now or utcnow()
    user = User(
        username=name,
        role=role.value,
        password_hash=password_hash,
        display_name=display_name,
        disabled=False,
        created_at=at,
        password_changed_at=at,
    )
    session.add(user)
    session.flush()
    return user


def find_user(session: Session, *, username: str) -> User | None:
    return session.execute(select(User).where(User.username == username.strip().lower())).scalar_one_or_none()


def get_user(session: Session, *, username: str) -> User:
    user = find_user(session, username=username)
    if user is None:
        name = username.strip().lower()
        raise UserNotFoundError(f"no user {name!r}", user=name)
    return user


def get_user_by_id(session: Session, *, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise UserNotFoundError(f"no user with id {user_id}", user=user_id)
    return user


def list_users(session: Session) -> Sequence[User]:
    return session.execute(select(User).order_by(User.username)).scalars().all()


def list_active_users(session: Session) -> Sequence[User]:
    """The users who may sign in (not disabled), by id."""
    return session.execute(select(User).where(User.disabled.is_(False)).order_by(User.id)).scalars().all()


def display_names(session: Session, user_ids: set[int | None]) -> dict[int, str]:
    """Each user's name as shown (the display name, else the user name), by id; unknown ids are left out."""
    wanted = {i for i in user_ids if i is not None}
    if not wanted:
        return {}
    rows = session.execute(select(User.id, User.display_name, User.username).where(User.id.in_(wanted)))
    return {uid: display or name for uid, display, name in rows}


def count_users(session: Session) -> int:
    return int(session.execute(select(func.count()).select_from(User)).scalar_one())


def set_password_hash(
    session: Session, *, user: User, password_hash: str, now: datetime | None = None
) -> None:
    user.password_hash = password_hash
    user.password_changed_at = now or utcnow()
    session.flush()


def set_disabled(session: Session, *, user: User, disabled: bool) -> None:
    user.disabled = disabled
    session.flush()


def set_role(session: Session, *, user: User, role: Role) -> None:
    user.role = role.value
    session.flush()


def record_login(session: Session, *, user: User, now: datetime | None = None) -> None:
    user.last_login_at = now or utcnow()
    session.flush()
