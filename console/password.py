"""Password hashing (argon2id) and the password policy.

:func:`verify_password` also says when a stored hash was made with other parameters than today's, so the
caller can rehash it while it holds the plain password (at login).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256

_HASHER = PasswordHasher()


class WeakPasswordError(ValueError):
    """The password does not meet the policy."""


@dataclass(frozen=True, slots=True)
class PasswordCheck:
    ok: bool
    needs_rehash: bool = False


def check_password_policy(password: str, *, username: str | None = None) -> None:
    """Raise :class:`WeakPasswordError` naming the rule that is broken."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPasswordError(f"password is too short: at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise WeakPasswordError(f"password is too long: at most {MAX_PASSWORD_LENGTH} characters")
    if not password.strip():
        raise WeakPasswordError("password must not be blank")
    if username and password.strip().lower() == username.strip().lower():
        raise WeakPasswordError("password must differ from the user name")


def hash_password(password: str, *, hasher: PasswordHasher = _HASHER) -> str:
    return hasher.hash(password)


def verify_password(stored_hash: str, password: str, *, hasher: PasswordHasher = _HASHER) -> PasswordCheck:
    try:
        hasher.verify(stored_hash, password)
    except VerifyMismatchError:
        return PasswordCheck(ok=False)
    except (VerificationError, InvalidHashError):
        return PasswordCheck(ok=False)
    return PasswordCheck(ok=True, needs_rehash=hasher.check_needs_rehash(stored_hash))


@cache
def _dummy_hash() -> str:
    """Verified against when the user does not exist, so both paths cost the same time."""
    return _HASHER.hash("station-console-dummy-password")


def burn_verify_time(password: str) -> None:
    """Spend the time of one verification (for unknown users), result ignored."""
    verify_password(_dummy_hash(), password)
