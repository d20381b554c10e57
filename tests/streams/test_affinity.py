"""Media CPUs: the plan (pure), pinning a thread, and the media threads that pin themselves to the plan."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import pytest

from streams.affinity import (
    UnavailableCpuError,
    available_cpus,
    lower_current_thread_priority,
    pin_current_thread,
    plan_media_cpus,
)
from streams.disk_sync import DiskSyncer
from streams.disk_writer import DiskWriter
from streams.ingest import IngestWorker
from streams.recorder import Housekeeper
from streams.source import SourceSpec
from tests.streams.ingest_helpers import wait_for
from tests.support.affinity import allowed_cpus

# --------------------------------------------------------------------------------------------- the plan


@pytest.mark.parametrize(
    ("available", "streams", "expected"),
    [
        ({0, 1}, 64, {1}),  # the bench machine: the last CPU
        ({0, 1}, 500, {1}),  # always one CPU left for the rest
        ({0, 1, 2, 3, 4, 5, 6, 7}, 96, {7}),
        ({0, 1, 2, 3, 4, 5, 6, 7}, 97, {6, 7}),  # one more per 96 streams
        ({0, 1, 2, 3}, 1000, {1, 2, 3}),
        ({2, 5, 9}, 10, {9}),  # a container's CPU set need not start at 0 nor be contiguous
    ],
)
def test_auto_takes_the_last_cpus(available: set[int], streams: int, expected: set[int]) -> None:
    assert plan_media_cpus("auto", available, streams) == frozenset(expected)


@pytest.mark.parametrize(("available", "streams"), [({0}, 64), ({3}, 1), ({0, 1}, 0)])
def test_auto_leaves_threads_unpinned_on_one_cpu_or_without_cameras(
    available: set[int], streams: int
) -> None:
    assert plan_media_cpus("auto", available, streams) is None


def test_all_and_explicit_lists() -> None:
    assert plan_media_cpus("all", {0, 1, 2}, 64) is None
    assert plan_media_cpus([0, 2], {0, 1, 2}, 64) == frozenset({0, 2})
    assert plan_media_cpus((0, 1, 2), {0, 1, 2}, 64) == frozenset({0, 1, 2})  # every CPU: allowed


def test_unavailable_or_empty_lists_are_refused() -> None:
    with pytest.raises(
        UnavailableCpuError, match=r"^CPU 3, 8 not available to the station \(it may run on 0, 1\)$"
    ):
        plan_media_cpus([1, 3, 8], {0, 1}, 4)
    with pytest.raises(ValueError, match="empty"):
        plan_media_cpus([], {0, 1}, 4)
    with pytest.raises(ValueError, match="unknown media CPU setting 'some'"):
        plan_media_cpus("some", {0, 1}, 4)


# ------------------------------------------------------------------------------------------- pinning


def _last_cpu() -> frozenset[int]:
    return frozenset({max(available_cpus())})


def test_pinning_touches_only_the_calling_thread_and_the_threads_it_starts() -> None:
    before = available_cpus()
    seen: dict[str, set[int]] = {}

    def media() -> None:
        pin_current_thread(_last_cpu(), "media")
        seen["media"] = os.sched_getaffinity(0)
        child = threading.Thread(target=lambda: seen.update(child=os.sched_getaffinity(0)))
        child.start()
        child.join()

    thread = threading.Thread(target=media)
    thread.start()
    thread.join()
    assert seen == {"media": set(_last_cpu()), "child": set(_last_cpu())}
    assert available_cpus() == before  # the main thread keeps every CPU


def test_none_leaves_the_thread_alone_and_a_refusal_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    before = available_cpus()
    result: dict[str, set[int]] = {}

    def run() -> None:
        pin_current_thread(None, "free")
        result["free"] = os.sched_getaffinity(0)
        pin_current_thread(frozenset({4095}), "ingest-gate-main")  # no such CPU: EINVAL
        result["refused"] = os.sched_getaffinity(0)

    with caplog.at_level(logging.WARNING, logger="streams.affinity"):
        thread = threading.Thread(target=run)
        thread.start()
        thread.join()
    assert result == {"free": set(before), "refused": set(before)}
    assert "ingest-gate-main: cannot run on CPU 4095: Invalid argument" in caplog.text


# ------------------------------------------------------------------------------- the media threads


def test_camera_thread_runs_on_the_media_cpus_while_it_streams(small_clip: Path) -> None:
    before = available_cpus()
    spec = SourceSpec("gate", "main", small_clip.as_uri(), read_timeout_s=2, open_timeout_s=2)
    worker = IngestWorker(spec, cpus=_last_cpu())
    subscription = worker.subscribe("probe")
    worker.start()
    try:
        wait_for(lambda: worker.health().packets > 10, timeout_s=10)
        thread = worker._thread
        assert thread is not None and thread.native_id is not None
        assert allowed_cpus(thread.native_id) == set(_last_cpu())
    finally:
        worker.stop()
        subscription.close()
    assert available_cpus() == before


def test_disk_writer_syncer_and_housekeeper_pin_themselves(tmp_path: Path) -> None:
    target = _last_cpu()
    seen: dict[str, set[int]] = {}
    writer = DiskWriter(cpus=target)
    writer.start()
    writer.submit(lambda: seen.update(writer=os.sched_getaffinity(0)))
    assert writer.wait_idle(5)
    writer.stop()

    synced = threading.Event()

    def syncfs(_fd: int) -> None:
        seen.setdefault("syncer", os.sched_getaffinity(0))
        synced.set()

    syncer = DiskSyncer(tmp_path, interval_s=0.05, syncfs=syncfs, cpus=target)
    syncer.start()
    assert synced.wait(5)
    syncer.stop()

    class Probe:
        camera_id = "probe"
        housekept = threading.Event()

        def housekeep(self) -> None:
            seen.setdefault("housekeeper", os.sched_getaffinity(0))
            self.housekept.set()

    probe = Probe()
    housekeeper = Housekeeper(interval_s=0.05, cpus=target)
    housekeeper.add(probe)  # type: ignore[arg-type]  # only housekeep() is called
    housekeeper.start()
    assert probe.housekept.wait(5)
    housekeeper.stop()
    assert seen == {"writer": set(target), "syncer": set(target), "housekeeper": set(target)}


def test_a_thread_lowers_only_its_own_priority() -> None:
    seen: list[int] = []

    def run() -> None:
        lower_current_thread_priority(10, "test")
        lower_current_thread_priority(5, "test")  # never raises it again (that needs a privilege)
        seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))

    before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    thread = threading.Thread(target=run)
    thread.start()
    thread.join(10)
    assert seen == [max(10, before)]
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == before
