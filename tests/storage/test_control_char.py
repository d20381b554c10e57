"""Escaping control characters in text that came from outside (a package's manifest, a ZIP's file names)."""

from __future__ import annotations

import pytest

from storage.control_char import escape_control_chars


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("Опорный пункт 5", "Опорный пункт 5"),  # letters of any script stay as they are
        ("a\nb\r\tc", "a\\nb\\r\\tc"),
        ("\x1b[8m", "\\x1b[8m"),
        ("\x00\x7f\x9b", "\\x00\\x7f\\x9b"),
        ("back\\slash", "back\\\\slash"),  # so that an escaped newline cannot be faked
        ("\u202egnp.exe\u2066", "\\u202egnp.exe\\u2066"),  # bidi overrides reorder what is shown
        ("line\u2028sep\u2029", "line\\u2028sep\\u2029"),
        ("zero\u200bwidth", "zero\u200bwidth"),  # other format characters are left alone
        ("", ""),
    ],
)
def test_escape_control_chars(raw: str, shown: str) -> None:
    assert escape_control_chars(raw) == shown
