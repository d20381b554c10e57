"""Scrubbing thumbnails: a small JPEG of a segment's first keyframe, decoded with PyAV and cached on disk.

A segment starts on a keyframe, so only one frame is decoded. The JPEG is cached as
``<cache_dir>/<segment id>.jpg`` (segments never change once closed); a cache write is atomic (temp file then
rename) so a concurrent reader never sees half a file.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Final

import av
from av.error import FFmpegError

logger = logging.getLogger(__name__)

THUMBNAIL_WIDTH: Final = 320


class ThumbnailError(ValueError):
    """The segment's first frame could not be decoded."""


def _scaled(width: int, height: int) -> tuple[int, int]:
    scaled_height = max(2, round(height * THUMBNAIL_WIDTH / max(width, 1) / 2) * 2)
    return THUMBNAIL_WIDTH, scaled_height


def render_thumbnail(path: Path) -> bytes:
    """JPEG bytes of the first decodable frame of ``path``."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                width, height = _scaled(frame.width, frame.height)
                image = frame.reformat(width=width, height=height, format="yuvj420p")
                encoder = av.CodecContext.create("mjpeg", "w")
                encoder.width, encoder.height = width, height
                encoder.pix_fmt = "yuvj420p"
                encoder.time_base = stream.time_base or encoder.time_base
                encoder.options = {"qscale": "4"}
                packets = [*encoder.encode(image), *encoder.encode(None)]
                return b"".join(bytes(p) for p in packets)
    except (FFmpegError, IndexError, OSError) as exc:
        raise ThumbnailError(f"cannot decode {path.name}: {exc}") from exc
    raise ThumbnailError(f"{path.name} has no decodable frame")


def segment_thumbnail(path: Path, cache_dir: Path, segment_id: int) -> bytes:
    """The cached thumbnail of segment ``segment_id`` (rendered on first use)."""
    cached = cache_dir / f"{int(segment_id)}.jpg"
    try:
        return cached.read_bytes()
    except FileNotFoundError:
        pass
    data = render_thumbnail(path)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(dir=cache_dir, suffix=".tmp")
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        Path(temp).replace(cached)
    except OSError as exc:  # a full or read-only disk only costs the cache
        logger.warning("thumbnail cache not written for segment %d: %s", segment_id, exc)
    return data
