"""The built-in demo station (``station demo``): looped demo clips as cameras, no camera or network needed."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import yaml

from config.schema import (
    CameraConfig,
    CameraDetection,
    ConsoleConfig,
    DetectionConfig,
    DetectionKind,
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


def demo_config(
    data_dir: Path, clips: Sequence[Path] = (), *, videos: Sequence[Path] = (), model: Path | None = None
) -> StationConfig:
    """The demo station's configuration: one camera per demo clip (or per user video), each looped in real
    time, with detection on every camera: motion always, people too when a detector ``model`` is there."""
    kinds = [DetectionKind.MOTION, DetectionKind.PERSON] if model is not None else [DetectionKind.MOTION]
    detection = CameraDetection(enabled=True, kinds=kinds)
    cameras = []
    for camera_id, clip in zip(DEMO_CAMERAS, clips, strict=False):
        name, location = _DEMO_PLACES[camera_id]
        cameras.append(
            CameraConfig(
                id=camera_id, name=name, url=clip.resolve().as_uri(), location=location, detection=detection
            )
        )
    for index, video in enumerate(videos, start=1):
        cameras.append(
            CameraConfig(
                id=f"video-{index}",
                name=video.name[:120],
                url=video.resolve().as_uri(),
                location=Location(area="demo"),
                detection=detection,
            )
        )
    return StationConfig(
        station=StationInfo(name="Демо: ЖК Алатау", timezone="Asia/Almaty"),
        storage=StorageConfig(data_dir=data_dir, min_free_bytes=256 * 1024**2, min_free_percent=1.0),
        cameras=cameras,
        recording=RecordingConfig(segment_seconds=10, retention_days=1),
        console=ConsoleConfig(host="127.0.0.1", port=8080, language="ru"),
        detection=DetectionConfig(model_path=model),
    )


def prepare_demo(
    data_dir: Path,
    *,
    cameras: int = DEMO_CAMERA_COUNT,
    videos: Sequence[Path] = (),
    model: Path | None = None,
) -> StationConfig:
    """Generate (or reuse) the demo clips under ``data_dir/demo-clips`` and return the demo config; with
    ``videos``, the user's own files are the cameras instead. Raises :class:`DemoVideoError` for a video
    that is not there."""
    for video in videos:
        if not video.is_file():
            raise DemoVideoError(f"{video}: no such video file")
    if len(videos) > 16:
        raise DemoVideoError("at most 16 videos in the demo")
    clips = (
        []
        if videos
        else make_demo_clips(data_dir / "demo-clips", count=cameras, width=960, height=540, seconds=12)
    )
    return demo_config(data_dir, clips, videos=videos, model=model)


class DemoVideoError(FileNotFoundError):
    """A video given to ``station demo --video`` cannot be used."""


def write_demo_config(config: StationConfig, path: Path) -> Path:
    """Write the demo's config as YAML so that ``station user``, ``station audit`` and ``station analyze
    --config`` work on the demo station too."""
    data = config.model_dump(mode="json", exclude_defaults=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "# Written by `station demo`: the demo station's config (regenerated at every start).\n"
    text += yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    partial = path.with_suffix(".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)
    return path
