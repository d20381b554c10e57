"""Memory probe for long benchmark runs: where a station process's memory goes, sampled from inside it.

Put this directory first on ``PYTHONPATH`` of the run and name an output file; every Python process of the
run imports this module at start-up (``sitecustomize``), and the one whose command line names ``station``
starts a daemon thread that appends one JSON line every ``MEMPROBE_S`` seconds (default 60)::

    PYTHONPATH=bench/memprobe MEMPROBE_OUT=/tmp/mem.jsonl .venv/bin/python bench/soak.py ...

Each line: seconds since start; ``/proc/self/status`` RSS split into anonymous, file-backed and shared;
glibc's ``mallinfo2()`` (arena bytes, bytes in use, bytes free inside the arenas, mmapped bytes); SQLite's
own heap (``sqlite3_memory_used``); Python's count of allocated blocks (``sys.getallocatedblocks``) and
threads. Live data that grows shows in the bytes in use or the block count; RSS that grows while they stay
flat is free memory held inside the allocator's arenas (fragmentation), not a leak. The station never
imports this module; a probe that cannot load a library writes ``null`` for what it cannot read.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys
import threading
import time
from typing import Any

OUT = os.environ.get("MEMPROBE_OUT")
MALLINFO2_FIELDS = (
    "arena",
    "ordblks",
    "smblks",
    "hblks",
    "hblkhd",
    "usmblks",
    "fsmblks",
    "uordblks",
    "fordblks",
    "keepcost",
)


class Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in MALLINFO2_FIELDS]


def rss_kib() -> dict[str, int]:
    """RSS and its parts from ``/proc/self/status``, KiB."""
    found: dict[str, int] = {}
    with open("/proc/self/status") as status:
        for line in status:
            key = line.split(":", 1)[0]
            if key in ("VmRSS", "RssAnon", "RssFile", "RssShmem"):
                found[key] = int(line.split()[1])
    return found


def sample(began: float, libc: Any, sqlite: Any) -> dict[str, Any]:
    row: dict[str, Any] = {"t": round(time.monotonic() - began), "rss_kib": rss_kib()}
    row["malloc"] = None
    if libc is not None:
        info = libc.mallinfo2()
        row["malloc"] = {
            "arena": info.arena,
            "in_use": info.uordblks,
            "free": info.fordblks,
            "mmapped": info.hblkhd,
        }
    row["sqlite_bytes"] = sqlite.sqlite3_memory_used() if sqlite is not None else None
    row["python_blocks"] = sys.getallocatedblocks()
    row["threads"] = threading.active_count()
    return row


def load(name: str) -> Any:
    try:
        return ctypes.CDLL(name)
    except OSError:
        return None


def run(path: str, period_s: float) -> None:
    began = time.monotonic()
    libc = load("libc.so.6")
    if libc is not None and hasattr(libc, "mallinfo2"):
        libc.mallinfo2.restype = Mallinfo2
    else:
        libc = None
    sqlite = load("libsqlite3.so.0")
    if sqlite is not None:
        sqlite.sqlite3_memory_used.restype = ctypes.c_int64
    with open(path, "a") as out:
        while True:
            time.sleep(period_s)
            out.write(json.dumps(sample(began, libc, sqlite)) + "\n")
            out.flush()


if OUT and sys.argv and "station" in os.path.basename(sys.argv[0]):
    threading.Thread(
        target=run, args=(OUT, float(os.environ.get("MEMPROBE_S", "60"))), name="memprobe", daemon=True
    ).start()
