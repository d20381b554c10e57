"""Where a detector model comes from when the user names none: never a download, only local files."""

from __future__ import annotations

import os
from pathlib import Path

ENV_MODEL = "STATION_MODEL"
_PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Our own machines keep small test detectors beside the project (../shared/models); a station installed
# by the set-up command keeps the one it was given under /var/lib/station/models.
_CANDIDATES = (
    Path("/var/lib/station/models/detector.onnx"),
    _PROJECT_ROOT.parent / "shared" / "models" / "yolo11n_int8.onnx",
)


def default_model_path(configured: Path | None) -> Path | None:
    """The configured path, else ``$STATION_MODEL``, else the first local candidate that exists."""
    if configured is not None:
        return configured
    env = os.environ.get(ENV_MODEL)
    if env:
        return Path(env)
    for candidate in _CANDIDATES:
        if candidate.is_file():
            return candidate
    return None


def model_cache_dir(data_dir: Path | None = None) -> Path:
    """Where FP32 copies of INT8 models are kept: under the station's data dir, else the user's cache."""
    if data_dir is not None:
        return data_dir / "cache" / "models"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "station" / "models"
