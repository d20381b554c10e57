from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from console.password import (
    MIN_PASSWORD_LENGTH,
    WeakPasswordError,
    check_password_policy,
    hash_password,
    verify_password,
)


@pytest.mark.parametrize(
    ("password", "username", "message"),
    [
        ("short", None, "too short"),
        ("x" * (MIN_PASSWORD_LENGTH - 1), None, "too short"),
        (" " * 12, None, "blank"),
        ("x" * 257, None, "too long"),
        ("Ivanov.Petr", "ivanov.petr", "differ from the user name"),
    ],
)
def test_policy_refuses_with_the_rule(password: str, username: str | None, message: str) -> None:
    with pytest.raises(WeakPasswordError, match=message):
        check_password_policy(password, username=username)


def test_policy_accepts_a_long_password() -> None:
    check_password_policy("x" * MIN_PASSWORD_LENGTH, username="ivanov")


def test_hash_is_argon2id_salted_and_verifies() -> None:
    first, second = hash_password("correct-horse"), hash_password("correct-horse")
    assert first.startswith("$argon2id$")
    assert first != second
    assert verify_password(first, "correct-horse").ok
    assert not verify_password(first, "correct-horsE").ok


def test_garbage_hash_does_not_verify() -> None:
    assert not verify_password("not-a-hash", "whatever-password").ok


def test_old_parameters_ask_for_a_rehash() -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("correct-horse")
    check = verify_password(weak, "correct-horse")
    assert check.ok and check.needs_rehash
    assert not verify_password(hash_password("correct-horse"), "correct-horse").needs_rehash
