"""Project-wide pytest configuration. Fixtures live in tests/support/ and each test folder's conftest."""

from __future__ import annotations
