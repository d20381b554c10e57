"""Start-up of many cameras: first connects are spread out, never delayed long (pure rule + a worker)."""

from __future__ import annotations

import time

import pytest

from streams.error import StreamOpenError
from streams.ingest import START_SPREAD_S, IngestWorker, start_spacing_s
from streams.source import Connection, SourceSpec


@pytest.mark.parametrize(
    ("workers", "expected"),
    [(0, 0.0), (1, 0.0), (2, 0.05), (16, 0.05), (40, 0.05), (64, 2.0 / 64), (500, 2.0 / 500)],
)
def test_start_spacing_is_short_and_bounded(workers: int, expected: float) -> None:
    spacing = start_spacing_s(workers)
    assert spacing == pytest.approx(expected)
    assert spacing * max(0, workers - 1) < START_SPREAD_S


def test_worker_waits_its_start_delay_and_stops_during_it() -> None:
    attempts: list[float] = []

    def refuse(_spec: SourceSpec, _connection: int) -> Connection:
        attempts.append(time.monotonic())
        raise StreamOpenError("connection refused")

    spec = SourceSpec("cam1", "main", "rtsp://127.0.0.1:1/x", "tcp", open_timeout_s=1, read_timeout_s=1)
    worker = IngestWorker(spec, open_source=refuse)
    started = time.monotonic()
    worker.start(delay_s=0.3)
    time.sleep(0.5)
    assert worker.stop(timeout_s=3)
    assert attempts and 0.25 <= attempts[0] - started < 0.5

    waiting = IngestWorker(spec, open_source=refuse)
    waiting.start(delay_s=30)
    began = time.monotonic()
    assert waiting.stop(timeout_s=3)
    assert time.monotonic() - began < 1.0  # a stop during the start delay ends it at once
    with pytest.raises(ValueError, match="delay_s"):
        IngestWorker(spec, open_source=refuse).start(delay_s=-1)
