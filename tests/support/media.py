"""Small synthetic H.264 clips for streaming tests, generated once per session with PyAV.

Every clip has a fixed GOP (a keyframe exactly every ``gop`` frames), no B-frames unless asked for
(``b_frames``) and a moving pattern, so tests can check keyframe intervals and timestamps exactly.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import cast

import av
import numpy as np
import pytest
from av.video.stream import VideoStream


@dataclass(frozen=True, slots=True)
class ClipSpec:
    width: int = 640
    height: int = 360
    fps: int = 25
    gop: int = 25
    seconds: float = 4.0
    codec: str = "libx264"
    b_frames: int = 0  # B-frames between reference frames (libx264 only)

    @property
    def frames(self) -> int:
        return round(self.seconds * self.fps)

    @property
    def file_name(self) -> str:
        codec = self.codec.replace("lib", "")
        b_frames = f"_b{self.b_frames}" if self.b_frames else ""
        return (
            f"{codec}_{self.width}x{self.height}_{self.fps}fps_gop{self.gop}{b_frames}_{self.seconds:g}s.mp4"
        )


SMALL = ClipSpec()
FULL_HD = ClipSpec(width=1920, height=1080, fps=25, gop=25, seconds=4.0)


def _frame_pixels(spec: ClipSpec, index: int) -> np.ndarray:
    """A horizontal gradient scrolling by 8 pixels a frame, with a bright bar marking the frame number."""
    x = (np.arange(spec.width, dtype=np.uint16) + 8 * index) % 256
    image = np.empty((spec.height, spec.width, 3), dtype=np.uint8)
    image[:, :, 0] = x.astype(np.uint8)[None, :]
    image[:, :, 1] = (np.arange(spec.height, dtype=np.uint16) % 256).astype(np.uint8)[:, None]
    image[:, :, 2] = 128
    bar = (index * 16) % max(spec.height - 16, 1)
    image[bar : bar + 16, :, :] = 255
    return image


def write_clip(path: Path, spec: ClipSpec) -> Path:
    """Encode ``spec`` into ``path`` (MP4, H.264 or HEVC, constant GOP, ``spec.b_frames`` B-frames)."""
    tmp = path.with_name(path.name + ".partial")
    with av.open(str(tmp), mode="w", format="mp4") as container:
        stream = cast(VideoStream, container.add_stream(spec.codec, rate=spec.fps))
        stream.width = spec.width
        stream.height = spec.height
        stream.pix_fmt = "yuv420p"
        stream.time_base = Fraction(1, spec.fps * 512)
        stream.codec_context.gop_size = spec.gop
        stream.codec_context.max_b_frames = spec.b_frames
        if spec.codec == "libx264":
            stream.options = {
                "preset": "ultrafast",
                # One slice per frame (like most cameras): multi-slice IDRs get SPS/PPS inserted before every
                # slice by the test server's h264parse, which FFmpeg then splits into two packets.
                "x264-params": (
                    f"keyint={spec.gop}:min-keyint={spec.gop}:scenecut=0:bframes={spec.b_frames}:"
                    + ("b-adapt=0:" if spec.b_frames else "")  # exactly b_frames between references
                    + "sliced-threads=0:slices=1"
                ),
            }
        elif spec.codec == "libx265":
            stream.options = {
                "preset": "ultrafast",
                "x265-params": (
                    f"keyint={spec.gop}:min-keyint={spec.gop}:scenecut=0:bframes=0:log-level=error"
                ),
            }
        for index in range(spec.frames):
            frame = av.VideoFrame.from_ndarray(_frame_pixels(spec, index), format="rgb24")
            frame.pts = index * 512
            frame.time_base = stream.time_base
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    tmp.replace(path)
    return path


class ClipCache:
    """Clips generated on first use into one session directory."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def get(self, spec: ClipSpec = SMALL) -> Path:
        path = self.root / spec.file_name
        if not path.exists():
            write_clip(path, spec)
        return path


@pytest.fixture(scope="session")
def clip_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClipCache]:
    yield ClipCache(tmp_path_factory.mktemp("clips"))


@pytest.fixture(scope="session")
def small_clip(clip_cache: ClipCache) -> Path:
    """640x360, 25 fps, keyframe every 25 frames (1 s), 4 s long."""
    return clip_cache.get(SMALL)
