"""A thread's CPU affinity as the kernel reports it, for tests of :mod:`streams.affinity`, and
:func:`affinity_after` for tests that a library leaves a pinned thread where it was."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path


def allowed_cpus(native_id: int) -> set[int]:
    """The CPUs thread ``native_id`` of this process may run on (``Cpus_allowed_list`` such as ``0-2,5``)."""
    status = Path(f"/proc/self/task/{native_id}/status").read_text()
    lines = status.splitlines()
    [listed] = [line.split(":", 1)[1].strip() for line in lines if line.startswith("Cpus_allowed_list")]
    cpus: set[int] = set()
    for part in listed.split(","):
        low, _, high = part.partition("-")
        cpus.update(range(int(low), int(high or low) + 1))
    return cpus


def affinity_after(cpu: int, work: Callable[[], object], *, timeout_s: float = 120.0) -> list[set[int]]:
    """Run ``work`` on a new thread pinned to ``cpu``; the thread's CPUs once it is done (``[]`` when
    ``work`` failed or did not finish within ``timeout_s``)."""
    seen: list[set[int]] = []

    def run() -> None:
        os.sched_setaffinity(0, {cpu})  # this thread only (Linux)
        work()
        seen.append(set(os.sched_getaffinity(0)))

    worker = threading.Thread(target=run)
    worker.start()
    worker.join(timeout=timeout_s)
    return seen
