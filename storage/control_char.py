"""Escaping control characters in text that came from outside, before anyone is shown it.

A package's manifest and its ZIP member names are written by whoever made the package. Printed raw, a
newline in them starts a line of the attacker's choosing (``\\nresult: VALID``), an escape sequence
(``\\x1b[8m``) hides what follows on a terminal, and a bidi override (U+202E) reorders what a reader sees.
:func:`escape_control_chars` shows each of them the way Python's ``repr`` does (``\\n``, ``\\x1b``,
``\\u202e``) and the backslash itself as ``\\\\``, so an escaped newline cannot be faked either; letters of
every script stay as they are.
"""

from __future__ import annotations

import unicodedata

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}
# Unicode categories shown escaped: controls (C0, DEL, C1), the line and paragraph separators, and lone
# surrogates (JSON's "\ud800" decodes to one; it cannot be encoded as UTF-8, so it would break the output).
_ESCAPED_CATEGORIES = frozenset({"Cc", "Zl", "Zp", "Cs"})
# Bidirectional formatting characters: they reorder the text around them.
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _shown(char: str) -> str:
    if char in _NAMED:
        return _NAMED[char]
    if char in _BIDI_CONTROLS or unicodedata.category(char) in _ESCAPED_CATEGORIES:
        code = ord(char)
        return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"
    return char


def escape_control_chars(text: str) -> str:
    """``text`` with every control character, line separator and bidi control escaped (pure)."""
    if text.isprintable() and "\\" not in text:
        return text
    return "".join(_shown(char) for char in text)
