"""Decode a video at the detection rate and hand out plain ``(ts_s, image)`` frames.

``iter_file_frames`` reads a file from start to end (``station analyze``); the live sampler built on the
packet fan-out uses the same :func:`should_sample` decision. Decoding is the only work here: frames go to
detection as BGR ``uint8`` arrays, with nothing from this package attached.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import av.error
import numpy as np
from numpy.typing import NDArray

from streams.error import StreamFormatError, StreamOpenError


@dataclass(frozen=True, slots=True)
class SampledFrame:
    """A decoded picture: ``ts_s`` seconds from the start of the stream, ``image`` BGR (h, w, 3)."""

    ts_s: float
    image: NDArray[np.uint8]
    keyframe: bool


def should_sample(ts_s: float, next_due_s: float | None, fps: float) -> tuple[bool, float | None]:
    """Keep a frame when it is due. Returns (keep, the next due time). Pure.

    Due times advance on a grid of ``1/fps`` from the first frame, and a late frame does not push the grid
    (a 10 fps source sampled at 5 fps keeps every second frame, not a drifting selection). A jump forwards of
    more than a second (a gap, a reconnect) restarts the grid at that frame; a jump backwards too.
    """
    period = 1.0 / fps
    tolerance = period * 0.1  # timestamps jitter; never so much that an extra frame slips in
    if next_due_s is None or ts_s < next_due_s - 1.0 - period or ts_s > next_due_s + 1.0:
        return True, ts_s + period
    if ts_s + tolerance >= next_due_s:
        due = next_due_s + period
        while due <= ts_s + tolerance:
            due += period
        return True, due
    return False, next_due_s


def iter_file_frames(path: Path, fps: float) -> Iterator[SampledFrame]:
    """Every frame of ``path``'s first video stream that is due at ``fps`` (all frames when the file has
    fewer). Raises :class:`StreamOpenError` for a file that cannot be opened, :class:`StreamFormatError`
    for one without video."""
    if fps <= 0:
        raise ValueError("fps must be positive")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as exc:
        raise StreamOpenError(f"{path}: cannot open as a video: {exc}") from exc
    with container:
        if not container.streams.video:
            raise StreamFormatError(f"{path}: has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        base = stream.time_base
        first_pts: int | None = None
        next_due: float | None = None
        try:
            for frame in container.decode(stream):
                if frame.pts is None or base is None:
                    continue
                first_pts = frame.pts if first_pts is None else first_pts
                ts_s = float((frame.pts - first_pts) * base)
                keep, next_due = should_sample(ts_s, next_due, fps)
                if keep:
                    image = np.asarray(frame.to_ndarray(format="bgr24"), np.uint8)
                    yield SampledFrame(ts_s, image, bool(frame.key_frame))
        except av.error.FFmpegError as exc:
            raise StreamFormatError(f"{path}: cannot decode: {exc}") from exc
