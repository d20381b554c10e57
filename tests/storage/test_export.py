"""Export on the database side (SQLite and PostgreSQL): segments for a range, gaps, rows, the whole job."""

from __future__ import annotations

import hashlib
import json
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import pytest
from sqlalchemy import select

from config.schema import StationInfo
from storage.database import Database
from storage.evidence.verifier import verify_package
from storage.export import (
    ExportRangeError,
    FootageGap,
    NoFootageError,
    SegmentChangedError,
    UnknownCameraError,
    check_export_range,
    find_gaps,
    find_segments,
    plan_gaps,
    resolve_recording_path,
    verify_segment_file,
)
from storage.model import AuditEntry, Export, Gap, GapReason, SegmentStatus, User
from storage.signing import ensure_station_key
from streams.export_job import ExportRequest, export_evidence, fingerprint_package, plan_clip_ranges
from tests.support.segments import MARKED_START_UTC as T0
from tests.support.segments import insert_segment_rows, write_segment_set

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def s(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("spans", "start", "end", "gaps"),
    [
        ([(0, 4), (4, 8)], 0, 8, []),
        ([(0, 4), (4.5, 8)], 0, 8, []),  # 0.5 s hole: recorder rounding
        ([(0, 4), (6, 8)], 1, 8, [(4, 6)]),
        ([(2, 4)], 0, 8, [(0, 2), (4, 8)]),
        ([], 0, 8, [(0, 8)]),
        ([(6, 8), (0, 3)], 0, 8, [(3, 6)]),  # unsorted input
        ([(0, 10), (2, 4)], 1, 8, []),  # overlapping spans
    ],
)
def test_plan_gaps(
    spans: list[tuple[float, float]], start: float, end: float, gaps: list[tuple[float, float]]
) -> None:
    planned = plan_gaps([(s(a), s(b)) for a, b in spans], s(start), s(end))
    assert planned == [(s(a), s(b)) for a, b in gaps]


def test_check_export_range() -> None:
    assert check_export_range(s(0), s(10), now=NOW) == (s(0), s(10))
    with pytest.raises(ExportRangeError, match="not after"):
        check_export_range(s(10), s(0), now=NOW)
    with pytest.raises(ExportRangeError, match="in the future"):
        check_export_range(NOW + timedelta(hours=1), NOW + timedelta(hours=2), now=NOW)
    two_days = (NOW - timedelta(hours=48), NOW)  # a 48-hour export is allowed (it is cut as a stream)
    assert check_export_range(*two_days, now=NOW) == two_days
    with pytest.raises(ExportRangeError, match="longer than the 72 h"):
        check_export_range(s(0), s(73 * 3600), now=NOW)


def test_recording_paths_cannot_escape_the_root(tmp_path: Path) -> None:
    assert resolve_recording_path(tmp_path, "cam-1/a.mp4") == tmp_path.resolve() / "cam-1" / "a.mp4"
    for evil in ["../x.mp4", "/etc/passwd", "cam-1/../../x"]:
        with pytest.raises(SegmentChangedError, match="escapes"):
            resolve_recording_path(tmp_path, evil)


@pytest.fixture
def recorded(database: Database, tmp_path: Path) -> Path:
    """cam-1: five 2 s segments from T0 with the third missing (a logged gap); cam-2: two segments."""
    root = tmp_path / "recordings"
    cam1 = write_segment_set(root, "cam-1", T0, count=5, segment_s=2.0, skip=(2,))
    cam2 = write_segment_set(root, "cam-2", T0, count=2, segment_s=2.0)
    with database.session() as session:
        insert_segment_rows(session, "cam-1", cam1, camera_name="Подъезд 1")
        insert_segment_rows(session, "cam-2", cam2, camera_name="Двор")
        session.add(
            Gap(camera_id="cam-1", start_utc=s(4), end_utc=s(6), reason=GapReason.STREAM_STALLED.value)
        )
        other = write_segment_set(root, "cam-2", s(100), count=1, segment_s=2.0)
        insert_segment_rows(session, "cam-2", other, status=SegmentStatus.OPEN)
        session.add(User(id=7, username="inv", role="investigator", password_hash="x"))
    return root


def test_find_segments_and_gaps(database: Database, recorded: Path) -> None:
    with database.session() as session:
        found = find_segments(
            session, camera_id="cam-1", start_utc=s(1), end_utc=s(9), recordings_dir=recorded
        )
        assert [f.start_utc for f in found] == [s(0), s(2), s(6), s(8)]  # edges included, ordered
        assert all(f.path.is_file() and f.sha256 for f in found)
        gaps = find_gaps(session, camera_id="cam-1", start_utc=s(1), end_utc=s(12), segments=found)
        assert gaps == [FootageGap(s(4), s(6), "stream_stalled"), FootageGap(s(10), s(12), None)]
        open_only = find_segments(
            session, camera_id="cam-2", start_utc=s(99), end_utc=s(103), recordings_dir=recorded
        )
        assert open_only == []  # still being written: not exportable


def test_gaps_logged_inside_a_file_are_reported(database: Database, recorded: Path) -> None:
    # The recorder logs frames missing inside a segment (it does not cut the file): an export must say so.
    with database.session() as session:
        session.add(Gap(camera_id="cam-1", start_utc=s(6.5), end_utc=s(8.0), reason="stream_error"))
        session.add(Gap(camera_id="cam-1", start_utc=s(9.0), end_utc=s(9.5), reason="stream_error"))  # < 1 s
    with database.session() as session:
        found = find_segments(
            session, camera_id="cam-1", start_utc=s(1), end_utc=s(9), recordings_dir=recorded
        )
        gaps = find_gaps(session, camera_id="cam-1", start_utc=s(1), end_utc=s(12), segments=found)
    assert gaps == [
        FootageGap(s(4), s(6), "stream_stalled"),
        FootageGap(s(6.5), s(8.0), "stream_error"),
        FootageGap(s(10), s(12), None),
    ]


def test_changed_segment_is_detected(database: Database, recorded: Path) -> None:
    with database.session() as session:
        [first, *_] = find_segments(
            session, camera_id="cam-1", start_utc=s(0), end_utc=s(2), recordings_dir=recorded
        )
    assert verify_segment_file(first) == first.sha256
    data = bytearray(first.path.read_bytes())
    data[100] ^= 0xFF
    first.path.write_bytes(bytes(data))
    with pytest.raises(SegmentChangedError, match=f"expected SHA-256 {first.sha256}"):
        verify_segment_file(first)


def _request(**overrides: object) -> ExportRequest:
    values: dict[str, object] = {
        "camera_ids": ("cam-1", "cam-2"),
        "start_utc": s(1),
        "end_utc": s(7),
        "user_id": 7,
        "username": "inv",
        "reason": "проверка жалобы",
        "source": "test",
    }
    values.update(overrides)
    return ExportRequest(**values)  # type: ignore[arg-type]


STATION = StationInfo(name="Опорный пункт 5", timezone="Asia/Almaty")


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_export_evidence_end_to_end(database: Database, recorded: Path, tmp_path: Path) -> None:
    key = ensure_station_key(tmp_path / "data")
    exports = tmp_path / "exports"
    outcome = export_evidence(
        database,
        station=STATION,
        key=key,
        request=_request(),
        recordings_dir=recorded,
        exports_dir=exports,
        now=NOW,
    )
    report = verify_package(outcome.package.path, trusted_keys=[key.public_key])
    assert report.valid, report.render()
    assert [p.name for p in exports.iterdir()] == [outcome.package.path.name]  # work dir removed
    manifest = json.loads(outcome.package.manifest)
    assert [c["camera"] for c in manifest["clips"]] == [
        {"id": "cam-1", "name": "Подъезд 1"},
        {"id": "cam-2", "name": "Двор"},
    ]
    cam1 = manifest["clips"][0]
    assert cam1["gaps"] == [
        {
            "start_utc": "2025-03-01T10:00:04.000Z",
            "end_utc": "2025-03-01T10:00:06.000Z",
            "seconds": 2.0,
            "reason": "stream_stalled",
        }
    ]
    assert cam1["actual"]["start_utc"] == "2025-03-01T10:00:01.000Z"  # the keyframe at 10:00:01 (GOP 1 s)
    assert [src["path"] for src in cam1["sources"]] == [
        "cam-1/2025/03/01/10/cam-1-20250301T100000.000000Z.mp4",
        "cam-1/2025/03/01/10/cam-1-20250301T100002.000000Z.mp4",
        "cam-1/2025/03/01/10/cam-1-20250301T100006.000000Z.mp4",
    ]
    assert manifest["clips"][1]["actual"]["end_utc"] == "2025-03-01T10:00:04.000Z"  # footage ends there
    assert manifest["export_id"] == outcome.export_id
    package_bytes = outcome.package.path.read_bytes()
    assert outcome.package.sha256 == hashlib.sha256(package_bytes).hexdigest()
    assert outcome.package.size == len(package_bytes)
    with zipfile.ZipFile(outcome.package.path) as archive:
        assert archive.testzip() is None  # the CRC-32 of the clips cut straight into the ZIP
        clips = [n for n in archive.namelist() if n.startswith("clips/")]
        assert len(clips) == 2
        for name, clip in zip(clips, manifest["clips"], strict=True):
            with archive.open(name) as member, av.open(member, "r") as container:
                packets = [p for p in container.demux(video=0) if p.size]
            assert packets[0].is_keyframe and len(packets) >= 25
            first_pts, last_pts = packets[0].pts, packets[-1].pts
            assert first_pts is not None and last_pts is not None
            played = float((last_pts + (packets[-1].duration or 0) - first_pts) * packets[0].time_base)
            first = datetime.fromisoformat(clip["actual"]["start_utc"])
            last = datetime.fromisoformat(clip["actual"]["end_utc"])
            gaps = sum(  # rebased without the gaps inside the clip, as ffmpeg concat does
                max(0.0, (min(last, _t(g["end_utc"])) - max(first, _t(g["start_utc"]))).total_seconds())
                for g in clip["gaps"]
            )
            assert abs(played - ((last - first).total_seconds() - gaps)) < 0.1
    with database.session() as session:
        row = session.get_one(Export, outcome.export_id)
        assert row.status == "ready"
        assert row.path == outcome.package.path.name
        assert row.sha256 == outcome.package.sha256 and row.bytes == outcome.package.size
        assert row.manifest == outcome.package.manifest.decode("utf-8")
        audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "evidence.export")).one()
        assert audit.resource_id == str(outcome.export_id) and audit.username == "inv"


def test_export_of_empty_range_lists_the_gaps(database: Database, recorded: Path, tmp_path: Path) -> None:
    key = ensure_station_key(tmp_path / "data")
    with pytest.raises(NoFootageError) as caught:
        export_evidence(
            database,
            station=STATION,
            key=key,
            request=_request(camera_ids=("cam-1",), start_utc=s(20), end_utc=s(30)),
            recordings_dir=recorded,
            exports_dir=tmp_path / "exports",
            now=NOW,
        )
    assert caught.value.gaps == (FootageGap(s(20), s(30), None),)
    assert "2025-03-01T10:00:20+00:00 .. 2025-03-01T10:00:30+00:00 [10.0 s]" in str(caught.value)
    with database.session() as session:
        assert session.scalars(select(Export)).all() == []


def test_export_refuses_unknown_camera(database: Database, recorded: Path, tmp_path: Path) -> None:
    with pytest.raises(UnknownCameraError, match="cam-9"):
        export_evidence(
            database,
            station=STATION,
            key=ensure_station_key(tmp_path / "data"),
            request=_request(camera_ids=("cam-9",)),
            recordings_dir=recorded,
            exports_dir=tmp_path / "exports",
            now=NOW,
        )


def test_changed_segment_aborts_the_export(database: Database, recorded: Path, tmp_path: Path) -> None:
    victim = next((recorded / "cam-2").rglob("*100002.000000Z.mp4"))
    data = bytearray(victim.read_bytes())
    data[-10] ^= 0x01
    victim.write_bytes(bytes(data))
    exports = tmp_path / "exports"
    with pytest.raises(SegmentChangedError, match="does not match the index"):
        export_evidence(
            database,
            station=STATION,
            key=ensure_station_key(tmp_path / "data"),
            request=_request(),
            recordings_dir=recorded,
            exports_dir=exports,
            now=NOW,
        )
    assert list(exports.iterdir()) == []
    with database.session() as session:
        [row] = session.scalars(select(Export)).all()
        assert row.status == "failed" and row.path is None
        audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "evidence.export")).one()
        assert "SegmentChangedError" in (audit.detail or "")


def test_export_cuts_one_clip_per_given_range(database: Database, recorded: Path, tmp_path: Path) -> None:
    """Separate ranges of one camera are separate clips, each over its own range; cam-2's own range."""
    request = _request(
        start_utc=s(0),
        end_utc=s(10),
        clip_ranges=(("cam-1", s(0), s(2)), ("cam-1", s(7), s(9)), ("cam-2", s(1), s(3))),
    )
    outcome = export_evidence(
        database,
        station=STATION,
        key=ensure_station_key(tmp_path / "data"),
        request=request,
        recordings_dir=recorded,
        exports_dir=tmp_path / "exports",
        now=NOW,
        hash_package=False,
    )
    assert outcome.package.sha256 is None  # left to fingerprint_package
    report = verify_package(outcome.package.path)
    assert report.intact, report.render()
    manifest = json.loads(outcome.package.manifest)
    requested = [
        (c["camera"]["id"], c["requested"]["start_utc"], c["requested"]["end_utc"]) for c in manifest["clips"]
    ]
    assert requested == [
        ("cam-1", "2025-03-01T10:00:00.000Z", "2025-03-01T10:00:02.000Z"),
        ("cam-1", "2025-03-01T10:00:07.000Z", "2025-03-01T10:00:09.000Z"),
        ("cam-2", "2025-03-01T10:00:01.000Z", "2025-03-01T10:00:03.000Z"),
    ]
    assert len({c["file"] for c in manifest["clips"]}) == 3
    sha256 = fingerprint_package(database, export_id=outcome.export_id, path=outcome.package.path)
    assert sha256 == hashlib.sha256(outcome.package.path.read_bytes()).hexdigest()
    # a second fingerprint (the background task and a first download at once) records and audits nothing new
    again = fingerprint_package(database, export_id=outcome.export_id, path=outcome.package.path)
    assert again == sha256
    with database.session() as session:
        assert session.get_one(Export, outcome.export_id).sha256 == sha256
        hashed = session.scalars(select(AuditEntry).where(AuditEntry.action == "evidence.package_hash")).all()
        assert len(hashed) == 1, "the package hash is audited once per export"


@pytest.mark.parametrize(
    ("ranges", "problem"),
    [
        ((("cam-9", s(0), s(2)),), "does not list"),
        ((("cam-1", s(0), s(20)),), "outside the export"),
        ((("cam-1", s(3), s(2)),), "not after start"),
    ],
)
def test_clip_ranges_must_lie_in_the_export(
    ranges: tuple[tuple[str, datetime, datetime], ...], problem: str
) -> None:
    request = _request(start_utc=s(0), end_utc=s(10), clip_ranges=ranges)
    with pytest.raises(ExportRangeError, match=problem):
        plan_clip_ranges(request, s(0), s(10), NOW)
