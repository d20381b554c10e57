"""storage.still: where still files live (pure path rules) and the atomic write."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from storage.still import StillPathError, resolve_still, still_relative_path, write_still_file

SHA = hashlib.sha256(b"jpeg").hexdigest()


def test_a_still_is_named_by_complaint_number_and_hash() -> None:
    assert still_relative_path("2026-000123", SHA) == f"2026-000123/{SHA}.jpg"


@pytest.mark.parametrize(
    ("number", "sha256"),
    [("../etc", SHA), ("2026/1", SHA), ("", SHA), ("2026-000123", "abc"), ("2026-000123", SHA.upper())],
)
def test_anything_else_names_no_still(number: str, sha256: str) -> None:
    with pytest.raises(StillPathError):
        still_relative_path(number, sha256)


@pytest.mark.parametrize(
    "stored", ["../x.jpg", f"2026-000123/../{SHA}.jpg", f"/2026-000123/{SHA}.jpg", "a/b/c"]
)
def test_a_stored_path_cannot_leave_the_stills_root(tmp_path: Path, stored: str) -> None:
    with pytest.raises(StillPathError):
        resolve_still(tmp_path, stored)


def test_write_is_atomic_and_leaves_no_temp_file(tmp_path: Path) -> None:
    relative = still_relative_path("2026-000123", SHA)
    path = write_still_file(tmp_path, relative, b"jpeg")
    assert path.read_bytes() == b"jpeg" and path == resolve_still(tmp_path, relative)
    assert [p.name for p in path.parent.iterdir()] == [f"{SHA}.jpg"]
