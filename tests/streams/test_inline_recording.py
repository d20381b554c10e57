"""Recording on the ingest thread: the fan-out sink, the fast clock path, the shared housekeeper, the disk
syncer. Real H.264 packets, real files probed with PyAV, a real database."""

from __future__ import annotations

import errno
import random
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import pytest

from storage.database import Database
from storage.model import GapReason
from streams.clock import ClockPolicy, Stamper, plan_stamp, start_clock
from streams.disk_sync import DiskSyncer
from streams.fanout import Fanout, StreamStarted, StreamStopped
from streams.packet import MediaPacket, demuxed
from streams.recorder import Housekeeper, RecorderSettings, RecorderState, SegmentRecorder, progress_due
from tests.streams.test_recorder import T0, check_segment_files, gaps, packets, segments, settings

SQLITE_ONLY = pytest.mark.parametrize("database", ["sqlite"], indirect=True)


@pytest.fixture(scope="module")
def pets() -> Path:
    from tests.support.paths import shared_file

    return shared_file("media", "pets09_s2l1_campus.mp4")  # 10 fps, keyframe every 1 s


def test_stamper_decides_exactly_as_plan_stamp() -> None:
    """Jitter, delivery bursts, a slow and a fast clock, jumps and timestamps going back: every reading of
    the fast path equals the pure function's."""
    rng = random.Random(7)
    policy = ClockPolicy()
    time_base = Fraction(1, 90_000)
    arrival = datetime(2026, 1, 1, tzinfo=UTC)
    pts = 1_000
    clock = start_clock(pts=pts, dts=pts, time_base=time_base, arrival_utc=arrival)
    stamper = Stamper(clock, policy)
    events: set[object] = set()
    for i in range(5_000):
        pts += 3_600
        arrival += timedelta(seconds=0.04 + rng.uniform(-0.02, 0.03))
        if i % 997 == 500:
            pts += 90_000 * 30  # a jump forward
        if i % 1499 == 700:
            pts -= 90_000 * 5  # back in time
        if 2_000 <= i < 2_100:
            arrival += timedelta(seconds=0.05)  # the camera falls behind: clock_slow
        if 3_000 <= i < 3_400:
            arrival -= timedelta(seconds=0.02)  # and runs fast
        clock, reading = plan_stamp(clock, pts=pts, dts=pts, arrival_utc=arrival, policy=policy)
        ts, lag, event = stamper.stamp(pts, pts, arrival.timestamp())
        assert ts == pytest.approx(reading.ts_utc.timestamp(), abs=2e-6), i
        assert lag == pytest.approx(reading.lag_s, abs=2e-6), i
        assert event is reading.event, i
        events.add(event)
    assert {e for e in events if e is not None} >= {"timestamps_jump", "timestamps_backwards", "clock_slow"}
    assert stamper.clock.last_order == clock.last_order


def test_progress_is_not_written_in_the_last_interval_before_the_close() -> None:
    ten = RecorderSettings(segment_seconds=10, progress_interval_s=10)
    assert not progress_due(10.0, ten)
    minute = RecorderSettings(segment_seconds=60, progress_interval_s=10)
    assert [progress_due(s, minute) for s in (10.0, 50.0, 50.1)] == [True, True, False]


def test_disk_syncer_syncs_the_filesystem_and_reports_failures(tmp_path: Path) -> None:
    real = DiskSyncer(tmp_path / "recordings", interval_s=0.05)
    real.start()
    (tmp_path / "recordings" / "a").write_bytes(b"x")
    real.stop()  # one last sync on stop
    assert real.syncs >= 1 and real.failures == 0

    def broken(_fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    failing = DiskSyncer(tmp_path, interval_s=10, syncfs=broken)
    failing.start()
    assert not failing.sync_now()
    failing.stop()
    assert failing.failures == 2 and failing.last_error is not None and "Input/output" in failing.last_error
    with pytest.raises(ValueError):
        DiskSyncer(tmp_path, interval_s=0)


@SQLITE_ONLY
def test_attached_recorder_records_from_the_fanout_and_subscribers_keep_their_packets(
    database: Database, tmp_path: Path, pets: Path
) -> None:
    items = packets(pets)[:250]  # 25 s at 10 fps
    fanout = Fanout("ingest-cam-1-main")
    housekeeper = Housekeeper(interval_s=3600)  # rounds run by hand below
    recorder = SegmentRecorder(camera_id="cam-1", db=database, root=tmp_path, settings=settings())
    recorder.attach(fanout, housekeeper)
    viewer = fanout.subscribe("viewer", maxsize=1024)
    fmt = items[0].format
    fanout.publish(StreamStarted(fmt, T0))
    for item in items:
        fanout.publish_packet(demuxed(item), fmt, item.ts_utc.timestamp(), item.arrival_utc.timestamp())
    assert segments(database) == [], "index rows wait for the housekeeper's round"
    housekeeper.run_once()
    assert [row.status for row in segments(database)] == ["closed", "closed", "open"]
    fanout.publish(StreamStopped(fmt, T0 + timedelta(seconds=25), "stalled", items[-1].ts_utc))
    recorder.stop()
    check_segment_files(database, tmp_path, target_s=10.0, gop_s=1.0)
    assert recorder.status().packets_written == 250
    assert [g.reason for g in gaps(database)] == ["stream_stalled", "station_stopped"]
    seen = []
    while (got := viewer.get(timeout_s=0)) is not None:
        if isinstance(got, MediaPacket):
            seen.append(got)
    # the recorder rebased the av.Packet it muxed; the viewer's copy has the stream's own timestamps
    assert [(p.pts, p.data) for p in seen] == [(i.pts, i.data) for i in items]


@SQLITE_ONLY
def test_housekeeper_applies_a_retention_pause_while_no_packet_arrives(
    database: Database, tmp_path: Path, pets: Path
) -> None:
    items = packets(pets)[:40]
    fanout = Fanout("ingest-cam-1-main")
    housekeeper = Housekeeper(interval_s=0.05)
    recorder = SegmentRecorder(camera_id="cam-1", db=database, root=tmp_path, settings=settings())
    recorder.attach(fanout, housekeeper)
    housekeeper.start()
    fmt = items[0].format
    fanout.publish(StreamStarted(fmt, T0))
    for item in items:
        fanout.publish_packet(demuxed(item), fmt, item.ts_utc.timestamp(), item.arrival_utc.timestamp())
    recorder.pause_recording(GapReason.EVIDENCE_ONLY_LEFT, "only evidence left")
    deadline = datetime.now(UTC) + timedelta(seconds=10)
    while recorder.status().state is not RecorderState.STOPPED_BY_RETENTION and datetime.now(UTC) < deadline:
        housekeeper._stop.wait(0.05)
    housekeeper.stop()
    recorder.stop()
    assert recorder.status().stop_reason is GapReason.EVIDENCE_ONLY_LEFT
    assert [row.status for row in segments(database)] == ["closed"]
    assert "evidence_only_left" in [g.reason for g in gaps(database)]
