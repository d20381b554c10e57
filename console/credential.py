"""Secret tokens for sessions and API access, their stored hashes, and the CSRF token of a session.

Tokens are 256-bit random URL-safe strings. The database only ever sees ``sha256(token)``. The CSRF token of
a browser session is derived from the session token with a separate label, so it needs no storage and cannot
be computed from anything the database holds.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

API_TOKEN_PREFIX = "stn_"  # noqa: S105 - a label, not a secret
API_TOKEN_PREFIX_CHARS = 12  # what is stored in clear to recognise a token: "stn_" + 8 random characters


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


def new_api_token() -> str:
    return API_TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_prefix(token: str) -> str:
    return token[:API_TOKEN_PREFIX_CHARS]


def csrf_token_for(session_token: str) -> str:
    return hashlib.sha256(b"station-csrf\0" + session_token.encode("utf-8")).hexdigest()


def is_valid_csrf(session_token: str, presented: str | None) -> bool:
    if not presented:
        return False
    return hmac.compare_digest(csrf_token_for(session_token), presented)
