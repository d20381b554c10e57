"""End to end: real RTSP server -> ingest -> fan-out -> SegmentRecorder -> PyAV-probed files + index rows."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from storage.database import Database
from storage.layout import resolve_relative
from storage.model import Gap, Segment
from streams.backoff import BackoffPolicy
from streams.ingest import IngestWorker
from streams.recorder import RecorderSettings, RecorderState, SegmentRecorder
from streams.source import SourceSpec
from tests.streams.ingest_helpers import wait_for
from tests.support.media import ClipCache, ClipSpec
from tests.support.mp4 import probe_file
from tests.support.rtsp_server import RtspServer, RtspServerFactory

pytestmark = [pytest.mark.rtsp, pytest.mark.parametrize("database", ["sqlite"], indirect=True)]
CAMERAS = ("cam1", "cam2")


class Station:
    """Ingest workers and recorders for the test server's mounts, wired like the console does (with the
    station's reconnect back-off)."""

    def __init__(self, server: RtspServer, db: Database, root: Path, *, segment_seconds: float = 2) -> None:
        self.workers: dict[str, IngestWorker] = {}
        self.recorders: dict[str, SegmentRecorder] = {}
        for camera in CAMERAS:
            spec = SourceSpec(camera, "main", server.url(camera), open_timeout_s=2.0, read_timeout_s=2.0)
            worker = IngestWorker(spec, backoff=BackoffPolicy())
            recorder = SegmentRecorder(
                camera_id=camera,
                db=db,
                root=root,
                settings=RecorderSettings(segment_seconds=segment_seconds, fsync=False),
            )
            recorder.start(worker.subscribe("recorder", maxsize=1024))
            self.workers[camera], self.recorders[camera] = worker, recorder

    def start(self) -> None:
        for worker in self.workers.values():
            worker.start()

    def stop(self) -> None:
        for camera, worker in self.workers.items():
            worker.stop(5)
            self.recorders[camera].stop()


@pytest.fixture
def station(rtsp_server: RtspServer, database: Database, tmp_path: Path) -> Iterator[Station]:
    running = Station(rtsp_server, database, tmp_path / "rec")
    running.start()
    try:
        yield running
    finally:
        running.stop()


def _segments(db: Database, camera: str) -> list[Segment]:
    with db.session() as session:
        return list(
            session.scalars(select(Segment).where(Segment.camera_id == camera).order_by(Segment.start_utc))
        )


@pytest.mark.timeout(90)
def test_cameras_recorded_at_once_and_outage_becomes_a_gap(
    station: Station, rtsp_server: RtspServer, database: Database, tmp_path: Path
) -> None:
    recorders = station.recorders
    wait_for(lambda: all(r.status().segments_closed >= 2 for r in recorders.values()), timeout_s=20)

    outage_s = 4.0
    rtsp_server.stop()
    stopped_at = datetime.now(UTC)
    wait_for(
        lambda: all(r.status().state is RecorderState.NO_SIGNAL for r in recorders.values()), timeout_s=10
    )
    time.sleep(max(0.0, outage_s - (datetime.now(UTC) - stopped_at).total_seconds()))
    rtsp_server.start()
    back_at = time.monotonic()
    wait_for(
        lambda: all(r.status().state is RecorderState.RECORDING for r in recorders.values()), timeout_s=10
    )
    resumed_after_s = time.monotonic() - back_at
    wait_for(lambda: all(r.status().segments_closed >= 4 for r in recorders.values()), timeout_s=20)
    station.stop()

    for camera in CAMERAS:
        rows = _segments(database, camera)
        assert len(rows) >= 4
        for row in rows:
            assert row.status == "closed"
            probed = probe_file(resolve_relative(tmp_path / "rec", row.path), decode=False)
            assert probed.first_is_keyframe and probed.monotonic and probed.sha256 == row.sha256
            assert (probed.codec, probed.width, probed.height) == ("h264", 640, 360)
        with database.session() as session:
            found = session.scalars(select(Gap).where(Gap.camera_id == camera).order_by(Gap.start_utc)).all()
        outage = [g for g in found if g.reason == "camera_unreachable"]
        assert len(outage) == 1, [(g.reason, g.start_utc, g.end_utc) for g in found]
        gap = outage[0]
        assert gap.end_utc is not None
        length = (gap.end_utc - gap.start_utc).total_seconds()
        # about N seconds: the outage plus reconnect and the wait for the first keyframe (GOP 1 s)
        print(f"{camera}: camera_unreachable gap {length:.2f} s")
        assert outage_s - 0.5 <= length <= outage_s + 4.0, length
        before = [r for r in rows if r.end_utc <= gap.start_utc]
        after = [r for r in rows if r.start_utc >= gap.end_utc]
        assert before and after and before[-1].end_utc == gap.start_utc and after[0].start_utc == gap.end_utc
        assert found[-1].reason == "station_stopped"
    print(f"outage {outage_s} s, resumed {resumed_after_s:.2f} s after the server came back")
    assert resumed_after_s <= 3.0, f"recording resumed {resumed_after_s:.1f} s after the server came back"
    assert timedelta(seconds=0) < datetime.now(UTC) - stopped_at


def _gaps(db: Database, camera: str) -> list[Gap]:
    with db.session() as session:
        return list(session.scalars(select(Gap).where(Gap.camera_id == camera).order_by(Gap.start_utc)))


RECONNECTS = 2


@pytest.mark.timeout(120)
@pytest.mark.parametrize("b_frames", [0, 2], ids=["no-b-frames", "b-frames"])
def test_each_reconnect_starts_exactly_one_file(
    rtsp_server_factory: RtspServerFactory,
    clip_cache: ClipCache,
    database: Database,
    tmp_path: Path,
    b_frames: int,
) -> None:
    """Issue 26: each reconnect also wrote a 0.1 s file. With B-frames, the session's untimed first keyframe
    was back-dated after the dts of the B-frames that follow: the time went backwards two packets into the
    connection, which ended it there (a 0.1 s file) and lost a GOP (a stream_error gap) before the next."""
    clip = clip_cache.get(ClipSpec(b_frames=b_frames))
    server = rtsp_server_factory(dict.fromkeys(CAMERAS, clip), file_pts=bool(b_frames))
    root = tmp_path / "rec"
    station = Station(server, database, root, segment_seconds=60)  # no file ends but by a reconnect
    station.start()
    recorders = station.recorders
    try:
        for _ in range(RECONNECTS):
            wait_for(lambda: all(r.status().state is RecorderState.RECORDING for r in recorders.values()), 15)
            time.sleep(2.5)
            server.stop()
            wait_for(lambda: all(r.status().state is RecorderState.NO_SIGNAL for r in recorders.values()), 10)
            time.sleep(1.0)
            server.start()
        wait_for(lambda: all(r.status().state is RecorderState.RECORDING for r in recorders.values()), 15)
        time.sleep(2.5)
    finally:
        station.stop()

    for camera in CAMERAS:
        rows = _segments(database, camera)
        durations = []
        for row in rows:
            assert row.status == "closed"
            probed = probe_file(resolve_relative(root, row.path), decode=False)
            assert probed.first_is_keyframe and probed.monotonic and probed.sha256 == row.sha256
            durations.append(round(probed.duration_s, 2))
        gaps = _gaps(database, camera)
        reasons = [g.reason for g in gaps]
        print(f"{camera}: {len(rows)} files of {durations} s and gaps {reasons} for {RECONNECTS} reconnects")
        assert len(rows) == RECONNECTS + 1, durations  # one file per connection
        assert min(durations) >= 0.5, durations
        assert reasons == ["camera_unreachable"] * RECONNECTS + ["station_stopped"], [
            (g.reason, g.detail) for g in gaps
        ]
        for before, gap, after in zip(rows, gaps, rows[1:], strict=False):
            assert gap.start_utc == before.end_utc and gap.end_utc == after.start_utc
            assert 1.0 <= (gap.end_utc - gap.start_utc).total_seconds() <= 1.0 + 6.0
        health = station.workers[camera].health()
        assert health.reconnects == RECONNECTS
        assert health.skipped_packets == 0, "a reconnect lost packets before its first keyframe"
        assert "backwards" not in (health.last_clock_event or ""), health.last_clock_event
