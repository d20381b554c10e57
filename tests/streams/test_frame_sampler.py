"""Sampling decoded frames at the detection rate."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.error import StreamOpenError
from streams.frame_sampler import iter_file_frames, should_sample


def _select(timestamps: list[float], fps: float) -> list[float]:
    due: float | None = None
    kept = []
    for ts in timestamps:
        keep, due = should_sample(ts, due, fps)
        if keep:
            kept.append(ts)
    return kept


def test_every_second_frame_of_a_10_fps_stream_at_5_fps() -> None:
    ts = [i / 10 for i in range(20)]
    assert _select(ts, 5) == [round(i * 0.2, 1) for i in range(10)]


def test_a_25_fps_stream_at_5_fps_keeps_every_fifth_without_drift() -> None:
    ts = [i * 0.04 for i in range(250)]
    kept = _select(ts, 5)
    assert len(kept) == 50
    assert all(abs(k - i * 0.2) < 0.021 for i, k in enumerate(kept))


def test_a_slower_source_keeps_every_frame() -> None:
    ts = [i * 0.5 for i in range(10)]
    assert _select(ts, 5) == ts


def test_a_gap_or_a_jump_back_restarts_the_grid() -> None:
    ts = [0.0, 0.2, 0.4, 10.0, 10.2, 3.0, 3.2]
    assert _select(ts, 5) == ts


def test_file_frames_at_5_fps(small_clip: Path) -> None:
    frames = list(iter_file_frames(small_clip, 5))
    assert len(frames) == 20  # 4 s of 25 fps
    assert frames[0].ts_s == 0 and frames[1].ts_s == pytest.approx(0.2)
    assert frames[0].image.shape == (360, 640, 3) and frames[0].keyframe


def test_a_file_that_is_not_a_video(tmp_path: Path) -> None:
    bogus = tmp_path / "x.mp4"
    bogus.write_text("nope")
    with pytest.raises(StreamOpenError, match=r"x\.mp4"):
        list(iter_file_frames(bogus, 5))
