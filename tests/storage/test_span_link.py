"""Span ids kept by the segment writes, and the timeline answered from them (SQLite and PostgreSQL)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from storage.database import Database
from storage.model import Segment, SegmentStatus
from storage.retention import Deletion, Plan, SegmentInfo, apply_plan
from storage.segment import (
    LIVE_STATUSES,
    SegmentClose,
    add_finished_segment,
    close_segment,
    close_segment_row,
    discard_segment,
    mark_segment_deleted,
    open_segment,
    open_segment_row,
    update_segment_progress,
)
from storage.span_link import JOIN_TOLERANCE, chains, has_unlinked, relink_camera
from storage.timeline import merge_spans, recorded_spans

T0 = datetime(2026, 3, 1, tzinfo=UTC)
CAM = "cam-1"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _close(end: datetime, start: datetime) -> SegmentClose:
    return SegmentClose(
        end_utc=end, duration_s=(end - start).total_seconds(), bytes=10, sha256="0" * 64, keyframes=1
    )


def _add(session: Session, start: float, end: float, name: str | None = None) -> int:
    path = name or f"{CAM}/{start:.3f}-{end:.3f}.mp4"
    row = add_finished_segment(
        session,
        camera_id=CAM,
        path=path,
        start_utc=at(start),
        close=_close(at(end), at(start)),
        status=SegmentStatus.CLOSED,
    )
    return row.id


def _span_ids(session: Session) -> dict[int, int | None]:
    rows = session.execute(
        select(Segment.id, Segment.span_id).where(Segment.camera_id == CAM).order_by(Segment.start_utc)
    ).all()
    return {r[0]: r[1] for r in rows}


def _assert_consistent(session: Session) -> None:
    """Live rows grouped by span id are exactly the merged spans; other rows carry 0."""
    rows = session.execute(
        select(Segment.id, Segment.start_utc, Segment.end_utc, Segment.status, Segment.span_id)
        .where(Segment.camera_id == CAM)
        .order_by(Segment.start_utc, Segment.id)
    ).all()
    live = [(r[0], r[1], r[2]) for r in rows if r[3] in LIVE_STATUSES]
    assert all(r[4] == 0 for r in rows if r[3] not in LIVE_STATUSES)
    span_of = {r[0]: r[4] for r in rows}
    expected = chains(live, JOIN_TOLERANCE)
    got: dict[int | None, set[int]] = {}
    for row_id, _, _ in live:
        got.setdefault(span_of[row_id], set()).add(row_id)
    assert None not in got
    assert sorted(map(sorted, got.values())) == sorted(map(sorted, expected))


def _reference(session: Session, start: datetime, end: datetime) -> list[tuple[datetime, datetime, int]]:
    rows = session.execute(
        select(Segment.start_utc, Segment.end_utc).where(
            Segment.camera_id == CAM,
            Segment.status.in_(LIVE_STATUSES),
            Segment.start_utc < end,
            Segment.end_utc > start,
        )
    ).all()
    result = []
    for span in merge_spans((r[0], r[1]) for r in rows):
        lo, hi = max(span.start_utc, start), min(span.end_utc, end)
        if hi > lo:
            result.append((lo, hi, span.segments))
    return result


def _spans(session: Session, start: datetime, end: datetime) -> list[tuple[datetime, datetime, int]]:
    return [
        (s.start_utc, s.end_utc, s.segments)
        for s in recorded_spans(session, camera_id=CAM, start_utc=start, end_utc=end)
    ]


def test_recorder_writes_keep_one_span_and_a_gap_starts_another(database: Database) -> None:
    with database.session() as session:
        for number in range(3):  # open, progress, close, then the next file right after
            path = f"{CAM}/{number}.mp4"
            open_segment(session, camera_id=CAM, path=path, start_utc=at(60 * number + 0.4 * number))
            update_segment_progress(
                session, path=path, end_utc=at(60 * number + 30), bytes_written=5, keyframes=1
            )
            close_segment(session, path=path, close=_close(at(60 * number + 60), at(60 * number)))
        _add(session, 180 + 1.5, 240)  # 1.5 s after the last end: a new span
        _add(session, 240.9, 300)  # within 1 s: same span as the previous one
        ids = list(_span_ids(session).values())
        assert ids[0] == ids[1] == ids[2] and ids[3] == ids[4] and ids[0] != ids[3]
        _assert_consistent(session)
        assert not has_unlinked(session, camera_id=CAM)
        assert _spans(session, at(-10), at(400)) == [(at(0), at(180), 3), (at(181.5), at(300), 2)]


def test_a_rolling_file_costs_the_recorder_seven_statements(database: Database) -> None:
    """The recorder opens and closes a file every segment on every camera: its two transactions stay at
    four statements to open (the camera row, the span probe, the spans to its right, the insert) and three
    to close (the row, its update, the span probe); eleven before, each with the ORM's overhead."""
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    for number in range(3):  # history: the rows before, in one span
        with database.session() as session:
            open_segment(session, camera_id=CAM, path=f"{CAM}/{number}.mp4", start_utc=at(10 * number))
        with database.session() as session:
            close = _close(at(10 * number + 10), at(10 * number))
            close_segment(session, path=f"{CAM}/{number}.mp4", close=close)
    event.listen(database.engine, "before_cursor_execute", count)
    try:
        with database.session() as session:
            open_segment_row(session, camera_id=CAM, path=f"{CAM}/3.mp4", start_utc=at(30))
        opened = len(statements)
        with database.session() as session:
            close_segment_row(session, path=f"{CAM}/3.mp4", close=_close(at(40), at(30)))
    finally:
        event.remove(database.engine, "before_cursor_execute", count)
    assert (opened, len(statements) - opened) == (4, 3), statements
    with database.session() as session:
        _assert_consistent(session)
        assert _spans(session, at(-10), at(100)) == [(at(0), at(40), 4)]


def test_an_older_orphan_bridging_two_spans_merges_them(database: Database) -> None:
    with database.session() as session:
        _add(session, 0, 60)
        _add(session, 120, 180)
        _add(session, 180, 240)
        _add(session, 400, 460)
        assert len(set(_span_ids(session).values())) == 3
        _add(session, 60, 120)  # reconcile indexes the missing minute later
        assert len(set(_span_ids(session).values())) == 2
        _assert_consistent(session)
        assert _spans(session, at(0), at(1000)) == [(at(0), at(240), 4), (at(400), at(460), 1)]


def test_deleting_the_middle_of_a_span_splits_it_and_the_head_does_not(database: Database) -> None:
    with database.session() as session:
        ids = [_add(session, 60 * n, 60 * n + 60) for n in range(10)]
        mark_segment_deleted(session, segment_id=ids[0], at=at(9999))  # retention: oldest first
        _assert_consistent(session)
        assert len({v for v in _span_ids(session).values() if v}) == 1
        mark_segment_deleted(session, segment_id=ids[5], at=at(9999))  # a middle one
        _assert_consistent(session)
        assert _spans(session, at(0), at(600)) == [(at(60), at(300), 4), (at(360), at(600), 4)]
        discard_segment(session, path=f"{CAM}/{540:.3f}-{600:.3f}.mp4", at=at(9999))  # the tail
        _assert_consistent(session)
        assert _spans(session, at(0), at(600)) == [(at(60), at(300), 4), (at(360), at(540), 3)]


def test_a_deletion_under_a_long_segment_keeps_the_span(database: Database) -> None:
    with database.session() as session:
        _add(session, 0, 600)  # one long file overlapping the short ones
        short = [_add(session, 60 * n, 60 * n + 60) for n in range(1, 5)]
        _add(session, 600.5, 700)
        mark_segment_deleted(session, segment_id=short[1], at=at(9999))
        _assert_consistent(session)
        assert _spans(session, at(0), at(700)) == [(at(0), at(700), 5)]


def test_rows_written_around_the_storage_functions_fall_back_and_heal(database: Database) -> None:
    with database.session() as session:
        _add(session, 0, 60)
        session.add(
            Segment(camera_id=CAM, start_utc=at(60), end_utc=at(120), path="direct.mp4", status="closed")
        )
        session.flush()
        assert has_unlinked(session, camera_id=CAM)
        assert _spans(session, at(0), at(200)) == [(at(0), at(120), 2)]  # streamed
        _add(session, 500, 560)  # any write relinks the camera
        assert not has_unlinked(session, camera_id=CAM)
        _assert_consistent(session)
        assert _spans(session, at(0), at(600)) == [(at(0), at(120), 2), (at(500), at(560), 1)]
        assert relink_camera(session, camera_id=CAM) == 2


@pytest.mark.timeout(120)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_writes_give_the_spans_of_merge_spans(database: Database, seed: int) -> None:
    rng = random.Random(seed)
    with database.session() as session:
        # minute files with jitter, gaps, overlaps and long files, inserted in random order
        planned: list[tuple[float, float]] = []
        cursor = 0.0
        for _ in range(60):
            cursor += rng.choice([0.0, 0.0, 0.0, 0.5, 0.99, 1.01, 3.0, 200.0, -20.0])
            length = rng.choice([60.0, 60.0, 30.0, 0.0, 300.0])
            planned.append((cursor, cursor + length))
            cursor += length
        order = list(range(len(planned)))
        rng.shuffle(order)
        ids: list[int] = []
        for number in order:
            start, end = planned[number]
            if rng.random() < 0.3:  # as the recorder does: open, grow, close (maybe shorter)
                path = f"{CAM}/r{number}.mp4"
                open_segment(session, camera_id=CAM, path=path, start_utc=at(start))
                update_segment_progress(session, path=path, end_utc=at(end + 2), bytes_written=1, keyframes=1)
                ids.append(close_segment(session, path=path, close=_close(at(end), at(start))).id)
            else:
                ids.append(_add(session, start, end, f"{CAM}/a{number}.mp4"))
            _assert_consistent(session)
        for row_id in rng.sample(ids, 15):
            mark_segment_deleted(session, segment_id=row_id, at=at(0))
            _assert_consistent(session)
        total = cursor + 400
        windows = [(at(-100), at(total))] + [
            tuple(sorted((at(rng.uniform(-50, total)), at(rng.uniform(-50, total))))) for _ in range(20)
        ]
        for start_w, end_w in windows:
            if end_w > start_w:
                got, want = _spans(session, start_w, end_w), _reference(session, start_w, end_w)
                assert got == want, (start_w, end_w)


def test_windows_that_start_or_end_inside_a_join_gap(database: Database) -> None:
    with database.session() as session:
        _add(session, 0, 60)
        _add(session, 60.5, 120)
        _add(session, 120.9, 180)
        open_segment(session, camera_id=CAM, path=f"{CAM}/zero.mp4", start_utc=at(180.5))
        for lo, hi in [(60.2, 150), (10, 60.3), (60.2, 60.4), (0, 180.5), (120.5, 180.7), (0, 60)]:
            assert _spans(session, at(lo), at(hi)) == _reference(session, at(lo), at(hi)), (lo, hi)
        assert _spans(session, at(60.2), at(150)) == [(at(60.5), at(150), 2)]
        assert _spans(session, at(10), at(60.3)) == [(at(10), at(60), 1)]


def test_retention_deleting_a_middle_segment_splits_the_span(database: Database, tmp_path: Path) -> None:
    with database.session() as session:
        ids = [_add(session, 60 * n, 60 * n + 60) for n in range(5)]
        rows = {r.id: r for r in session.scalars(select(Segment).where(Segment.id.in_(ids)))}
        middle = rows[ids[2]]
        info = SegmentInfo(middle.id, CAM, middle.start_utc, middle.end_utc, middle.bytes, middle.path)
    plan = Plan((Deletion(info, "space"),), info.bytes, info.bytes, 0, 0, None)
    result = apply_plan(database, plan, root=tmp_path, now=at(9999))
    assert [s.segment_id for s in result.deleted] == [ids[2]]  # the file was already gone: row marked
    with database.session() as session:
        _assert_consistent(session)
        assert _spans(session, at(0), at(300)) == [(at(0), at(120), 2), (at(180), at(300), 2)]


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_a_fragmented_range_streams_past_the_seek_limit(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("storage.timeline.MAX_SEEKED_SPANS", 3)
    with database.session() as session:
        for n in range(8):
            _add(session, 100 * n, 100 * n + 60)
        _add(session, 100 * 4 + 60.5, 100 * 4 + 70)  # joins the span before it (tolerance)
        open_segment(session, camera_id=CAM, path=f"{CAM}/zero.mp4", start_utc=at(600))
        for lo, hi in [(-5, 900), (30, 770), (459.9, 700), (0, 600.2), (0, 6000)]:
            assert _spans(session, at(lo), at(hi)) == _reference(session, at(lo), at(hi)), (lo, hi)
        assert len(_spans(session, at(-5), at(900))) == 8
