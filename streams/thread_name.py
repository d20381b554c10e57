"""Native thread names: ``top -H``, ``ps -L``, ``perf`` and ``/proc/<pid>/task/*/comm`` show which camera
stream (or which media service) a thread of the station serves, not 64 threads all called ``python``.

Python (before 3.14) names its threads only for itself. Linux keeps its own name per thread, at most 15
bytes, set with ``prctl(PR_SET_NAME)``; each thread sets a short one itself (the camera first, so that the
cut keeps it), cut to fit. Elsewhere, or when the C library cannot be reached, nothing changes: a name is
a convenience, never a reason to fail.
"""

from __future__ import annotations

import ctypes
import logging
import sys

logger = logging.getLogger(__name__)

PR_SET_NAME = 15  # <linux/prctl.h>
NATIVE_NAME_BYTES = 15  # TASK_COMM_LEN (16) less the terminating NUL


def native_name(name: str) -> bytes:
    """``name`` as Linux keeps a thread name: UTF-8, at most 15 bytes, no character cut in half; pure."""
    encoded = name.encode("utf-8", errors="replace")
    if len(encoded) <= NATIVE_NAME_BYTES:
        return encoded
    return encoded[:NATIVE_NAME_BYTES].decode("utf-8", errors="ignore").encode("utf-8")


def name_current_thread(name: str) -> bool:
    """Give the calling thread (only it) the native name ``name`` (cut to 15 bytes); whether it was set."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        result = libc.prctl(PR_SET_NAME, ctypes.c_char_p(native_name(name)), 0, 0, 0)
    except (OSError, AttributeError) as exc:
        logger.debug("%s: cannot set the native thread name: %s", name, exc)
        return False
    if result != 0:
        logger.debug("%s: prctl(PR_SET_NAME) failed: errno %d", name, ctypes.get_errno())
        return False
    return True
