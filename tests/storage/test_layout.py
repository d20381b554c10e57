"""Segment path layout: pure functions, round trip, refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from storage.layout import (
    SegmentPathError,
    final_path,
    iter_segment_files,
    parse_segment_path,
    partial_path,
    resolve_relative,
    segment_path,
    segment_relative_path,
)

ROOT = Path("/srv/recordings")
START = datetime(2025, 3, 9, 23, 59, 58, 123456, tzinfo=UTC)


def test_segment_path_layout() -> None:
    path = segment_path(ROOT, "gate-1", START)
    assert path == ROOT / "gate-1/2025/03/09/23/gate-1-20250309T235958.123456Z.mp4"
    assert segment_relative_path("gate-1", START) == "gate-1/2025/03/09/23/gate-1-20250309T235958.123456Z.mp4"


def test_non_utc_input_is_converted_to_utc() -> None:
    almaty = START.astimezone(timezone(timedelta(hours=5)))
    assert segment_path(ROOT, "gate-1", almaty) == segment_path(ROOT, "gate-1", START)


@pytest.mark.parametrize(
    "start",
    [START, datetime(2024, 2, 29, 0, 0, tzinfo=UTC), datetime(2031, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)],
)
@pytest.mark.parametrize("camera", ["a", "entrance_2", "yard-3b", "x" * 32])
def test_round_trip(start: datetime, camera: str) -> None:
    path = segment_path(ROOT, camera, start)
    info = parse_segment_path(ROOT, path)
    assert (info.camera_id, info.start_utc, info.partial) == (camera, start, False)
    assert info.relative == segment_relative_path(camera, start)
    partial = parse_segment_path(ROOT, partial_path(path))
    assert partial.partial and partial.start_utc == start
    assert final_path(partial_path(path)) == path


def test_naive_datetime_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        segment_path(ROOT, "gate-1", datetime(2025, 1, 1))


@pytest.mark.parametrize("camera", ["../etc", "Gate", "", "a/b", ".hidden", "x" * 33])
def test_bad_camera_id_refused(camera: str) -> None:
    with pytest.raises(SegmentPathError, match="camera id"):
        segment_path(ROOT, camera, START)


@pytest.mark.parametrize(
    "path",
    [
        Path("/elsewhere/gate-1/2025/03/09/23/gate-1-20250309T235958.123456Z.mp4"),
        ROOT / "gate-1/2025/03/09/23/../23/gate-1-20250309T235958.123456Z.mp4",
        ROOT / "gate-1/2025/03/09/22/gate-1-20250309T235958.123456Z.mp4",  # wrong hour folder
        ROOT / "gate-2/2025/03/09/23/gate-1-20250309T235958.123456Z.mp4",  # wrong camera folder
        ROOT / "gate-1/2025/03/09/23/gate-1-20250309T235958Z.mp4",
        ROOT / "gate-1/2025/03/09/23/notes.txt",
        ROOT / "gate-1/2025/02/30/23/gate-1-20250230T235958.123456Z.mp4",
    ],
)
def test_parse_refuses_foreign_paths(path: Path) -> None:
    with pytest.raises(SegmentPathError):
        parse_segment_path(ROOT, path)


@pytest.mark.parametrize("relative", ["../x.mp4", "/abs/x.mp4", "a/../../x.mp4", "", "a//b.mp4/."])
def test_resolve_relative_refuses_traversal(relative: str) -> None:
    with pytest.raises(SegmentPathError):
        resolve_relative(ROOT, relative)


def test_resolve_relative() -> None:
    relative = segment_relative_path("gate-1", START)
    assert resolve_relative(ROOT, relative) == segment_path(ROOT, "gate-1", START)


def test_iter_segment_files_prunes_old_hours(tmp_path: Path) -> None:
    starts = [START - timedelta(hours=h) for h in (0, 1, 30, 24 * 40)]
    for start in starts:
        path = segment_path(tmp_path, "gate-1", start)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    (tmp_path / "gate-1/2025/03/09/23/stray.txt").write_bytes(b"")
    everything = list(iter_segment_files(tmp_path, "gate-1"))
    assert len(everything) == 5
    recent = list(iter_segment_files(tmp_path, "gate-1", since_utc=START - timedelta(hours=1, minutes=30)))
    names = sorted(p.name for p in recent)
    assert names == sorted([segment_path(tmp_path, "gate-1", s).name for s in starts[:2]] + ["stray.txt"])
    assert list(iter_segment_files(tmp_path, "absent")) == []
