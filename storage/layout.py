"""Where segment files live: pure functions from (camera, start time) to a path and back.

Layout (all UTC)::

    ROOT/<camera>/YYYY/MM/DD/HH/<camera>-YYYYMMDDTHHMMSS.ffffffZ.mp4

A file being written carries the extra suffix ``.partial`` and is renamed when it is closed. The index stores
paths relative to the recordings root (POSIX separators) so the disk can be moved. Nothing here touches the
file system except :func:`iter_segment_files`, which only lists directories.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath

from config.schema import is_slug

SEGMENT_SUFFIX = ".mp4"
PARTIAL_SUFFIX = ".partial"
_STAMP_FORMAT = "%Y%m%dT%H%M%S.%fZ"
_FILE_NAME = re.compile(
    r"^(?P<camera>[a-z0-9][a-z0-9_-]{0,31})-(?P<stamp>\d{8}T\d{6}\.\d{6}Z)\.mp4(?P<partial>\.partial)?$"
)


class SegmentPathError(ValueError):
    """A path that is not a segment path of this layout (or would escape the recordings root)."""


@dataclass(frozen=True, slots=True)
class SegmentPathInfo:
    """What a segment path says: whose footage, when it starts, and whether it is still being written."""

    camera_id: str
    start_utc: datetime
    partial: bool
    relative: str  # POSIX path relative to the recordings root, without ``.partial``


def _require_utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r} refused: segment times are timezone-aware UTC")
    return value.astimezone(UTC)


def _require_camera(camera_id: str) -> str:
    if not is_slug(camera_id):
        raise SegmentPathError(
            f"invalid camera id {camera_id!r}: expected a slug (lower-case letters, digits, '-', '_')"
        )
    return camera_id


def segment_file_name(camera_id: str, start_utc: datetime) -> str:
    start = _require_utc(start_utc)
    return f"{_require_camera(camera_id)}-{start.strftime(_STAMP_FORMAT)}{SEGMENT_SUFFIX}"


def segment_relative_path(camera_id: str, start_utc: datetime) -> str:
    """The index's ``segments.path`` value: ``<camera>/YYYY/MM/DD/HH/<file>`` with POSIX separators."""
    start = _require_utc(start_utc)
    hour_dir = PurePosixPath(camera_id, f"{start:%Y}", f"{start:%m}", f"{start:%d}", f"{start:%H}")
    return str(hour_dir / segment_file_name(camera_id, start))


def segment_path(root: Path, camera_id: str, start_utc: datetime) -> Path:
    """Absolute location of the segment of ``camera_id`` starting at ``start_utc`` under ``root``."""
    return root.joinpath(*PurePosixPath(segment_relative_path(camera_id, start_utc)).parts)


def partial_path(path: Path) -> Path:
    """The name a segment has while it is being written."""
    return path.with_name(path.name + PARTIAL_SUFFIX)


def final_path(path: Path) -> Path:
    """The closed name of a ``.partial`` path (unchanged when it is not partial)."""
    return path.with_name(path.name.removesuffix(PARTIAL_SUFFIX))


def resolve_relative(root: Path, relative: str) -> Path:
    """``root / relative`` for a stored index path, refusing anything that would leave ``root``."""
    parts = relative.split("/")
    if any(part in ("..", ".", "") or "\\" in part for part in parts):
        raise SegmentPathError(f"stored path {relative!r} is not a plain relative path")
    return root.joinpath(*parts)


def parse_segment_path(root: Path, path: Path) -> SegmentPathInfo:
    """Inverse of :func:`segment_path` (``.partial`` accepted); :class:`SegmentPathError` otherwise."""
    try:
        relative = PurePosixPath(*path.relative_to(root).parts)
    except ValueError as exc:
        raise SegmentPathError(f"{path} is not under the recordings root {root}") from exc
    if any(part in ("..", ".") for part in relative.parts):
        raise SegmentPathError(f"{path} contains '..' or '.': refused")
    match = _FILE_NAME.match(relative.name)
    if match is None:
        raise SegmentPathError(f"{relative.name!r} is not a segment file name (<camera>-<UTC stamp>.mp4)")
    camera_id = match["camera"]
    try:
        start = datetime.strptime(match["stamp"], _STAMP_FORMAT).replace(tzinfo=UTC)
    except ValueError as exc:
        raise SegmentPathError(f"{relative.name!r} has an invalid time stamp") from exc
    expected = segment_relative_path(camera_id, start)
    closed_relative = str(relative.with_name(relative.name.removesuffix(PARTIAL_SUFFIX)))
    if closed_relative != expected:
        raise SegmentPathError(f"{relative} is not where the layout puts it (expected {expected})")
    return SegmentPathInfo(
        camera_id=camera_id, start_utc=start, partial=match["partial"] is not None, relative=expected
    )


def iter_segment_files(root: Path, camera_id: str, *, since_utc: datetime | None = None) -> Iterator[Path]:
    """Files in ``camera_id``'s hour folders (sorted), skipping hours that end before ``since_utc``.

    Yields every file found (segments, partials and anything foreign) so the caller can report strangers.
    """
    camera_dir = root / _require_camera(camera_id)
    since = None if since_utc is None else _require_utc(since_utc)
    yield from _walk(camera_dir, (), since)


def _walk(directory: Path, parts: tuple[str, ...], since: datetime | None) -> Iterator[Path]:
    try:
        entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
    except (FileNotFoundError, NotADirectoryError):
        return
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            if len(parts) >= 4:
                continue
            sub = (*parts, entry.name)
            if since is not None and not _may_hold_since(sub, since):
                continue
            yield from _walk(Path(entry.path), sub, since)
        elif entry.is_file(follow_symlinks=False) and len(parts) == 4:
            yield Path(entry.path)


def _may_hold_since(parts: tuple[str, ...], since: datetime) -> bool:
    """Whether the Y[/M[/D[/H]]] folder prefix can hold files of hours ending after ``since``."""
    last = _last_hour_of_prefix(parts)
    if last is None:
        return True  # not a date folder: walk it so its files are reported as foreign
    return last + timedelta(hours=1) > since


def _last_hour_of_prefix(parts: tuple[str, ...]) -> datetime | None:
    try:
        numbers = [int(p) for p in parts]
        if len(numbers) == 1:
            return datetime(numbers[0], 12, 31, 23, tzinfo=UTC)
        if len(numbers) == 2:
            year, month = numbers
            first_next = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
            return first_next - timedelta(hours=1)
        if len(numbers) == 3:
            year, month, day = numbers
            return datetime(year, month, day, 23, tzinfo=UTC)
        year, month, day, hour = numbers
        return datetime(year, month, day, hour, tzinfo=UTC)
    except ValueError:
        return None
