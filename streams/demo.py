"""Demo clips for ``station demo``: made offline with PyAV/libx264, no camera or network needed.

Each clip shows a moving test pattern with the camera name and a running clock burned in, encoded as H.264
with a keyframe every second and no B-frames (what a typical IP camera sends), so the whole pipeline --
file source, recorder, live view, detection -- runs on them unchanged via ``file:///...`` camera URLs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

log = logging.getLogger(__name__)

DEMO_CAMERAS = ("demo-yard", "demo-entrance", "demo-parking", "demo-playground")


@dataclass(frozen=True, slots=True)
class DemoClipSpec:
    camera_id: str
    width: int = 1280
    height: int = 720
    fps: int = 25
    seconds: int = 30
    hue: int = 0  # background tint, so clips are told apart at a glance

    @property
    def file_name(self) -> str:
        return f"{self.camera_id}_{self.width}x{self.height}_{self.fps}fps_{self.seconds}s.mp4"


def draw_demo_frame(spec: DemoClipSpec, index: int) -> np.ndarray:
    """One BGR frame: drifting colour bars, a moving box and the camera name with a running clock."""
    t = index / spec.fps
    x = np.arange(spec.width, dtype=np.float32)
    bars = ((x[None, :] + 40 * t) % spec.width) / spec.width
    hue = (bars * 180 + spec.hue) % 180
    hsv = np.empty((spec.height, spec.width, 3), dtype=np.uint8)
    hsv[:, :, 0] = np.broadcast_to(hue.astype(np.uint8), (spec.height, spec.width))
    hsv[:, :, 1] = 90
    hsv[:, :, 2] = 150
    image = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)
    size = max(spec.height // 8, 8)
    cx = int((spec.width - size) * (0.5 + 0.45 * np.sin(t * 0.7)))
    cy = int((spec.height - size) * (0.5 + 0.4 * np.cos(t * 0.5)))
    cv2.rectangle(image, (cx, cy), (cx + size, cy + size), (255, 255, 255), -1)
    scale = spec.height / 720
    minutes, seconds = divmod(t, 60)
    label = f"{spec.camera_id}  {int(minutes):02d}:{seconds:05.2f}  #{index}"
    cv2.rectangle(image, (0, 0), (spec.width, int(60 * scale)), (0, 0, 0), -1)
    cv2.putText(
        image,
        label,
        (int(16 * scale), int(42 * scale)),
        cv2.FONT_HERSHEY_SIMPLEX,
        1.2 * scale,
        (255, 255, 255),
        max(1, int(2 * scale)),
        cv2.LINE_AA,
    )
    return image


def write_demo_clip(path: Path, spec: DemoClipSpec) -> Path:
    """Encode one clip (H.264, GOP = 1 s, no B-frames) atomically: written as ``.partial``, then renamed."""
    partial = path.with_name(path.name + ".partial")
    with av.open(str(partial), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=spec.fps)
        stream.width, stream.height, stream.pix_fmt = spec.width, spec.height, "yuv420p"
        stream.time_base = Fraction(1, spec.fps)
        stream.codec_context.gop_size = spec.fps
        stream.codec_context.max_b_frames = 0
        stream.options = {
            "preset": "veryfast",
            "crf": "28",
            "x264-params": f"keyint={spec.fps}:min-keyint={spec.fps}:scenecut=0:bframes=0",
        }
        for index in range(spec.fps * spec.seconds):
            frame = av.VideoFrame.from_ndarray(draw_demo_frame(spec, index), format="bgr24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    partial.replace(path)
    return path


def make_demo_clips(
    directory: Path,
    *,
    count: int = 3,
    width: int = 1280,
    height: int = 720,
    fps: int = 25,
    seconds: int = 30,
) -> list[Path]:
    """Create (or reuse) ``count`` demo clips in ``directory`` and return their paths, one per demo camera."""
    if not 1 <= count <= len(DEMO_CAMERAS):
        raise ValueError(f"count must be between 1 and {len(DEMO_CAMERAS)}")
    if width % 2 or height % 2 or width < 64 or height < 64:
        raise ValueError("width and height must be even and at least 64")
    if fps < 1 or seconds < 1:
        raise ValueError("fps and seconds must be at least 1")
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for number, camera_id in enumerate(DEMO_CAMERAS[:count]):
        spec = DemoClipSpec(camera_id, width, height, fps, seconds, hue=number * 45)
        path = directory / spec.file_name
        if not path.exists():
            log.info("%s: writing demo clip %s", camera_id, path)
            write_demo_clip(path, spec)
        paths.append(path)
    return paths
