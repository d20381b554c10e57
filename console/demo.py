"""The built-in demo station (``station demo``): one function that the ingest side extends with cameras."""

from __future__ import annotations

import os
from pathlib import Path

from config.schema import ConsoleConfig, StationConfig, StationInfo, StorageConfig

DEFAULT_DEMO_DIR = Path("/tmp/station-demo")  # noqa: S108 - a throwaway demo, documented as such
DEMO_USERNAME = "demo"


def demo_data_dir(environ: dict[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    return Path(env["STATION_DATA_DIR"]) if env.get("STATION_DATA_DIR") else DEFAULT_DEMO_DIR


def demo_config(data_dir: Path) -> StationConfig:
    """The demo station's configuration (no cameras yet; the ingest side adds looped demo clips here)."""
    return StationConfig(
        station=StationInfo(name="Демо: ЖК Алатау", timezone="Asia/Almaty"),
        storage=StorageConfig(data_dir=data_dir),
        cameras=[],
        console=ConsoleConfig(host="127.0.0.1", port=8080, language="ru"),
    )
