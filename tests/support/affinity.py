"""A thread's CPU affinity as the kernel reports it, for tests of :mod:`streams.affinity`."""

from __future__ import annotations

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
