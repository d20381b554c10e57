"""IndexQueue (streams.index_queue) and Housekeeper (streams.housekeeper) on real databases: SQLite and
PostgreSQL for what is written, a SQLite file whose folder is missing and a PostgreSQL port nobody listens on
for a database that does not answer. The changes are real index writes (gap rows); the listener and the
clock are the seams the queue owns."""

from __future__ import annotations

import itertools
import logging
import shutil
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from storage.database import Database
from storage.gap import add_gap
from storage.model import Gap, GapReason, Segment
from streams.housekeeper import Housekeeper
from streams.index_queue import DbOp, IndexQueue, is_transient
from streams.recorder import RecorderSettings, SegmentRecorder
from tests.support.mp4 import DemuxOptions, demux_packets
from tests.support.paths import shared_file

T0 = datetime(2025, 5, 1, 8, 0, tzinfo=UTC)
CAMERA = "cam-1"


class Listener:
    """What the queue reports, in order."""

    def __init__(self) -> None:
        self.events: list[str] = []

    def on_index_unreachable(self, message: str) -> None:
        self.events.append(f"unreachable: {message}")

    def on_index_refused(self, message: str) -> None:
        self.events.append(f"refused: {message}")

    def on_index_written(self) -> None:
        self.events.append("written")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def gap_op(n: int, executed: list[int] | None = None) -> DbOp:
    """A closed one-second gap row at T0 + n s; ``executed`` records each run of the op."""

    def op(session: Session) -> None:
        if executed is not None:
            executed.append(n)
        start = T0 + timedelta(seconds=n)
        add_gap(
            session,
            camera_id=CAMERA,
            start_utc=start,
            end_utc=start + timedelta(seconds=1),
            reason=GapReason.STREAM_ERROR,
            detail=f"change {n}",
        )

    return op


def refused_op(session: Session) -> None:
    """A change the storage layer refuses (a gap ending before it starts: ValueError)."""
    add_gap(
        session,
        camera_id=CAMERA,
        start_utc=T0,
        end_utc=T0 - timedelta(seconds=1),
        reason=GapReason.STREAM_ERROR,
    )


def gap_numbers(db: Database) -> list[int]:
    with db.session() as session:
        rows = session.scalars(select(Gap).order_by(Gap.id))
        return [int((row.start_utc.astimezone(UTC) - T0).total_seconds()) for row in rows]


def queue(db: Database, listener: Listener, clock: Clock | None = None, **kwargs: int | float) -> IndexQueue:
    return IndexQueue(db, owner=CAMERA, listener=listener, monotonic=clock or Clock(), **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def down_sqlite(tmp_path: Path, sqlite_template: Path) -> Iterator[tuple[Database, Path]]:
    """A SQLite database whose folder does not exist yet (it cannot be opened: OperationalError); copy
    ``sqlite_template`` to the returned path to bring it up."""
    path = tmp_path / "gone" / "station.db"
    db = Database(f"sqlite:///{path}")
    try:
        yield db, path
    finally:
        db.dispose()


def bring_up(path: Path, template: Path) -> None:
    path.parent.mkdir()
    shutil.copyfile(template, path)


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again when this returns: nobody listens there


def test_changes_are_written_in_order_in_one_batch(database: Database) -> None:
    listener = Listener()
    index = queue(database, listener)
    executed: list[int] = []
    for n in range(5):
        index.put(f"gap {n}", gap_op(n, executed))
    index.flush()
    assert gap_numbers(database) == [0, 1, 2, 3, 4]
    assert executed == [0, 1, 2, 3, 4]  # one transaction, each change once
    assert listener.events == ["written"]
    assert index.stats().pending == 0


def test_a_refused_change_is_dropped_counted_and_reported_alone(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    listener = Listener()
    index = queue(database, listener)
    index.put("gap 0", gap_op(0))
    index.put("bad gap", refused_op)
    index.put("gap 2", gap_op(2))
    index.flush()
    assert gap_numbers(database) == [0, 2]  # the batch was refused: change by change, in order
    stats = index.stats()
    assert (stats.pending, stats.dropped_refused, stats.dropped_full) == (0, 1, 0)
    assert [e for e in listener.events if e.startswith("refused")] == [
        "refused: index write 'bad gap' refused: gap ends 2025-05-01T07:59:59+00:00 before it starts "
        "2025-05-01T08:00:00+00:00"
    ]
    assert any("'bad gap' refused, dropped" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_an_unreachable_database_keeps_every_change_and_backs_off(
    backend: str, down_sqlite: tuple[Database, Path]
) -> None:
    db = (
        down_sqlite[0]
        if backend == "sqlite"
        else Database(f"postgresql+psycopg://u@127.0.0.1:{closed_port()}/x")
    )
    listener, clock = Listener(), Clock()
    index = queue(db, listener, clock, retry_s=5.0)
    index.put("gap 0", gap_op(0))
    index.flush()  # a single change: the one-at-a-time path
    index.put("gap 1", gap_op(1))
    clock.now += 5.0
    index.flush()  # two: the batch path
    assert index.stats().pending == 2 and index.stats().unreachable
    assert len(listener.events) == 2 and all(e.startswith("unreachable: ") for e in listener.events)
    clock.now += 4.9
    index.flush()  # inside the back-off: not even tried
    assert len(listener.events) == 2
    assert index.stats().dropped_refused == 0  # nothing is dropped for a database that is down
    db.dispose()


def test_changes_queued_while_the_database_is_down_are_written_in_order_once_it_is_back(
    down_sqlite: tuple[Database, Path], sqlite_template: Path
) -> None:
    db, path = down_sqlite
    listener, clock = Listener(), Clock()
    index = queue(db, listener, clock, retry_s=5.0)
    executed: list[int] = []
    for n in range(6):
        index.put(f"gap {n}", gap_op(n, executed))
        index.flush()  # every round finds the database down, or backs off
        clock.now += 2.0
    assert index.stats().pending == 6 and not path.exists()
    executed.clear()  # tried (up to where the database refused the connection), never committed
    bring_up(path, sqlite_template)
    clock.now += 5.0
    index.flush()
    assert gap_numbers(db) == [0, 1, 2, 3, 4, 5]  # none lost, none twice
    assert executed == [0, 1, 2, 3, 4, 5]
    assert listener.events[-1] == "written" and not index.stats().unreachable
    assert index.stats().pending == 0


def test_past_its_bound_the_queue_drops_the_oldest_and_counts_and_logs_each(
    down_sqlite: tuple[Database, Path], sqlite_template: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db, path = down_sqlite
    listener, clock = Listener(), Clock()
    index = queue(db, listener, clock, max_pending=3)
    for n in range(5):
        index.put(f"gap {n}", gap_op(n))
    index.flush()
    stats = index.stats()
    assert (stats.pending, stats.dropped_full) == (3, 2)
    dropped = [r.getMessage() for r in caplog.records if "outbox full" in r.getMessage()]
    assert [m.rsplit("dropped ", 1)[1].split(" (")[0] for m in dropped] == ["gap 0", "gap 1"]
    assert all(r.levelno == logging.ERROR for r in caplog.records if "outbox full" in r.getMessage())
    bring_up(path, sqlite_template)
    clock.now += 10.0
    index.flush()
    assert gap_numbers(db) == [2, 3, 4]  # the newest max_pending survive, in order


def test_when_full_progress_updates_go_first_with_one_warning(
    down_sqlite: tuple[Database, Path], sqlite_template: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db, path = down_sqlite
    index = queue(db, Listener(), max_pending=4)
    index.put("gap 0", gap_op(0))
    index.put("progress 1", gap_op(1), droppable=True)
    index.put("progress 2", gap_op(2), droppable=True)
    index.put("gap 3", gap_op(3))
    index.put("gap 4", gap_op(4))  # drops "progress 1"
    index.put("gap 5", gap_op(5))  # drops "progress 2"
    assert (index.stats().dropped_superseded, index.stats().dropped_full) == (2, 0)
    index.put("gap 6", gap_op(6))  # nothing droppable left: drops "gap 0"
    stats = index.stats()
    assert (stats.pending, stats.dropped_superseded, stats.dropped_full) == (4, 2, 1)
    logged = [(r.levelname, r.getMessage()) for r in caplog.records if "outbox full" in r.getMessage()]
    assert [level for level, _ in logged] == ["WARNING", "ERROR"]
    assert "dropped gap 0" in logged[1][1]
    bring_up(path, sqlite_template)
    index.flush()
    assert gap_numbers(db) == [3, 4, 5, 6]


def test_a_change_queued_during_a_write_is_kept_even_when_the_queue_overflows(database: Database) -> None:
    listener = Listener()
    index = queue(database, listener, max_pending=2)
    executed: list[int] = []

    def first(session: Session) -> None:
        gap_op(0, executed)(session)
        index.put("gap 2", gap_op(2, executed))  # another thread queues while this batch is written

    index.put("gap 0", first)
    index.put("gap 1", gap_op(1, executed))
    index.flush()
    # "gap 0" was dropped from the full queue while its batch ran, yet it was written by that batch;
    # "gap 2", queued meanwhile, is written by the next round of the same flush: exactly once each
    assert gap_numbers(database) == [0, 1, 2]
    assert executed == [0, 1, 2]
    assert index.stats().pending == 0 and index.stats().dropped_full == 1


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_a_flush_on_the_video_path_never_waits_for_another_sqlite_writer(database: Database) -> None:
    lock = database.write_lock
    assert lock is not None
    index = queue(database, Listener())
    index.put("gap 0", gap_op(0))
    with lock:
        index.flush()  # wait=False: keeps the change for the next round
        assert index.stats().pending == 1
    index.flush(wait=True)
    assert gap_numbers(database) == [0]


def test_transient_errors_are_retried_and_refusals_are_not() -> None:
    lost = OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))
    duplicate = IntegrityError("INSERT", {}, Exception("duplicate key"))
    invalidated = IntegrityError("INSERT", {}, Exception("lost"), connection_invalidated=True)
    assert is_transient(lost)
    assert not is_transient(duplicate)
    assert is_transient(invalidated)


def test_the_queue_refuses_a_senseless_bound(database: Database) -> None:
    with pytest.raises(ValueError, match="max_pending"):
        queue(database, Listener(), max_pending=0)


def test_a_recorder_whose_database_is_down_needs_two_changes_a_segment(
    down_sqlite: tuple[Database, Path], sqlite_template: Path, tmp_path: Path
) -> None:
    """The bound in real use: 79.5 s of a real camera in 10 s segments while the database is down. Each
    segment queues its open and close (kept) and a progress update at the cut (droppable): a queue of two
    changes a segment (plus the two gap rows) keeps every row, the progress updates make way."""
    db, path = down_sqlite
    clip = shared_file("media", "pets09_s2l1_campus.mp4")  # 10 fps, a keyframe every 1 s
    items = list(demux_packets(clip, start_utc=T0, options=DemuxOptions(camera_id=CAMERA)))
    files = 8  # 7 cut at 10 s, the last one closed by stop()
    settings = RecorderSettings(segment_seconds=10.0, fsync=False, max_pending_db_ops=2 * files + 2)
    recorder = SegmentRecorder(camera_id=CAMERA, db=db, root=tmp_path / "rec", settings=settings)
    recorder.process_many(items)
    assert recorder.status().db_pending_ops == 2 * files + 2  # full: progress updates dropped already
    bring_up(path, sqlite_template)
    recorder.stop()  # the last close and the station_stopped gap, then every queued change
    status = recorder.status()
    assert (status.db_pending_ops, status.db_dropped_ops) == (0, 0)
    with db.session() as session:
        rows = list(session.scalars(select(Segment).order_by(Segment.start_utc)))
        gap_rows = list(session.scalars(select(Gap)))
    assert [row.status for row in rows] == ["closed"] * files
    assert [round(row.duration_s) for row in rows[:-1]] == [10] * 7 and rows[-1].duration_s > 9
    assert all(a.end_utc == b.start_utc for a, b in itertools.pairwise(rows))
    assert [g.reason for g in gap_rows] == ["station_stopped"]


class Recorder:
    def __init__(self, camera_id: str, *, fails: bool = False) -> None:
        self.camera_id = camera_id
        self.fails = fails
        self.rounds = 0
        self.failures = 0

    def housekeep(self) -> None:
        self.rounds += 1
        if self.fails:
            raise RuntimeError("boom")

    def on_housekeeping_failed(self) -> None:
        self.failures += 1


def test_one_recorders_failed_round_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    housekeeper = Housekeeper(interval_s=3600)
    broken, fine = Recorder("cam-1", fails=True), Recorder("cam-2")
    housekeeper.add(broken)
    housekeeper.add(fine)
    housekeeper.run_once()
    housekeeper.remove(broken)
    housekeeper.run_once()
    assert (broken.rounds, broken.failures, fine.rounds) == (1, 1, 2)
    assert [r.getMessage() for r in caplog.records] == ["cam-1: recorder housekeeping failed"]
