"""H.264 clips whose every picture is encoded in several slices, as many cameras send them."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

FPS = 25
GOP = 25
TICKS = 512  # the clip's time base is 1 / (FPS * TICKS)


def write_sliced_clip(path: Path, *, slices: int, frames: int = 100) -> Path:
    """320x240 H.264 MP4, ``slices`` slices a picture, a keyframe every ``GOP``, no B-frames, every picture
    different (a blocky texture scrolled 3 pixels a frame)."""
    rng = np.random.default_rng(7)
    texture = np.kron(rng.integers(0, 255, (30, 40, 3), dtype=np.uint8), np.ones((8, 8, 1), np.uint8))
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        stream.time_base = Fraction(1, FPS * TICKS)
        stream.options = {
            "preset": "ultrafast",
            "x264-params": (
                f"keyint={GOP}:min-keyint={GOP}:scenecut=0:bframes=0:sliced-threads=0:slices={slices}"
            ),
        }
        for index in range(frames):
            frame = av.VideoFrame.from_ndarray(np.roll(texture, 3 * index, axis=1), format="bgr24")
            frame.pts = index * TICKS
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def slice_starts(data: bytes) -> list[int]:
    """Where each H.264 slice NAL unit of an Annex B packet starts (its start code)."""
    starts = []
    pos = data.find(b"\x00\x00\x01")
    while 0 <= pos < len(data) - 3:
        if data[pos + 3] & 0x1F in (1, 5):
            starts.append(pos - 1 if pos > 0 and data[pos - 1] == 0 else pos)  # a 4-byte start code
        pos = data.find(b"\x00\x00\x01", pos + 3)
    return starts
