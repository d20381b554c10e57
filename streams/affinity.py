"""Which CPUs the station's media threads run on, and pinning a thread there.

The media threads are every camera's ingest thread (demux, stamping, fan-out, and the recorder's mux,
which runs on it), the disk writer, the disk syncer and the recorders' housekeeper. Each camera thread
hands the interpreter lock on several times per packet: PyAV releases it around the demux read, the
packet's allocation and its release, and the mux. When those threads are spread over two cores, every
hand-off wakes a waiter on the other core, which takes the lock, and the thread that gave it up sleeps
until it comes back: a pair of context switches, each dear on a virtual machine. On one core the thread that
released the lock takes it back before the woken one runs. Measured with ``bench/record_breakdown.py`` at
16 cameras on the 2-core bench machine: 0.433 -> 0.287 CPU s per stream per minute, 4,026 -> 786 context
switches per second (ffmpeg's segmenter, a process per camera: 0.255 and 829).

So by default (``recording.media_cpus: auto``) the media threads share the last CPU of the machine, one more
per :data:`STREAMS_PER_CPU` camera streams, and always leave at least one CPU to everything else (web
console, live view, detection), which the kernel schedules as before. ``all`` turns pinning off; a list of
CPU numbers pins to exactly those.
"""

from __future__ import annotations

import logging
import math
import os
import threading
from collections.abc import Sequence, Set

from config.verify import cpu_list, unavailable_cpus_message

logger = logging.getLogger(__name__)

#: Camera streams per media CPU under ``auto``. 64 streams of 1080p at 4 Mbit/s took a third of one core
#: (0.305 CPU s per stream per minute), so 96 leave room for higher bitrates and bursts.
STREAMS_PER_CPU = 96

MediaCpuSetting = str | Sequence[int]


class UnavailableCpuError(ValueError):
    """The configured media CPUs are not all available to the station."""


def plan_media_cpus(setting: MediaCpuSetting, available: Set[int], streams: int) -> frozenset[int] | None:
    """The CPUs the media threads of ``streams`` camera streams run on, or None to leave them unpinned;
    pure. ``available`` is the station's own CPU set (``os.sched_getaffinity``)."""
    if setting == "all":
        return None
    if isinstance(setting, str):
        if setting != "auto":
            raise ValueError(f"unknown media CPU setting {setting!r}: expected 'auto', 'all' or CPU numbers")
        if len(available) < 2 or streams < 1:
            return None
        count = min(len(available) - 1, math.ceil(streams / STREAMS_PER_CPU))
        return frozenset(sorted(available)[-count:])
    cpus = frozenset(setting)
    if not cpus:
        raise ValueError("media CPUs: the list is empty")
    unavailable = unavailable_cpus_message(cpus, available)
    if unavailable is not None:
        raise UnavailableCpuError(unavailable)
    return cpus


def available_cpus() -> frozenset[int]:
    """The CPUs the calling thread may run on."""
    return frozenset(os.sched_getaffinity(0))


def pin_current_thread(cpus: Set[int] | None, label: str) -> None:
    """Run the calling thread (only it: Linux's affinity is per thread) on ``cpus``; None leaves it as it is.
    A refusal (a container that forbids it) is logged and the thread goes on unpinned."""
    if cpus is None:
        return
    try:
        os.sched_setaffinity(0, cpus)
    except OSError as exc:
        logger.warning("%s: cannot run on CPU %s: %s", label, cpu_list(cpus), exc.strerror or exc)


def lower_current_thread_priority(nice: int, label: str) -> None:
    """Give the calling thread (only it: Linux's nice value is per thread) the nice value ``nice`` when that
    is lower priority than it has; 0 leaves it as it is. A refusal is logged and the thread goes on."""
    if nice <= 0:
        return
    tid = threading.get_native_id()
    try:
        if os.getpriority(os.PRIO_PROCESS, tid) < nice:
            os.setpriority(os.PRIO_PROCESS, tid, nice)
    except OSError as exc:
        logger.warning("%s: cannot lower its priority to nice %d: %s", label, nice, exc.strerror or exc)
