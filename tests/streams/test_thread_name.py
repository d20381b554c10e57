"""Native thread names (Linux, as the station runs): the pure cut to 15 bytes, and real threads' names."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from streams.disk_writer import DiskWriter
from streams.error import StreamOpenError
from streams.ingest import IngestWorker
from streams.source import Connection, SourceSpec
from streams.thread_name import NATIVE_NAME_BYTES, name_current_thread, native_name


def comm(thread: threading.Thread) -> str:
    assert thread.native_id is not None
    return Path(f"/proc/self/task/{thread.native_id}/comm").read_text().rstrip("\n")


def test_short_names_are_kept() -> None:
    assert native_name("disk-writer") == b"disk-writer"
    assert native_name("cam01:main") == b"cam01:main"


def test_long_names_are_cut_to_fifteen_bytes() -> None:
    assert native_name("entrance-3-yard:main") == b"entrance-3-yard"
    assert len(native_name("x" * 40)) == NATIVE_NAME_BYTES


def test_a_multibyte_character_is_never_cut_in_half() -> None:
    assert native_name("подъезд-3:main").decode("utf-8") == "подъезд-"  # 7 letters of 2 bytes, and "-"
    # 2 + 6 x 2 = 14 bytes: the 7th letter would need bytes 15 and 16, so it goes whole
    assert native_name("ab" + "ы" * 10).decode("utf-8") == "ab" + "ы" * 6


def test_the_calling_thread_gets_the_name_only_it() -> None:
    seen: list[str] = []

    def run() -> None:
        assert name_current_thread("entrance-3-yard:main")
        seen.append(comm(threading.current_thread()))

    before = comm(threading.main_thread())
    thread = threading.Thread(target=run)
    thread.start()
    thread.join(5)
    assert seen == ["entrance-3-yard"]
    assert comm(threading.main_thread()) == before


def test_the_disk_writer_thread_is_named_natively() -> None:
    writer = DiskWriter()
    writer.start()
    try:
        done = threading.Event()
        writer.submit(done.set)  # the thread has run its start-up by the time it runs a job
        assert done.wait(5)
        thread = writer._thread
        assert thread is not None
        assert comm(thread) == "disk-writer"
    finally:
        writer.stop()


def test_a_camera_thread_is_named_after_its_camera_and_stream() -> None:
    names: list[str] = []

    def refuse(_spec: SourceSpec, _connection: int) -> Connection:
        names.append(comm(threading.current_thread()))
        raise StreamOpenError("connection refused")

    spec = SourceSpec("entrance-3", "sub", "rtsp://127.0.0.1:1/x", "tcp", open_timeout_s=1, read_timeout_s=1)
    worker = IngestWorker(spec, open_source=refuse)
    worker.start()
    deadline = time.monotonic() + 5
    while not names and time.monotonic() < deadline:
        time.sleep(0.01)
    assert worker.stop(timeout_s=3)
    assert names[:1] == ["entrance-3:sub"]
