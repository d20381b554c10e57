"""A recordings disk that fails with an I/O error that is not ENOSPC (issue 26): EIO from a dying drive, or
EROFS once the kernel has remounted its file system read-only after such errors. The error is injected at
the recorder's file-opening seam (a real file whose writes start failing): a real failing block device
was tried and is not safe on this kernel (see docs/reliability.md, "Disk I/O error").

Expected: the recorder stops with the alarm ``disk_io_error`` and the error's text; the footage already on
disk stays as it is (what is complete of the failing file is kept as ``recovered``); the seconds lost are a
gap row with the reason ``disk_io_error``; once writes work again, recording resumes by itself and the gap
closes; the alarm clears.
"""

from __future__ import annotations

import errno
import hashlib
import os
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO, cast

import pytest

from storage.database import Database
from storage.layout import resolve_relative
from storage.model import GapReason
from streams.disk_error import disk_error_reason
from streams.recorder import RecorderState, SegmentRecorder
from tests.streams.test_recorder import (
    SQLITE_ONLY,
    T0,
    SeamFile,
    feed,
    gaps,
    packets,
    pets,  # noqa: F401
    segments,
    settings,
)
from tests.support.mp4 import probe_file


class FailingDisk(SeamFile):
    """A real file whose writes fail with ``error_number`` while ``failing[0]`` is set, after ``limit``
    bytes."""

    def __init__(self, path: Path, limit: int, error_number: int, failing: list[bool]) -> None:
        super().__init__(path)
        self._limit = limit
        self._errno = error_number
        self._failing = failing
        self._written = 0

    def write(self, data: object) -> int:
        view = memoryview(data).cast("B")  # type: ignore[arg-type]
        if self._failing[0] and self._written + len(view) > self._limit:
            raise OSError(self._errno, os.strerror(self._errno))
        self._written += len(view)
        return super().write(view)


@pytest.mark.parametrize(
    ("error_number", "reason"),
    [
        (errno.ENOSPC, GapReason.DISK_FULL),
        (errno.EDQUOT, GapReason.DISK_FULL),
        (errno.EIO, GapReason.DISK_IO_ERROR),
        (errno.EROFS, GapReason.DISK_IO_ERROR),
        (errno.ENODEV, GapReason.DISK_IO_ERROR),
        (errno.ENXIO, GapReason.DISK_IO_ERROR),
        (errno.EACCES, GapReason.RECORDER_ERROR),
        (None, GapReason.RECORDER_ERROR),
    ],
)
def test_disk_error_reason(error_number: int | None, reason: GapReason) -> None:
    assert disk_error_reason(error_number) is reason


@SQLITE_ONLY
@pytest.mark.parametrize("error_number", [errno.EIO, errno.EROFS], ids=["EIO", "EROFS"])
def test_an_io_error_raises_an_alarm_naming_it_keeps_the_footage_and_resumes(
    database: Database,
    tmp_path: Path,
    pets: Path,  # noqa: F811
    error_number: int,
) -> None:
    items = packets(pets)[:150]
    failing = [False]

    def opener(path: Path) -> BinaryIO:
        return cast(BinaryIO, FailingDisk(path, 600_000, error_number, failing))

    recorder = SegmentRecorder(
        camera_id="cam-1", db=database, root=tmp_path, settings=settings(disk_retry_s=3600), opener=opener
    )
    feed(recorder, items[:30])  # 3 s recorded while the disk works
    failing[0] = True
    feed(recorder, items[30:90])
    status = recorder.status()
    assert status.state is RecorderState.DISK_ERROR
    assert status.alarm == "disk_io_error", status
    assert status.last_error is not None and os.strerror(error_number) in status.last_error
    assert status.gap_reason is GapReason.DISK_IO_ERROR
    rows = segments(database)
    assert [r.status for r in rows] == ["recovered"]  # what is complete of the failing file is kept
    kept = resolve_relative(tmp_path, rows[0].path)
    assert hashlib.sha256(kept.read_bytes()).hexdigest() == rows[0].sha256
    assert probe_file(kept).first_is_keyframe
    assert [(g.reason, g.end_utc) for g in gaps(database)] == [("disk_io_error", None)]
    assert gaps(database)[0].start_utc == rows[0].end_utc

    # the disk works again and the retry time has come: recording resumes at the next keyframe
    failing[0] = False
    recorder.settings = settings(disk_retry_s=0)
    recorder._disk_retry_at = 0.0  # the retry deadline passed (monotonic clock not faked)
    feed(recorder, items[90:150])
    status = recorder.status()
    assert status.state is RecorderState.RECORDING and status.alarm is None
    recorder.stop()
    io_gap = gaps(database)[0]
    assert io_gap.reason == "disk_io_error" and io_gap.end_utc == T0 + timedelta(seconds=9)
    rows = segments(database)
    assert [r.status for r in rows] == ["recovered", "closed"]
    assert rows[1].start_utc == io_gap.end_utc
