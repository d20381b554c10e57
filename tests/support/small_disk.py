"""A real, small file system for disk-full tests: a size-limited tmpfs mounted by the test, and a filler."""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Final

import pytest

FILL_CHUNK: Final = 64 << 10


def mount_tmpfs(target: Path, size: str) -> Callable[[], None]:
    """Mount a tmpfs of ``size`` on ``target``; returns the unmount. Skips the test where mounting is
    refused (not root, no CAP_SYS_ADMIN, a container without mount rights)."""
    target.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(target)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a size-limited tmpfs here (needs root): {done.stderr.strip()}")

    def unmount() -> None:
        subprocess.run(["umount", "-l", str(target)], capture_output=True, check=False)

    return unmount


def fill(path: Path) -> int:
    """Write ``path`` until its file system is full (ENOSPC); returns the bytes written."""
    written = 0
    chunk = b"\0" * FILL_CHUNK
    with path.open("wb", buffering=0) as handle:
        while True:
            try:
                written += handle.write(chunk)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                chunk = chunk[: len(chunk) // 2]  # top off the last pages
                if len(chunk) < 512:
                    return written


def used_bytes(mount: Path) -> int:
    """Bytes in use on the file system at ``mount`` (unnamed temporary files included)."""
    stats = os.statvfs(mount)
    return (stats.f_blocks - stats.f_bfree) * stats.f_frsize
