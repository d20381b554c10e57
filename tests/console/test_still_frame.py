"""console.still_frame: the frame a real encoded segment shows at an instant (frame marks tell which)."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import av
import pytest

from console.still_frame import StillError, decode_still, decode_still_bytes
from tests.support.segments import SegmentFile, read_frame_mark, write_segment_set


@pytest.fixture(scope="module")
def segment(tmp_path_factory: pytest.TempPathFactory) -> SegmentFile:
    root = tmp_path_factory.mktemp("still")
    [made] = write_segment_set(root, "cam", datetime(2026, 1, 1, tzinfo=UTC), count=1, segment_s=4.0, gop=25)
    return made


def mark_of(jpeg: bytes) -> int:
    with av.open(io.BytesIO(jpeg), mode="r") as container:
        return read_frame_mark(next(container.decode(video=0)))


@pytest.mark.parametrize(
    ("offset_s", "frame"),
    [
        (0.0, 0),
        (0.039, 0),  # frame 0 is on screen until 0.04 s
        (0.0399, 0),
        (0.04, 1),  # frame 1 from its first microsecond
        (0.04 - 0.00001, 1),  # ... give or take the rounding of media times
        (0.0799, 1),
        (1.02, 25),  # past the first keyframe after the start: seek, then decode forward
        (3.99, 99),  # the last frame
    ],
)
def test_the_still_is_the_frame_on_screen_at_the_instant(
    segment: SegmentFile, offset_s: float, frame: int
) -> None:
    still = decode_still(segment.path, offset_s=offset_s)
    assert mark_of(still.jpeg) == frame
    assert still.offset_s == pytest.approx(frame / 25)
    assert (still.width, still.height) == (640, 360)


def test_bytes_in_memory_give_the_same_still(segment: SegmentFile) -> None:
    from_file = decode_still(segment.path, offset_s=2.5)
    assert decode_still_bytes(segment.path.read_bytes(), offset_s=2.5).sha256 == from_file.sha256


def test_no_frame_there_or_no_video_is_a_still_error(segment: SegmentFile, tmp_path: Path) -> None:
    with pytest.raises(StillError, match="no frame at"):
        decode_still(segment.path, offset_s=6.0)  # past the last frame by more than the slack
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"not a video at all" * 100)
    with pytest.raises(StillError):
        decode_still(garbage, offset_s=0.0)
    assert issubclass(StillError, ValueError)
