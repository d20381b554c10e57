"""Checks of a valid config against the machine: things a schema cannot know (I/O lives here only)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from config.error import Problem


def verify_writable_dir(path: Path, *, label: str, source: str = "station.yaml") -> list[Problem]:
    """Create ``path`` if needed and prove a file can be written there."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except PermissionError:
        return [Problem(source, label, f"cannot create directory {path}: permission denied")]
    except FileExistsError:
        return [Problem(source, label, f"{path} exists and is not a directory")]
    except OSError as exc:
        return [Problem(source, label, f"cannot create directory {path}: {exc.strerror}")]
    if not path.is_dir():
        return [Problem(source, label, f"{path} is not a directory")]
    try:
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-"):
            pass
    except OSError as exc:
        return [Problem(source, label, f"directory {path} is not writable: {exc.strerror}")]
    if not os.access(path, os.W_OK | os.X_OK):
        return [Problem(source, label, f"directory {path} is not writable")]
    return []
