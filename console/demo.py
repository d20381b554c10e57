"""The built-in demo station (``station demo``): looped demo clips as cameras, no camera or network needed."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from config.schema import (
    CameraConfig,
    ConsoleConfig,
    Location,
    RecordingConfig,
    StationConfig,
    StationInfo,
    StorageConfig,
)
from storage.model import Role
from streams.demo import DEMO_CAMERAS, make_demo_clips

DEFAULT_DEMO_DIR = Path("/tmp/station-demo")  # noqa: S108 - a throwaway demo, documented as such
# The demo's on-duty view (supervisor: live view, complaints, recordings, exports) and its administrator.
DEMO_USERS: tuple[tuple[str, Role, str], ...] = (
    ("demo", Role.SUPERVISOR, "Demo"),
    ("demo-admin", Role.ADMIN, "Demo admin"),
)
DEMO_CAMERA_COUNT = 3

_DEMO_PLACES: dict[str, tuple[str, Location]] = {
    "demo-yard": ("Двор, детская площадка", Location(building="5", area="двор")),
    "demo-entrance": ("Подъезд 2, вход", Location(building="5", entrance="2")),
    "demo-parking": ("Парковка у мусорных баков", Location(building="5", area="парковка")),
    "demo-playground": ("Площадка за домом 7", Location(building="7", area="двор")),
}


def demo_data_dir(environ: dict[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    return Path(env["STATION_DATA_DIR"]) if env.get("STATION_DATA_DIR") else DEFAULT_DEMO_DIR


def demo_config(data_dir: Path, clips: Sequence[Path] = ()) -> StationConfig:
    """The demo station's configuration: one camera per demo clip, each looped in real time."""
    cameras = []
    for camera_id, clip in zip(DEMO_CAMERAS, clips, strict=False):
        name, location = _DEMO_PLACES[camera_id]
        cameras.append(CameraConfig(id=camera_id, name=name, url=clip.resolve().as_uri(), location=location))
    return StationConfig(
        station=StationInfo(name="Демо: ЖК Алатау", timezone="Asia/Almaty"),
        storage=StorageConfig(data_dir=data_dir, min_free_bytes=256 * 1024**2, min_free_percent=1.0),
        cameras=cameras,
        recording=RecordingConfig(segment_seconds=10, retention_days=1),
        console=ConsoleConfig(host="127.0.0.1", port=8080, language="ru"),
    )


def prepare_demo(data_dir: Path, *, cameras: int = DEMO_CAMERA_COUNT) -> StationConfig:
    """Generate (or reuse) the demo clips under ``data_dir/demo-clips`` and return the demo config."""
    clips = make_demo_clips(data_dir / "demo-clips", count=cameras, width=960, height=540, seconds=12)
    return demo_config(data_dir, clips)
