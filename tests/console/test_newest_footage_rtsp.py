"""Issue 25, defect 2: the newest footage plays and exports. The running station records the real RTSP test
server into long segments (the file being written holds everything recorded so far); a playback view and an
evidence package of "up to now" reach a few seconds before now, and what is green on the timeline plays.
Real parts only: RTSP server, recorder, database, MP4 bytes probed with PyAV, the package verified."""

from __future__ import annotations

import hashlib
import tempfile
import time
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from config.schema import CameraConfig, Location, RecordingConfig, StationConfig, StationInfo, StorageConfig
from config.settings import Settings
from storage.database import Database
from storage.evidence.verifier import verify_package
from storage.layout import resolve_relative
from storage.lock import create_lock, locks_covering
from storage.model import Segment, utcnow
from streams.segment_file import scan_fragments
from tests.support.media import clip_cache, small_clip  # noqa: F401
from tests.support.mp4 import probe_file
from tests.support.rtsp_server import RtspServer, rtsp_server, rtsp_server_factory  # noqa: F401
from tests.support.station_media import MediaStation, started_media_station

pytestmark = [pytest.mark.rtsp, pytest.mark.timeout(150)]

SEGMENT_S = 20  # long enough that the footage of the test lies in the file still being written
RECORDED_S = 8.0  # how much of the open file the test waits for
BEHIND_NOW_S = 3.0  # how far before "now" playback and export must reach (fragments of 1 s, 25 fps)


@pytest.fixture
def recording_station(tmp_path: Path, rtsp_server: RtspServer) -> Iterator[MediaStation]:  # noqa: F811
    config = StationConfig(
        station=StationInfo(name="ЖК RTSP", timezone="Asia/Almaty"),
        storage=StorageConfig(data_dir=tmp_path / "data"),
        recording=RecordingConfig(segment_seconds=SEGMENT_S),
        cameras=[
            CameraConfig(
                id="b5-e1",
                name="Дом 5, подъезд 1",
                url=rtsp_server.url("cam1"),
                location=Location(building="5", entrance="1"),
            )
        ],
    )
    with started_media_station(Settings(config=config, config_path=None)) as media:
        yield media


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def wait_for_open_segment(database: Database, camera_id: str, *, recorded_s: float) -> Segment:
    """The row of the file being written, once it holds ``recorded_s`` of footage and no file is closed."""
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        with database.session() as session:
            rows = session.scalars(select(Segment).where(Segment.camera_id == camera_id)).all()
            session.expunge_all()
        if len(rows) == 1 and rows[0].status == "open":
            wait_s = (rows[0].start_utc + timedelta(seconds=recorded_s) - utcnow()).total_seconds()
            time.sleep(max(wait_s, 0.0))
            return rows[0]
        time.sleep(0.2)
    raise AssertionError(f"{camera_id}: no file being written after 40 s")


def test_the_minute_being_recorded_plays_up_to_a_few_seconds_ago(recording_station: MediaStation) -> None:
    media = recording_station
    open_row = wait_for_open_segment(media.station.database, "b5-e1", recorded_s=RECORDED_S)
    investigator = media.login("investigator")
    window_start = open_row.start_utc - timedelta(minutes=5)

    timeline = investigator.get(
        "/api/recordings/timeline",
        params={"camera": "b5-e1", "start": iso(window_start), "end": iso(utcnow())},
    )
    assert timeline.status_code == 200, timeline.text
    now = utcnow()
    view = investigator.post(
        "/api/recordings/views", json={"camera": "b5-e1", "start": iso(window_start), "end": iso(now)}
    )
    assert view.status_code == 201, view.text
    (entry,) = view.json()["segments"]  # nothing is closed yet: only the file being written
    assert entry["id"] == open_row.id and entry["growing"] is True
    start, end = parse(entry["start"]), parse(entry["end"])
    assert start == open_row.start_utc
    behind_s = (now - end).total_seconds()
    assert 0 <= behind_s <= BEHIND_NOW_S, behind_s

    # green on the timeline is what plays: its last span ends where the view's footage ends (or before:
    # the timeline was asked first), and the hole after it is shorter than a tick of the bar
    (span,) = timeline.json()["spans"]
    assert parse(span["start"]) == start and end - timedelta(seconds=1.5) <= parse(span["end"]) <= end
    assert all(parse(g["end"]) <= start for g in timeline.json()["gaps"])

    served = investigator.get(entry["url"])
    assert served.status_code == 200 and served.headers["content-type"] == "video/mp4"
    assert len(served.content) == entry["bytes"] and served.headers["cache-control"] == "no-store"
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / "newest.mp4"
        copy.write_bytes(served.content)
        scan = scan_fragments(copy)
        assert scan.header_complete and scan.playable_end == len(served.content)  # complete fragments only
        probed = probe_file(copy)
    assert probed.first_is_keyframe and probed.monotonic and probed.codec == "h264"
    # media time and the station's clock (what the index holds) differ by the stream's jitter and drift
    assert probed.duration_s == pytest.approx((end - start).total_seconds(), abs=0.5)
    assert probed.decoded_frames >= round(25 * (RECORDED_S - BEHIND_NOW_S))
    thumbnail = investigator.get(entry["thumbnail_url"])
    assert thumbnail.status_code == 200 and thumbnail.content[:2] == b"\xff\xd8"
    print(f"\nnewest footage: playback reaches {behind_s:.2f} s before now ({probed.decoded_frames} frames)")


def test_the_minute_being_recorded_exports_and_the_lock_covers_it_once_closed(
    recording_station: MediaStation,
) -> None:
    media = recording_station
    database = media.station.database
    open_row = wait_for_open_segment(database, "b5-e1", recorded_s=RECORDED_S)
    window_start = open_row.start_utc + timedelta(seconds=2)
    with database.session() as session:
        lock_id = create_lock(
            session, camera_id="b5-e1", start_utc=window_start, end_utc=utcnow(), reason="обращение"
        ).id
    supervisor = media.login("supervisor")
    now = utcnow()
    made = supervisor.post(
        "/api/exports",
        json={"cameras": ["b5-e1"], "start": iso(window_start), "end": iso(now), "reason": "по обращению"},
    )
    assert made.status_code == 201, made.text
    assert made.json()["gaps"]["b5-e1"] == []  # the footage reaches the end of the range
    with tempfile.TemporaryDirectory() as folder:
        package = Path(folder) / "package.zip"
        package.write_bytes(supervisor.get(made.json()["download_url"]).content)
        report = verify_package(package)
        assert report.intact, report.render()
        assert report.manifest is not None
        (clip,) = report.manifest["clips"]
        (source,) = clip["sources"]
        actual_end = parse(clip["actual"]["end_utc"])
        behind_s = (now - actual_end).total_seconds()
        # the clip's times are media times from the segment's start: the stream's drift (the test server's
        # is a few per cent) may put its end a little after the station clock's end of the footage
        assert -1.0 <= behind_s <= BEHIND_NOW_S, behind_s
        with zipfile.ZipFile(package) as archive:
            extracted = Path(folder) / "clip.mp4"
            extracted.write_bytes(archive.read(clip["file"]))
        probed = probe_file(extracted)
    assert probed.first_is_keyframe and probed.monotonic
    assert probed.duration_s >= (now - window_start).total_seconds() - BEHIND_NOW_S
    assert source["path"] == open_row.path and source["sha256_of_first_bytes"] > 0
    print(f"\nnewest footage: export reaches {behind_s:.2f} s before now")

    # the file closes: its first bytes are what the package hashed, and the lock covers the closed segment
    deadline = time.monotonic() + SEGMENT_S + 20
    while True:
        with database.session() as session:
            row = session.get(Segment, open_row.id)
            assert row is not None
            if row.status == "closed":
                break
        assert time.monotonic() < deadline, "the file being written never closed"
        time.sleep(0.3)
    closed = resolve_relative(media.station.settings.recordings_dir, open_row.path).read_bytes()
    assert hashlib.sha256(closed[: source["sha256_of_first_bytes"]]).hexdigest() == source["sha256"]
    assert hashlib.sha256(closed).hexdigest() == row.sha256
    with database.session() as session:
        covering = locks_covering(
            session, camera_id="b5-e1", start_utc=row.start_utc, end_utc=row.end_utc, now=utcnow()
        )
    assert [lock.lock_id for lock in covering] == [lock_id]
