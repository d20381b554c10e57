"""Why a recording file could not be written, from its ``errno``: the gap reason and the recorder's alarm.

- ``disk_full``: no space (ENOSPC) or quota (EDQUOT); retention may free space and recording resumes;
- ``disk_io_error``: the disk itself fails: EIO (a dying drive, a cable, a controller), EROFS (the kernel
  remounted the file system read-only after such errors), ENXIO/ENODEV (the disk went away). Someone must look
  at the drive; recording resumes by itself if writes work again;
- ``recorder_error``: anything else (a permission changed, a bug).
"""

from __future__ import annotations

import errno
from typing import Final

from storage.model import GapReason

DISK_FULL_ERRNOS: Final = frozenset({errno.ENOSPC, errno.EDQUOT})
DISK_IO_ERRNOS: Final = frozenset({errno.EIO, errno.EROFS, errno.ENXIO, errno.ENODEV})


def disk_error_reason(error_number: int | None) -> GapReason:
    """The gap reason (and alarm) of a write that failed with ``error_number``; pure."""
    if error_number in DISK_FULL_ERRNOS:
        return GapReason.DISK_FULL
    if error_number in DISK_IO_ERRNOS:
        return GapReason.DISK_IO_ERROR
    return GapReason.RECORDER_ERROR
