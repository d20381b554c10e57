"""Issue 26, faults to survive: PostgreSQL restarted under load. The whole console (real app under a
TestClient, recording pipeline, housekeeping, retention) records two cameras of the real RTSP test server
in 2 s segments into a PostgreSQL server of this test's own; the server is stopped (``pg_ctl stop -m fast``)
while the station records, kept down for :data:`OUTAGE_S`, and started again on the same port and data
directory.

- recording to disk never stops: the files of the outage exist, their footage touches the files before
  and after, and PyAV plays them;
- the index writes wait in each recorder's queue and are written once the server is back: every file on
  disk has exactly one closed row (its SHA-256 as indexed), no path or start twice, no row without a file,
  and no gap row but the ``station_stopped`` one the stop opens;
- the station's health says so: degraded with ``database_down`` and each recorder's
  ``database_unreachable`` alarm during the outage, ok again after the catch-up; a token-authenticated
  ``/api/health`` answers 503 ``database_unavailable`` while the token cannot be checked (not a 500);
- nothing logs a traceback. The catch-up time is printed (``-s``) for docs/reliability.md.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import logging
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from config.schema import StorageConfig
from config.settings import Settings
from console.routes.health import check_database
from console.station import Station
from storage.database import Database
from storage.layout import iter_segment_files, parse_segment_path, resolve_relative
from storage.model import Gap, Segment, SegmentStatus, utcnow
from tests.support.media import clip_cache, small_clip  # noqa: F401
from tests.support.mp4 import probe_file
from tests.support.postgres import (
    PG_BIN,
    SESSION_SERVERS,
    PostgresServer,
    Postmaster,
    _pg_ctl_failure,
    _server_options,
    end_postmaster,
    is_alive,
    start_postgres,
    stop_postgres,
)
from tests.support.rtsp_server import RtspServer, rtsp_server, rtsp_server_factory  # noqa: F401
from tests.support.rtsp_station import SEGMENT_S, rtsp_station_config, wait_for_footage
from tests.support.station_media import MediaStation, started_media_station

pytestmark = [pytest.mark.rtsp, pytest.mark.postgres, pytest.mark.timeout(120)]

CAMERAS = ("b5-e1", "b5-yard")
OUTAGE_S = 12.0
#: housekeeping round (2 s) + the recorders' retry back-off (5 s) + reconnecting: the catch-up bound
CATCH_UP_LIMIT_S = 20.0


@dataclass
class RestartablePostgres:
    """A PostgreSQL server of this test's own (the session's serves the other tests), stopped and started
    again on the same port and data directory."""

    server: PostgresServer

    @property
    def url(self) -> str:
        return self.server.url("station")

    def stop(self) -> None:
        failure = _pg_ctl_failure(self.server.root, "-m", "fast", "-w", "stop")
        end_postmaster(self.server.postmaster, wait_s=0 if failure else 10.0)
        assert failure is None, failure

    def start(self) -> None:
        root, log = self.server.root, str(self.server.log_path)
        options = _server_options(root, self.server.port)
        failure = _pg_ctl_failure(root, "-w", "-t", "60", "-l", log, "-o", options, "start")
        postmaster = Postmaster.from_data_dir(root / "data")
        if postmaster is not None:  # the session-end check knows the new postmaster, not the old one
            SESSION_SERVERS.discard(self.server)
            self.server = PostgresServer(root=root, port=self.server.port, postmaster=postmaster)
            SESSION_SERVERS.add(self.server)
        assert failure is None and postmaster is not None, failure


@pytest.fixture
def own_postgres() -> Iterator[RestartablePostgres]:
    if not (PG_BIN / "pg_ctl").exists():
        pytest.skip(f"PostgreSQL server binaries not found in {PG_BIN} (install postgresql-15)")
    root = Path(tempfile.mkdtemp(prefix="station-pg-restart-"))
    try:
        pg = RestartablePostgres(start_postgres(root))
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    try:
        pg.server.execute("CREATE DATABASE station")
        yield pg
    finally:
        try:
            if is_alive(pg.server.postmaster):
                stop_postgres(pg.server)
            else:
                SESSION_SERVERS.discard(pg.server)
        finally:
            if not is_alive(pg.server.postmaster):
                shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def station_on(pg: RestartablePostgres, data_dir: Path, server: RtspServer) -> Iterator[MediaStation]:
    config = rtsp_station_config(data_dir, server)
    storage = StorageConfig(data_dir=data_dir, db_url=pg.url)
    settings = Settings(config=config.model_copy(update={"storage": storage}), config_path=None)
    with started_media_station(settings) as media:
        yield media


def wait_until(predicate: Callable[[], bool], timeout_s: float, what: str) -> float:
    """Poll ``predicate`` every 0.1 s; returns the seconds it took."""
    began = time.monotonic()
    while not predicate():
        if time.monotonic() - began > timeout_s:
            raise AssertionError(f"not within {timeout_s} s: {what}")
        time.sleep(0.1)
    return time.monotonic() - began


def status_codes(station: Station) -> set[str]:
    _, status = station.assess(database_ok=check_database(station).ok)
    return {reason.code for reason in status.reasons}


def pending_ops(station: Station) -> dict[str, int]:
    return {camera: station.recording.recorders[camera].status().db_pending_ops for camera in CAMERAS}


def caught_up(station: Station) -> bool:
    statuses = [station.recording.recorders[camera].status() for camera in CAMERAS]
    return all(s.db_pending_ops == 0 and s.alarm is None for s in statuses)


def files_on_disk(root: Path) -> dict[str, Path]:
    """Every finished segment file by its index path (a ``.partial`` left behind would be a failure)."""
    found = {}
    for camera in CAMERAS:
        for path in iter_segment_files(root, camera):
            assert path.suffix == ".mp4", path
            found[parse_segment_path(root, path).relative] = path
    return found


def test_postgres_restart_under_load_loses_and_duplicates_no_row(
    own_postgres: RestartablePostgres,
    rtsp_server: RtspServer,  # noqa: F811
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    with station_on(own_postgres, tmp_path / "data", rtsp_server) as media:
        station = media.station
        root = station.settings.recordings_dir
        token_client = media.login("officer")
        for camera in CAMERAS:
            wait_for_footage(station.database, camera, 2, timeout_s=30)
        assert token_client.get("/api/health").status_code == 200
        assert status_codes(station) == set()

        own_postgres.stop()
        down_at = utcnow()
        down_clock = time.monotonic()
        alarm_after_s = wait_until(
            lambda: {"database_down", "recorder_database_unreachable"} <= status_codes(station),
            10,
            "the database alarm",
        )
        anonymous = media.client.get("/api/health")
        assert (anonymous.status_code, anonymous.json()) == (200, {"status": "degraded"})
        refused = token_client.get("/api/health")
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"]["code"] == "database_unavailable"
        assert refused.headers["retry-after"] == "5"
        codes_down = status_codes(station)
        time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - down_clock)))
        peak = pending_ops(station)

        own_postgres.start()
        up_at = utcnow()
        catch_up_s = wait_until(lambda: caught_up(station), CATCH_UP_LIMIT_S, "the index catches up")
        assert status_codes(station) == set()
        assert token_client.get("/api/health").status_code == 200
        for camera in CAMERAS:
            wait_for_footage(station.database, camera, 1, timeout_s=15, since=up_at + timedelta(seconds=1))
    database = Database(own_postgres.url)  # the station is stopped: its last rows are written
    try:
        with database.session() as session:
            rows = list(session.scalars(select(Segment).order_by(Segment.camera_id, Segment.start_utc)))
            gap_rows = list(session.scalars(select(Gap)))
    finally:
        database.dispose()
    files = files_on_disk(root)

    # every file exactly one row, every row its file, nothing twice
    by_path = Counter(r.path for r in rows)
    assert [path for path, n in by_path.items() if n > 1] == []
    assert sorted(by_path) == sorted(files)
    starts = Counter((r.camera_id, r.start_utc) for r in rows)
    assert [start for start, n in starts.items() if n > 1] == []
    assert {r.status for r in rows} == {SegmentStatus.CLOSED}
    # recording never stopped: each camera's footage is one unbroken run across the outage
    outage_files: dict[str, list[Segment]] = {camera: [] for camera in CAMERAS}
    for camera in CAMERAS:
        own = [r for r in rows if r.camera_id == camera]
        joins = [(a.end_utc, b.start_utc) for a, b in itertools.pairwise(own) if a.end_utc != b.start_utc]
        assert joins == [], camera
        outage_files[camera] = [r for r in own if r.start_utc < up_at and r.end_utc > down_at]
        covered = (outage_files[camera][0].start_utc, outage_files[camera][-1].end_utc)
        assert covered[0] <= down_at and covered[1] >= up_at, camera  # and no join is missing (above)
        assert len(outage_files[camera]) >= OUTAGE_S / (SEGMENT_S + 1), camera  # 2 s cut at a keyframe: 2-3 s
    for row in (r for camera_rows in outage_files.values() for r in camera_rows):
        path = resolve_relative(root, row.path)
        assert hashlib.sha256(path.read_bytes()).hexdigest() == row.sha256, row.path
        probed = probe_file(path)
        assert probed.first_is_keyframe and probed.decoded_frames == probed.packets > 0, row.path
        assert abs(probed.duration_s - row.duration_s) < 0.1, row.path
    # gap rows only for real gaps: the station stop's, none for the outage
    assert sorted((g.camera_id, g.reason) for g in gap_rows) == [(c, "station_stopped") for c in CAMERAS]
    tracebacks = [r.getMessage() for r in caplog.records if r.exc_info is not None]
    assert tracebacks == []

    written_s = (up_at - down_at).total_seconds()
    print(
        f"\nPostgreSQL down {written_s:.1f} s; alarm after {alarm_after_s:.1f} s ({sorted(codes_down)}); "
        f"index writes queued at the peak {peak}; caught up {catch_up_s:.1f} s after the server was back; "
        f"{sum(len(v) for v in outage_files.values())} files recorded during the outage; "
        f"{len(rows)} rows for {len(files)} files, 0 duplicates; gaps {len(gap_rows)} (station_stopped)"
    )
