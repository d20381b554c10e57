"""Where the repository and the shared test material are."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DIR = REPO_ROOT.parent / "shared"
MEDIA_DIR = SHARED_DIR / "media"
MODELS_DIR = SHARED_DIR / "models"


def shared_file(*parts: str) -> Path:
    """A file under ../shared, or skip the test with the reason when it is absent."""
    path = SHARED_DIR.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared test material not available: {path} (../shared is absent on this machine)")
    return path
