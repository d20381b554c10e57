"""Benchmark: the recordings timeline (``storage.timeline.recorded_spans``) for a camera-month.

Usage (from the repository root)::

    .venv/bin/python bench/timeline_bench.py [--db /tmp/timeline-bench.db] [--cameras 64] [--days 30]

Builds once (cached at ``--db``; rebuilt when the layout options differ) a migrated SQLite index with
``--cameras`` cameras x ``--days`` days of one-minute closed segments, each camera with an outage of 5 s to
10 min after about one segment in ``--gap-every`` (so tens of spans a month). Rows are bulk inserted with
their ``span_id`` derived by :func:`storage.span_link.chains`, the same rule the segment writes keep (the
build checks a sample against :func:`storage.span_link.relink_camera` in a rolled back transaction).

Then times ``recorded_spans`` (one session per call, one warm-up call first) over the whole range of
``--runs`` different cameras, and over a 6-hour window of each, and the same for the streamed merge the
timeline used before span ids (``_streamed_spans``), checking both give the same spans. Prints a markdown
table with median / min / max and the machine load.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select

from storage.database import Database
from storage.migration import upgrade_to_head
from storage.model import Camera, Segment, SegmentStatus
from storage.segment import SegmentClose, close_segment, open_segment, update_segment_progress
from storage.span_link import JOIN_TOLERANCE, chains, relink_camera
from storage.timeline import Span, _streamed_spans, recorded_spans

T0 = datetime(2026, 1, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def _camera_rows(number: int, days: int, gap_every: int) -> list[dict[str, object]]:
    rng = random.Random(number)
    rows: list[dict[str, object]] = []
    start = T0
    stop = T0 + timedelta(days=days)
    while start + MINUTE <= stop:
        end = start + MINUTE
        rows.append(
            {
                "camera_id": f"cam-{number:02d}",
                "stream": "main",
                "start_utc": start,
                "end_utc": end,
                "duration_s": 60.0,
                "bytes": 30_000_000,
                "path": f"cam-{number:02d}/{start:%Y/%m/%d/%H%M%S}.mp4",
                "sha256": "0" * 64,
                "status": SegmentStatus.CLOSED.value,
                "codec": "h264",
                "keyframes": 30,
                "created_at": end,
            }
        )
        start = end
        if rng.random() < 1 / gap_every:
            start += timedelta(seconds=rng.uniform(5, 600))
    ids = [(i, r["start_utc"], r["end_utc"]) for i, r in enumerate(rows)]
    for span, group in enumerate(chains(ids, JOIN_TOLERANCE), 1):  # type: ignore[arg-type]
        for i in group:
            rows[i]["span_id"] = span
    return rows


def build(path: Path, cameras: int, days: int, gap_every: int) -> Database:
    layout = {"cameras": cameras, "days": days, "gap_every": gap_every, "version": 1}
    marker = path.with_suffix(".json")
    if path.exists() and marker.exists() and json.loads(marker.read_text()) == layout:
        return Database(f"sqlite:///{path}")
    path.unlink(missing_ok=True)
    marker.unlink(missing_ok=True)
    database = Database(f"sqlite:///{path}")
    upgrade_to_head(database.engine)
    began = time.perf_counter()
    for number in range(cameras):
        with database.session() as session:
            session.add(Camera(id=f"cam-{number:02d}", name=f"Camera {number}"))
            session.flush()
            session.execute(insert(Segment), _camera_rows(number, days, gap_every))
        print(f"built cam-{number:02d} ({time.perf_counter() - began:.0f} s)", file=sys.stderr)
    with database.session() as session:  # the bulk rule agrees with the storage functions' own
        before = session.execute(
            select(Segment.id, Segment.span_id).where(Segment.camera_id == "cam-00")
        ).all()
        relink_camera(session, camera_id="cam-00")
        after = session.execute(
            select(Segment.id, Segment.span_id).where(Segment.camera_id == "cam-00")
        ).all()
        if sorted(before) != sorted(after):
            raise SystemExit("bulk span ids differ from relink_camera")
        session.rollback()
    marker.write_text(json.dumps(layout))
    return database


def _time(
    database: Database, cameras: list[str], query: Callable[..., list[Span]], start: datetime, end: datetime
) -> tuple[list[float], list[list[Span]]]:
    timings: list[float] = []
    results: list[list[Span]] = []
    with database.session() as session:  # warm-up
        query(session, camera_id=cameras[0], start_utc=start, end_utc=end)
    for camera_id in cameras:
        with database.session() as session:
            began = time.perf_counter()
            spans = query(session, camera_id=camera_id, start_utc=start, end_utc=end)
            timings.append((time.perf_counter() - began) * 1000)
            results.append(spans)
    return timings, results


def _time_append(database: Database, cameras: list[str], at: datetime) -> list[float]:
    """The segment writes of one recorded minute at the end of a camera's history (rolled back)."""
    timings: list[float] = []
    for camera_id in cameras:
        with database.session() as session:
            path = f"{camera_id}/bench-append.mp4"
            began = time.perf_counter()
            open_segment(session, camera_id=camera_id, path=path, start_utc=at)
            update_segment_progress(session, path=path, end_utc=at + MINUTE / 2, bytes_written=1, keyframes=1)
            close = SegmentClose(end_utc=at + MINUTE, duration_s=60.0, bytes=2, sha256="0" * 64, keyframes=2)
            close_segment(session, path=path, close=close)
            session.flush()
            timings.append((time.perf_counter() - began) * 1000)
            session.rollback()
    return timings


def _streamed(session: object, **kwargs: object) -> list[Span]:
    return _streamed_spans(session, tolerance=JOIN_TOLERANCE, **kwargs)  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--db", type=Path, default=Path("/tmp/timeline-bench.db"))
    parser.add_argument("--cameras", type=int, default=64)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--gap-every", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    database = build(args.db, args.cameras, args.days, args.gap_every)
    cameras = [
        f"cam-{n:02d}" for n in random.Random(7).sample(range(args.cameras), min(args.runs, args.cameras))
    ]
    while len(cameras) < args.runs:
        cameras.append(cameras[len(cameras) % args.cameras])
    month = (T0, T0 + timedelta(days=args.days))
    six_hours = (T0 + timedelta(days=args.days // 2, hours=3), T0 + timedelta(days=args.days // 2, hours=9))
    table: list[str] = []
    for label, (start, end) in [(f"{args.days} days", month), ("6 hours", six_hours)]:
        linked, linked_spans = _time(database, cameras, recorded_spans, start, end)
        streamed, streamed_spans = _time(database, cameras, _streamed, start, end)
        if linked_spans != streamed_spans:
            raise SystemExit(f"{label}: span ids and the streamed merge disagree")
        count = statistics.mean(len(s) for s in linked_spans)
        segments = statistics.mean(sum(x.segments for x in s) for s in linked_spans)
        for name, timings in [("recorded_spans (span ids)", linked), ("streamed merge (before)", streamed)]:
            table.append(
                f"| {label} | {name} | {statistics.median(timings):.1f} | {min(timings):.1f} "
                f"| {max(timings):.1f} | {count:.0f} | {segments:.0f} |"
            )
    appends = _time_append(database, cameras, month[1])
    table.append(
        f"| append | open + progress + close (3 writes) | {statistics.median(appends):.1f} "
        f"| {min(appends):.1f} | {max(appends):.1f} | | |"
    )
    print(f"`{' '.join([Path(sys.executable).name, *sys.argv])}`  ")
    print(
        f"{args.cameras} cameras x {args.days} days of one-minute segments in SQLite "
        f"({args.db.stat().st_size / 1e6:.0f} MB), {len(cameras)} runs on different cameras, "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}, {os.cpu_count()} CPUs\n"
    )
    print("| window | query | median ms | min ms | max ms | spans | segments |")
    print("|---|---|---:|---:|---:|---:|---:|")
    print("\n".join(table))


if __name__ == "__main__":
    main()
