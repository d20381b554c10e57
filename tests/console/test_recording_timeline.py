"""Timeline building blocks: span merging (pure and in the database, SQLite and PostgreSQL) and holes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from storage.database import Database
from storage.model import Camera, Segment, SegmentStatus
from storage.timeline import Span, merge_spans, plan_holes, recorded_spans

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_merge_spans_joins_touching_and_jittered_ranges() -> None:
    ranges = [
        (at(0), at(60)),
        (at(60.4), at(120)),
        (at(119.8), at(180)),
        (at(200), at(260)),
        (at(10), at(20)),
    ]
    assert merge_spans(ranges) == [Span(at(0), at(180), 4), Span(at(200), at(260), 1)]
    assert merge_spans([]) == []


def test_plan_holes_annotates_reasons_and_open_gaps() -> None:
    spans = [Span(at(10), at(20), 1), Span(at(30), at(40), 1)]
    gaps = [
        (at(20), at(30), "camera_unreachable"),
        (at(25), at(30), "disk_full"),
        (at(40), None, "station_stopped"),
    ]
    holes = plan_holes(spans, gaps, start_utc=at(0), end_utc=at(100), now=at(60))
    assert [(h.start_utc, h.end_utc, h.reasons, h.open) for h in holes] == [
        (at(0), at(10), (), False),
        (at(20), at(30), ("camera_unreachable", "disk_full"), False),
        (at(40), at(60), ("station_stopped",), True),  # never beyond now
    ]
    assert plan_holes([Span(at(0), at(100), 1)], [], start_utc=at(0), end_utc=at(100), now=at(200)) == []


def test_plan_holes_shows_frames_missing_inside_a_file() -> None:
    # The recorder logs a timestamp hole inside a connection as a closed gap without cutting the file.
    spans = [Span(at(0), at(100), 1)]
    gaps = [(at(40), at(42), "stream_error"), (at(70), at(70.5), "stream_error")]  # the second is < 1 s
    holes = plan_holes(spans, gaps, start_utc=at(0), end_utc=at(100), now=at(200))
    assert [(h.start_utc, h.end_utc, h.reasons, h.open) for h in holes] == [
        (at(40), at(42), ("stream_error",), False),
    ]


def test_recorded_spans_in_the_database_match_the_pure_merge(database: Database) -> None:
    rows = []
    cursor = 0.0
    for index in range(300):
        length = 60 + (index % 3) * 0.01
        jitter = 0.3 if index % 7 == 0 else -0.2 if index % 5 == 0 else 0.0
        start = cursor + jitter
        if index in (50, 51, 200):
            start += 30  # real holes
        rows.append((at(start), at(start + length)))
        cursor = start + length
    with database.session() as session:
        session.add(Camera(id="cam", name="Cam"))
        session.add(Camera(id="other", name="Other"))
        session.flush()
        for number, (row_start, row_end) in enumerate(rows):
            session.add(
                Segment(
                    camera_id="cam",
                    start_utc=row_start,
                    end_utc=row_end,
                    path=f"cam/{number}.mp4",
                    status=SegmentStatus.CLOSED.value,
                )
            )
        session.add(
            Segment(
                camera_id="cam",
                start_utc=at(-500),
                end_utc=at(-400),
                path="cam/deleted.mp4",
                status=SegmentStatus.DELETED.value,
            )
        )
        session.add(
            Segment(
                camera_id="other",
                start_utc=at(0),
                end_utc=at(99999),
                path="other/0.mp4",
                status=SegmentStatus.CLOSED.value,
            )
        )
    window_start, window_end = at(-1000), at(30000)
    with database.session() as session:
        spans = recorded_spans(session, camera_id="cam", start_utc=window_start, end_utc=window_end)
        clipped = recorded_spans(session, camera_id="cam", start_utc=at(100), end_utc=at(3000))
    expected = [s for s in merge_spans(rows) if s.end_utc > window_start]
    assert spans == expected and len(spans) == 4
    assert clipped[0].start_utc == at(100) and clipped[-1].end_utc <= at(3000)
