"""``kill -9`` in the middle of a schema migration, a retention pass and an evidence export; then the
station's start-up path runs again and nothing may be left half-done.

Each operation runs for real in a child process (``station db upgrade``, ``station run``), and the test
picks the moment to kill it by watching real state from outside, never through a hook in the code:

- migration: the database's write lock is held by the migrating process (SQLite: ``BEGIN IMMEDIATE`` from
  here is refused; PostgreSQL: the child's backend holds an ``AccessExclusiveLock``);
- retention: segment files of the expired range start to disappear; a second kill holds the SQLite write
  lock from here so that the pass stops inside a deletion (between file and row, in whatever order the code
  does them);
- export: the package's ``.partial`` file exists and grows; a second kill holds the write lock so that the
  package is finished and renamed but its row cannot be marked ready.

Results and figures: ``docs/reliability.md``, "Crashes".
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import Boolean, column, inspect, table
from sqlalchemy.engine import make_url

from config.schema import StationConfig, StationInfo, StorageConfig
from config.settings import Settings, load_settings
from console.bootstrap import prepare_database
from console.credential import new_api_token, token_hash, token_prefix
from storage.api_token import create_api_token
from storage.database import Database
from storage.evidence.verifier import verify_package
from storage.layout import segment_relative_path
from storage.lock import create_lock
from storage.migration import alembic_config, current_revision, head_revision
from storage.model import (
    AuditEntry,
    Camera,
    Complaint,
    EvidenceLock,
    Export,
    Role,
    Segment,
    SegmentStatus,
    UTCDateTime,
    utcnow,
)
from storage.retention import RetentionSettings, RetentionWorker, finish_interrupted_deletions
from storage.segment import mark_segment_deleting
from storage.signing import ensure_station_key
from storage.user import create_user
from tests.support.segments import encode_segment, file_sha256
from tests.support.station_process import free_port, running, station_command, station_environ

pytestmark = pytest.mark.timeout(120)

OLD_REVISION = "0002"  # the migration killed is OLD_REVISION -> head (0003 rewrites every complaint)
MIGRATION_ROWS = 4000  # complaints and history rows: the upgrade takes about 0.75 s on SQLite
KILL_AFTER_S = 0.2  # after the migration is seen holding the write lock


def _wait_for(condition: Callable[[], bool], *, timeout_s: float, what: str, poll_s: float = 0.002) -> float:
    """Poll ``condition`` until it holds; returns the seconds waited (fails the test on timeout)."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout_s:
            pytest.fail(f"not seen within {timeout_s} s: {what}")
        time.sleep(poll_s)
    return time.monotonic() - started


def _kill(process: subprocess.Popen[Any], what: str) -> None:
    """SIGKILL ``process``, which must still be running (else the test could not kill it mid-way)."""
    if process.poll() is not None:
        pytest.fail(f"{what} finished (exit {process.returncode}) too early: {process.args!r}")
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    assert process.returncode == -signal.SIGKILL


def _station(log: Path, *args: str) -> subprocess.Popen[bytes]:
    """``station ARGS`` in the background, its output into ``log`` (a pipe nobody reads could fill up)."""
    with log.open("ab") as output:
        return subprocess.Popen(
            [str(station_command()), *args], stdout=output, stderr=subprocess.STDOUT, env=station_environ()
        )


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    assert database is not None
    return Path(database)


def sqlite_write_locked(path: Path) -> bool:
    """Whether another connection holds the write lock of the SQLite file at ``path`` (a migration or
    retention pass in the middle of its transaction)."""
    connection = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc):
            return True
        raise
    else:
        connection.execute("ROLLBACK")
        return False
    finally:
        connection.close()


@contextlib.contextmanager
def sqlite_write_lock(path: Path) -> Iterator[None]:
    """Hold the write lock of the SQLite file at ``path``: another process's next write waits (its busy
    timeout is 10 s), so it stops right before that write, wherever it is."""
    connection = sqlite3.connect(path, timeout=10, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        yield
        connection.execute("ROLLBACK")
    finally:
        connection.close()


# --- migration ---------------------------------------------------------------------------------------


def _migrate(database: Database, revision: str) -> None:
    cfg = alembic_config(database.engine)
    with database.engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)


def _seed_old_schema(database: Database, rows: int) -> None:
    """A database at OLD_REVISION with ``rows`` complaints, each with one history row."""
    _migrate(database, OLD_REVISION)
    now = utcnow()
    users = table(
        "users",
        *(column(c) for c in ("id", "username", "display_name", "role", "password_hash")),
        column("disabled", Boolean),
        column("created_at", UTCDateTime()),
        column("password_changed_at", UTCDateTime()),
    )
    times = ("received_at", "incident_start", "incident_end", "created_at", "updated_at")
    complaints = table(
        "complaints",
        *(column(c) for c in ("id", "number", "channel", "category", "description", "status")),
        *(column(c) for c in ("reporter_name", "reporter_contact", "created_by")),
        *(column(c, UTCDateTime()) for c in times),
    )
    history = table(
        "complaint_history",
        *(column(c) for c in ("id", "complaint_id", "user_id", "action", "note")),
        column("at", UTCDateTime()),
    )
    user = {"id": 1, "username": "ivanov", "display_name": "Иванов", "role": "officer", "password_hash": "x"}
    with database.engine.begin() as connection:
        connection.execute(
            sa.insert(users), [{**user, "disabled": False, "created_at": now, "password_changed_at": now}]
        )
        connection.execute(
            sa.insert(complaints),
            [
                {
                    "id": i,
                    "number": f"2026-{i:06d}",
                    "channel": "phone",
                    "category": "noise",
                    "description": "Шум НОЧЬЮ",
                    "status": "new",
                    "reporter_name": "Айгуль",
                    "reporter_contact": "+7 701 000-00-00",
                    "created_by": 1,
                    **dict.fromkeys(times, now),
                }
                for i in range(1, rows + 1)
            ],
        )
        connection.execute(
            sa.insert(history),
            [
                {"id": i, "complaint_id": i, "user_id": 1, "action": "assigned", "note": "assignee: user 1"}
                | {"at": now}
                for i in range(1, rows + 1)
            ],
        )


def _postgres_migrating(database: Database) -> bool:
    """Whether another backend of this database holds an exclusive table lock (DDL of a migration)."""
    with database.engine.connect() as connection:
        count = connection.execute(
            sa.text(
                "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE a.datname = current_database() AND l.pid <> pg_backend_pid() "
                "AND l.mode = 'AccessExclusiveLock' AND l.locktype = 'relation'"
            )
        ).scalar_one()
    return bool(count)


def _columns(database: Database, name: str) -> set[str]:
    return {c["name"] for c in inspect(database.engine).get_columns(name)}


def test_kill_9_during_migration_leaves_the_old_revision_and_start_up_completes_it(
    blank_database_url: str, tmp_path: Path
) -> None:
    database = Database(blank_database_url)
    try:
        _seed_old_schema(database, MIGRATION_ROWS)
        old_columns = _columns(database, "complaints")
        config = tmp_path / "station.yaml"
        config.write_text(
            f"station: {{name: Crash test}}\nstorage: {{data_dir: {tmp_path / 'data'}, "
            f"db_url: '{blank_database_url}'}}\ncameras: []\n",
            encoding="utf-8",
        )
        if database.backend == "sqlite":
            path = _sqlite_path(blank_database_url)

            def migrating() -> bool:
                return sqlite_write_locked(path)
        else:

            def migrating() -> bool:
                return _postgres_migrating(database)

        started = time.monotonic()
        process = _station(tmp_path / "upgrade.log", "db", "upgrade", "--config", str(config))
        waited = _wait_for(migrating, timeout_s=60, what="the migration holding the database's write lock")
        time.sleep(KILL_AFTER_S)
        _kill(process, "station db upgrade")
        print(
            f"\n[{database.backend}] migration seen holding the lock {waited:.2f} s after launch, "
            f"killed {time.monotonic() - started:.2f} s after launch"
        )
        database.dispose()

        # Killed mid-way: the database is still at the old revision, with the old schema, not in between.
        assert current_revision(database.engine) == OLD_REVISION
        assert _columns(database, "complaints") == old_columns

        settings = Settings(
            config=StationConfig(
                station=StationInfo(name="Crash test"),
                storage=StorageConfig(data_dir=tmp_path / "data", db_url=blank_database_url),
            ),
            config_path=None,
        )
        begun = time.monotonic()
        restarted = prepare_database(settings, hint_first_user=False)  # the station's start-up path
        print(f"[{database.backend}] start-up completed the upgrade in {time.monotonic() - begun:.2f} s")
        try:
            assert current_revision(restarted.engine) == head_revision()
            with restarted.session() as session:
                empty = session.scalar(
                    sa.select(sa.func.count()).select_from(Complaint).where(Complaint.search_public == "")
                )
                total = session.scalar(sa.select(sa.func.count()).select_from(Complaint))
            assert (total, empty) == (MIGRATION_ROWS, 0)
        finally:
            restarted.dispose()
    finally:
        database.dispose()


# --- retention ---------------------------------------------------------------------------------------

RETENTION_SEGMENTS = 300  # 2 s each, 40 days old: all past the 30-day retention
LOCKED = range(140, 160)  # under an evidence lock: never deleted
SEGMENT_S = 2.0


def _station_config(tmp_path: Path) -> Path:
    """A station with one camera that never answers (nothing is recorded, nothing else writes footage)."""
    config = tmp_path / "station.yaml"
    lines = [
        "station: {name: Crash test}",
        f"storage: {{data_dir: {tmp_path / 'data'}, min_free_bytes: 0, min_free_percent: 0}}",
        "recording: {retention_days: 30}",
        "cameras:\n  - {id: gate, name: Gate, url: 'rtsp://127.0.0.1:9/gate'}",
    ]
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


def _expired_footage(settings: Settings, tmp_path: Path) -> list[Segment]:
    """RETENTION_SEGMENTS indexed segment files of ``gate`` from 40 days ago (copies of one real 2 s
    MP4), LOCKED of them under an evidence lock."""
    master = tmp_path / "master.mp4"
    encode_segment(master, first_frame=0, frames=50, width=160, height=90)
    data, digest = master.read_bytes(), file_sha256(master)
    start = utcnow().replace(microsecond=0) - timedelta(days=40)
    rows: list[Segment] = []
    for index in range(RETENTION_SEGMENTS):
        begin = start + timedelta(seconds=index * SEGMENT_S)
        relative = segment_relative_path("gate", begin)
        path = settings.recordings_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        rows.append(
            Segment(
                camera_id="gate",
                start_utc=begin,
                end_utc=begin + timedelta(seconds=SEGMENT_S),
                duration_s=SEGMENT_S,
                bytes=len(data),
                path=relative,
                sha256=digest,
                status=SegmentStatus.CLOSED.value,
                codec="h264",
                keyframes=1,
            )
        )
    database = prepare_database(settings, hint_first_user=False)
    try:
        with database.session() as session:
            session.add_all(rows)
            create_lock(
                session,
                camera_id="gate",
                start_utc=rows[LOCKED.start].start_utc + timedelta(seconds=0.5),
                end_utc=rows[LOCKED.stop - 1].end_utc - timedelta(seconds=0.5),
                reason="complaint 2026-000001",
            )
    finally:
        database.dispose()
    return rows


def _files(root: Path) -> set[str]:
    return {path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file()}


def _segment_states(settings: Settings) -> dict[str, str]:
    database = Database(settings.db_url)
    try:
        with database.session() as session:
            return dict(session.execute(sa.select(Segment.path, Segment.status)).all())
    finally:
        database.dispose()


def _check_index_matches_disk(settings: Settings, *, after_start_up: bool) -> dict[str, int]:
    """Every row that claims footage has its file, every file is indexed, no deleted row has a file, and
    the locked footage is all there; returns the number of rows per status."""
    root = settings.recordings_dir / "gate"
    on_disk = {f"gate/{name}" for name in _files(root)}
    states = _segment_states(settings)
    unindexed = on_disk - states.keys()
    claims_missing = sorted(p for p, s in states.items() if s in ("closed", "recovered") and p not in on_disk)
    deleted_present = sorted(p for p, s in states.items() if s == "deleted" and p in on_disk)
    assert not unindexed, f"files without a row: {sorted(unindexed)[:5]}"
    assert not claims_missing, f"rows that claim footage whose file is gone: {claims_missing[:5]}"
    assert not deleted_present, f"rows marked deleted whose file is still there: {deleted_present[:5]}"
    counts: dict[str, int] = {}
    for state in states.values():
        counts[state] = counts.get(state, 0) + 1
    unfinished = {s: n for s, n in counts.items() if s not in ("closed", "recovered", "deleted")}
    if after_start_up:
        assert not unfinished, f"start-up left rows half-deleted: {unfinished}"
    return counts


def test_start_up_finishes_a_deletion_killed_between_its_commits(database: Database, tmp_path: Path) -> None:
    """A row left ``deleting`` (the pass was killed after marking it): start-up removes the file if it is
    still there and marks the row deleted; other rows are left alone."""
    root = tmp_path / "recordings"
    start = utcnow().replace(microsecond=0) - timedelta(days=40)
    paths = [segment_relative_path("gate", start + timedelta(seconds=2 * i)) for i in range(3)]
    for relative in paths:
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(b"footage")
    (root / paths[1]).unlink()  # killed after the unlink, before the second commit
    with database.session() as session:
        session.add(Camera(id="gate", name="Gate"))
        session.flush()
        for i, relative in enumerate(paths):
            begin = start + timedelta(seconds=2 * i)
            session.add(
                Segment(
                    camera_id="gate",
                    start_utc=begin,
                    end_utc=begin + timedelta(seconds=2),
                    duration_s=2.0,
                    bytes=7,
                    path=relative,
                    status=SegmentStatus.CLOSED.value,
                )
            )
        session.flush()
        for segment in session.scalars(sa.select(Segment).where(Segment.path.in_(paths[:2]))):
            mark_segment_deleting(session, segment_id=segment.id)
    finished = finish_interrupted_deletions(database, root=root, now=utcnow())
    assert (sorted(finished.finished), finished.errors) == (paths[:2], ())
    with database.session() as session:
        states = dict(session.execute(sa.select(Segment.path, Segment.status)).all())
    assert [states[p] for p in paths] == ["deleted", "deleted", "closed"]
    assert [(root / p).exists() for p in paths] == [False, False, True]
    assert finish_interrupted_deletions(database, root=root, now=utcnow()).finished == ()


def test_a_file_that_could_not_be_unlinked_is_retried_by_the_next_pass(
    database: Database, tmp_path: Path
) -> None:
    """An unlink that fails (here: the segment's path is a directory, EISDIR) leaves the row ``deleting``,
    not ``closed``; the next pass finishes it once the file can be removed."""
    root = tmp_path / "recordings"
    start = utcnow().replace(microsecond=0) - timedelta(days=40)
    paths = [segment_relative_path("gate", start + timedelta(seconds=2 * i)) for i in range(2)]
    (root / paths[0]).mkdir(parents=True)
    (root / paths[0] / "in-the-way").write_bytes(b"x")
    (root / paths[1]).write_bytes(b"footage")
    with database.session() as session:
        session.add(Camera(id="gate", name="Gate"))
        session.flush()
        for i, relative in enumerate(paths):
            begin = start + timedelta(seconds=2 * i)
            session.add(
                Segment(
                    camera_id="gate",
                    start_utc=begin,
                    end_utc=begin + timedelta(seconds=2),
                    duration_s=2.0,
                    bytes=7,
                    path=relative,
                    status=SegmentStatus.CLOSED.value,
                )
            )
    worker = RetentionWorker(
        db=database,
        root=root,
        settings=RetentionSettings(
            retention_days_by_camera={"gate": 30}, min_free_bytes=0, min_free_percent=0.0
        ),
    )

    def states() -> list[str]:
        with database.session() as session:
            found = dict(session.execute(sa.select(Segment.path, Segment.status)).all())
        return [found[p] for p in paths]

    first = worker.run_once()
    assert first.last_error is not None and paths[0] in first.last_error
    assert states() == ["deleting", "deleted"]
    shutil.rmtree(root / paths[0])
    (root / paths[0]).write_bytes(b"footage")
    second = worker.run_once()
    assert second.last_error is None
    assert states() == ["deleted", "deleted"]
    assert not (root / paths[0]).exists()


def _deleted_count(root: Path) -> int:
    return RETENTION_SEGMENTS - len(_files(root))


def test_kill_9_during_retention_keeps_index_and_disk_in_step(tmp_path: Path) -> None:
    config = _station_config(tmp_path)
    settings = load_settings(config)
    rows = _expired_footage(settings, tmp_path)
    locked = {rows[i].path for i in LOCKED}
    root = settings.recordings_dir / "gate"

    # 1: killed at whatever point the pass has reached once 40 files are gone
    process = _station(tmp_path / "run-1.log", "run", "--config", str(config), "--port", str(free_port()))
    _wait_for(lambda: _deleted_count(root) >= 40, timeout_s=60, what="retention deleting", poll_s=0.01)
    _kill(process, "the retention pass")
    first = _deleted_count(root)
    counts = _check_index_matches_disk(settings, after_start_up=False)
    print(f"\nretention: 1st kill after {first} of {RETENTION_SEGMENTS} files deleted; rows {counts}")

    # 2: killed while the pass waits for the database inside a deletion: the write lock is held from here,
    # so the pass stops at its next write, between the file and the row in whatever order they go
    process = _station(tmp_path / "run-2.log", "run", "--config", str(config), "--port", str(free_port()))
    _wait_for(lambda: _deleted_count(root) >= first + 40, timeout_s=60, what="retention resumed", poll_s=0.01)
    database_file = settings.data_dir / "station.db"
    with sqlite_write_lock(database_file):
        held = _deleted_count(root)
        with contextlib.suppress(pytest.fail.Exception):
            _wait_for(lambda: _deleted_count(root) > held, timeout_s=1.0, what="a deletion under the lock")
        _kill(process, "the retention pass")
    second = _deleted_count(root)
    counts = _check_index_matches_disk(settings, after_start_up=False)
    print(
        f"retention: 2nd kill after {second} deleted ({second - held} while the lock was held); rows {counts}"
    )

    # 3: the station starts again and its retention pass finishes the job
    with running("run", "--config", str(config)):
        _wait_for(
            lambda: _deleted_count(root) == RETENTION_SEGMENTS - len(LOCKED),
            timeout_s=60,
            what="retention finishing",
            poll_s=0.05,
        )
    counts = _check_index_matches_disk(settings, after_start_up=True)
    assert counts == {"closed": len(LOCKED), "deleted": RETENTION_SEGMENTS - len(LOCKED)}
    assert {f"gate/{name}" for name in _files(root)} == locked


# --- export ------------------------------------------------------------------------------------------

EXPORT_SEGMENTS = 60  # 4 s each: a 4 min package of about 60 MB, so its .partial grows for a while
EXPORT_SEGMENT_S = 4.0


def _recent_footage(settings: Settings, tmp_path: Path) -> tuple[datetime, datetime]:
    """EXPORT_SEGMENTS indexed segments of ``gate`` ending a minute ago (copies of one real 4 s MP4 of
    noise at about 2 Mbit/s: the bytes a stream copy of the same segment would give)."""
    master = tmp_path / "master.mp4"
    encode_segment(master, first_frame=0, frames=100, gop=25, bit_rate=2_000_000, noisy=True)
    data, digest = master.read_bytes(), file_sha256(master)
    start = utcnow().replace(microsecond=0) - timedelta(seconds=EXPORT_SEGMENTS * EXPORT_SEGMENT_S + 60)
    rows = []
    for index in range(EXPORT_SEGMENTS):
        begin = start + timedelta(seconds=index * EXPORT_SEGMENT_S)
        relative = segment_relative_path("gate", begin)
        path = settings.recordings_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        rows.append(
            Segment(
                camera_id="gate",
                start_utc=begin,
                end_utc=begin + timedelta(seconds=EXPORT_SEGMENT_S),
                duration_s=EXPORT_SEGMENT_S,
                bytes=len(data),
                path=relative,
                sha256=digest,
                status=SegmentStatus.CLOSED.value,
                codec="h264",
                keyframes=4,
            )
        )
    with _opened(settings, migrate=True) as database, database.session() as session:
        session.add_all(rows)
    return start, start + timedelta(seconds=EXPORT_SEGMENTS * EXPORT_SEGMENT_S)


@contextlib.contextmanager
def _opened(settings: Settings, *, migrate: bool = False) -> Iterator[Database]:
    """The station's database (migrated first through the start-up path when ``migrate``)."""
    database = prepare_database(settings, hint_first_user=False) if migrate else Database(settings.db_url)
    try:
        yield database
    finally:
        database.dispose()


def _investigator_token(settings: Settings) -> dict[str, str]:
    token = new_api_token()
    with _opened(settings) as database, database.session() as session:
        user = create_user(session, username="investigator", role=Role.INVESTIGATOR, password_hash="unused")
        create_api_token(
            session, user_id=user.id, name="crash", prefix=token_prefix(token), token_hash=token_hash(token)
        )
    return {"Authorization": f"Bearer {token}"}


def _post_export(base: str, headers: dict[str, str], start: datetime, end: datetime) -> threading.Thread:
    """POST /api/exports in a thread (its connection dies with the station)."""
    body = {"cameras": ["gate"], "start": start.isoformat(), "end": end.isoformat(), "reason": "crash test"}

    def post() -> None:
        with contextlib.suppress(httpx.HTTPError):
            httpx.post(f"{base}/api/exports", json=body, headers=headers, timeout=60)

    thread = threading.Thread(target=post, name="export-request", daemon=True)
    thread.start()
    return thread


def _partial_growing(exports: Path) -> bool:
    """A package being written: its ``.partial`` file exists and grows."""
    partials = list(exports.glob("*.partial")) if exports.is_dir() else []
    if not partials:
        return False
    with contextlib.suppress(FileNotFoundError):
        before = partials[0].stat().st_size
        time.sleep(0.005)
        return partials[0].stat().st_size > before > 0
    return False


def _export_rows(settings: Settings) -> dict[int, tuple[str, str | None]]:
    with _opened(settings) as database, database.session() as session:
        rows = session.execute(sa.select(Export.id, Export.status, Export.path)).all()
    return {row.id: (row.status, row.path) for row in rows}


def _export_audit(settings: Settings, export_id: int) -> list[dict[str, object]]:
    with _opened(settings) as database, database.session() as session:
        entries = session.scalars(
            sa.select(AuditEntry).where(
                AuditEntry.action == "evidence.export", AuditEntry.resource_id == str(export_id)
            )
        ).all()
        return [json.loads(entry.detail or "{}") for entry in entries]


def _lock_rows(settings: Settings) -> list[tuple[object, ...]]:
    with _opened(settings) as database, database.session() as session:
        rows = session.execute(
            sa.select(EvidenceLock.id, EvidenceLock.start_utc, EvidenceLock.end_utc, EvidenceLock.released_at)
        ).all()
    return [tuple(row) for row in rows]


def _check_packages(settings: Settings) -> list[str]:
    """Every file in the exports directory is a package that verifies against the station's key and
    belongs to a ready export; returns their names."""
    exports = settings.data_dir / "exports"
    names = sorted(path.name for path in exports.iterdir()) if exports.is_dir() else []
    ready = {path for status, path in _export_rows(settings).values() if status == "ready"}
    key = ensure_station_key(settings.data_dir)
    for name in names:
        assert name in ready, f"{name} in the exports directory belongs to no ready export"
        report = verify_package(exports / name, trusted_keys=[key.public_key])
        assert report.valid, f"{name} does not verify: {report}"
    return names


def test_kill_9_during_export_leaves_no_package_that_looks_complete(tmp_path: Path) -> None:
    config = _station_config(tmp_path)
    settings = load_settings(config)
    start, end = _recent_footage(settings, tmp_path)
    headers = _investigator_token(settings)
    exports = settings.data_dir / "exports"
    with _opened(settings) as database, database.session() as session:
        create_lock(session, camera_id="gate", start_utc=start, end_utc=end, reason="complaint 2026-000001")
    locks = _lock_rows(settings)

    # 0: one package built to the end (it must survive every restart); 1: kill while the next one grows
    with running("run", "--config", str(config)) as (process, base):
        done = httpx.post(
            f"{base}/api/exports",
            json={
                "cameras": ["gate"],
                "start": start.isoformat(),
                "end": (start + timedelta(seconds=20)).isoformat(),
                "reason": "finished",
            },
            headers=headers,
            timeout=60,
        )
        assert done.status_code == 201, done.text
        _post_export(base, headers, start, end)
        waited = _wait_for(lambda: _partial_growing(exports), timeout_s=30, what="a growing .partial")
        _kill(process, "the export")
    partial = next(exports.glob("*.partial"))
    print(f"\nexport: 1st kill {waited:.2f} s after the request, .partial at {partial.stat().st_size} bytes")
    interrupted = {i for i, (status, _) in _export_rows(settings).items() if status == "pending"}
    assert len(interrupted) == 1

    # 2: restart; then kill while the next package is complete and renamed but its row not yet ready:
    # the write lock is held from here, so the export stops at "mark the row ready"
    with running("run", "--config", str(config)) as (process, base):
        rows = _export_rows(settings)
        assert {rows[i][0] for i in interrupted} == {"failed"}
        assert not list(exports.glob("*.partial")), "start-up left the interrupted .partial"
        assert [d for i in interrupted for d in _export_audit(settings, i) if "interrupted" in str(d)]
        first_ok = _check_packages(settings)
        assert len(first_ok) == 1

        _post_export(base, headers, start, end)
        _wait_for(lambda: _partial_growing(exports), timeout_s=30, what="a growing .partial")
        with sqlite_write_lock(settings.data_dir / "station.db"):
            _wait_for(lambda: len(list(exports.glob("*.zip"))) == 2, timeout_s=30, what="the package renamed")
            _kill(process, "the export")
    pending = {i for i, (status, _) in _export_rows(settings).items() if status == "pending"}
    assert len(pending) == 1, "the second export should have been killed before its row was marked ready"
    print(f"export: 2nd kill with {len(list(exports.glob('*.zip')))} final-named packages, 1 row pending")

    # 3: restart: the complete but unrecorded package is gone, its row failed and audited
    with running("run", "--config", str(config)):
        rows = _export_rows(settings)
        assert {rows[i][0] for i in pending | interrupted} == {"failed"}
        assert [d for i in pending for d in _export_audit(settings, i) if "interrupted" in str(d)]
        assert _check_packages(settings) == first_ok
    assert _lock_rows(settings) == locks, "an export crash changed the evidence locks"
