from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from console.password import (
    MIN_PASSWORD_LENGTH,
    CommonPasswordError,
    WeakPasswordError,
    check_password_policy,
    common_passwords,
    hash_password,
    is_common_password,
    password_stems,
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
    check_password_policy("kv-7" + "x" * (MIN_PASSWORD_LENGTH - 4), username="ivanov")


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


@pytest.mark.parametrize(
    "password",
    [
        "password12",
        "Password123!",
        "P@ssw0rd2024",
        "qwerty12345",
        "1234567890",
        "1q2w3e4r5t",
        "aaaaaaaaaa",
        "ababababab",
        "Kazakhstan2024",
        "йцукенгшщз",
    ],
)
def test_common_passwords_and_their_variants_are_refused(password: str) -> None:
    assert is_common_password(password)
    with pytest.raises(CommonPasswordError, match="too common"):
        check_password_policy(password, username="ivanov")


@pytest.mark.parametrize("password", ["correct-horse-battery", "rkjvjgfdb3", "ivan-the-terrible-2"])
def test_uncommon_passwords_pass(password: str) -> None:
    assert not is_common_password(password)
    check_password_policy(password, username="ivanov")


def test_the_list_ships_with_the_package_and_the_stems_are_lower_case() -> None:
    listed = common_passwords()
    assert len(listed) > 300 and "password" in listed and all(word == word.lower() for word in listed)
    assert "password" in password_stems("P@SSW0RD2024!")
