"""Password hashing (argon2id) and the password policy.

The policy (ASVS 2.1): at least ``MIN_PASSWORD_LENGTH`` characters, at most ``MAX_PASSWORD_LENGTH``, not the
user name, and not a common password (:func:`is_common_password`, against the list shipped in
``console/data/common_passwords.txt``; nothing is fetched at run time). No composition rules.

:func:`verify_password` also says when a stored hash was made with other parameters than today's, so the
caller can rehash it while it holds the plain password (at login).
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256

_HASHER = PasswordHasher()
COMMON_PASSWORDS_FILE: Final = "common_passwords.txt"
MIN_DISTINCT_CHARACTERS: Final = 4  # "aaaaaaaaaa", "ababababab", "1231231231" are no passwords
_EDGE_CHARACTERS: Final = string.digits + string.punctuation + " "
# Letters people swap in for others to "strengthen" a word: undone before the list is consulted.
_SUBSTITUTIONS: Final = str.maketrans(
    {"@": "a", "4": "a", "3": "e", "0": "o", "1": "i", "!": "i", "$": "s", "5": "s", "7": "t"}
)


class WeakPasswordError(ValueError):
    """The password does not meet the policy."""


class CommonPasswordError(WeakPasswordError):
    """The password is a common one, or a common one with digits or symbols added at its ends."""


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list of common passwords and password stems (lower case), read once."""
    text = files("console").joinpath("data", COMMON_PASSWORDS_FILE).read_text(encoding="utf-8")
    entries = (line.strip().lower() for line in text.splitlines())
    return frozenset(e for e in entries if e and not e.startswith("#"))


def password_stems(password: str) -> set[str]:
    """What a password is made of, as :func:`is_common_password` compares it with the list (pure): the
    lower-cased password, the same without digits and symbols at its ends, and both with common letter
    substitutions undone (``P@ssw0rd12`` gives ``p@ssw0rd12``, ``p@ssw0rd``, ``password``...)."""
    whole = password.strip().lower()
    core = whole.strip(_EDGE_CHARACTERS)
    stems = {whole, core, whole.translate(_SUBSTITUTIONS), core.translate(_SUBSTITUTIONS)}
    stems |= {stem.replace("i", "l") for stem in stems if "1" in whole}  # 1 for l as well as for i
    return {stem for stem in stems if stem}


def is_common_password(password: str, *, listed: frozenset[str] | None = None) -> bool:
    """True for a password on the common list (directly or by its stem), or one of too few characters."""
    words = common_passwords() if listed is None else listed
    if len(set(password.strip().lower())) < MIN_DISTINCT_CHARACTERS:
        return True
    return any(stem in words for stem in password_stems(password))


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
    if is_common_password(password):
        raise CommonPasswordError("password is too common: it is on the list of common passwords")


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
