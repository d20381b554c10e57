"""A still of recorded footage: the frame a segment file shows at an instant, decoded with PyAV, as a JPEG.

A segment starts on a keyframe, so the frame is found by seeking to the keyframe at or before the instant
and decoding forward: the still is the last frame whose presentation time is not after the instant (the
frame on screen then, within :data:`INSTANT_TOLERANCE_S`), encoded at full resolution. Its time is that
frame's own, so the record says exactly which frame it is. The source is a closed segment file or the
readable bytes of one still being written.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO, Final

import av
from av.error import FFmpegError

#: How far past its last frame a segment's index end may reach (the last frame's duration, a clock step).
LAST_FRAME_SLACK_S: Final = 1.0
#: A frame starting this little after the instant is the one meant: rounding of media times to
#: microseconds (the browser) and to the stream's time base (90 kHz), far below a frame's duration.
INSTANT_TOLERANCE_S: Final = 0.00002
JPEG_QSCALE: Final = "2"


class StillError(ValueError):
    """No frame at that instant could be decoded from the segment."""


@dataclass(frozen=True, slots=True)
class DecodedStill:
    """A decoded frame as a JPEG: its offset from the start of the file, size and hash."""

    jpeg: bytes
    offset_s: float
    width: int
    height: int
    sha256: str


def _encode_jpeg(frame: av.VideoFrame, time_base: Fraction) -> bytes:
    image = frame.reformat(format="yuvj420p")
    encoder = av.CodecContext.create("mjpeg", "w")
    encoder.width, encoder.height = frame.width, frame.height
    encoder.pix_fmt = "yuvj420p"
    encoder.time_base = time_base
    encoder.options = {"qscale": JPEG_QSCALE}
    packets = [*encoder.encode(image), *encoder.encode(None)]
    return b"".join(bytes(p) for p in packets)


def _frame_at(
    container: av.container.InputContainer, offset_s: float
) -> tuple[av.VideoFrame, float, Fraction]:
    stream = container.streams.video[0]
    time_base = stream.time_base or Fraction(1, 90000)
    base = float((stream.start_time or 0) * time_base)
    container.seek(int((base + max(offset_s, 0.0)) / time_base), stream=stream, backward=True)
    chosen: tuple[av.VideoFrame, float] | None = None
    for frame in container.decode(stream):
        if frame.pts is None:
            continue
        at = float(frame.pts * time_base) - base
        if at > offset_s + INSTANT_TOLERANCE_S and chosen is not None:
            break
        chosen = (frame, at)
    if chosen is None:
        raise StillError("the file has no decodable frame")
    if chosen[1] > offset_s + INSTANT_TOLERANCE_S or offset_s - chosen[1] > LAST_FRAME_SLACK_S:
        raise StillError(f"no frame at {offset_s:.3f} s (nearest at {chosen[1]:.3f} s)")
    return chosen[0], chosen[1], time_base


def decode_still(source: Path | BinaryIO, *, offset_s: float) -> DecodedStill:
    """The frame shown ``offset_s`` seconds after the start of ``source``, as a full-size JPEG."""
    try:
        with av.open(source if not isinstance(source, Path) else str(source), mode="r") as container:
            frame, at, time_base = _frame_at(container, offset_s)
            jpeg = _encode_jpeg(frame, time_base)
    except (FFmpegError, IndexError, OSError) as exc:
        raise StillError(f"cannot decode a still: {exc}") from exc
    return DecodedStill(
        jpeg=jpeg,
        offset_s=at,
        width=frame.width,
        height=frame.height,
        sha256=hashlib.sha256(jpeg).hexdigest(),
    )


def decode_still_bytes(data: bytes, *, offset_s: float) -> DecodedStill:
    """:func:`decode_still` of a file's bytes in memory (the readable part of a file being written)."""
    return decode_still(io.BytesIO(data), offset_s=offset_s)
