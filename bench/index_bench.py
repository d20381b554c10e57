"""Benchmark: CPU the segment index costs the station per recorded file.

Usage (from the repository root)::

    .venv/bin/python bench/index_bench.py [--files 300] [--history 2000] [--url sqlite:///...]

Every file the recorder writes costs two index transactions, as :mod:`streams.recorder` queues them at a
rolling cut: the previous file's row moved to the cut (``storage.segment.update_segment_progress``) and the
new file's row opened (``open_segment_row``, with its span id); then, once the disk writer has hashed it, the
previous file's row closed (``close_segment_row``: end, size, SHA-256). This runs them for ``--files`` files
of one camera after ``--history`` earlier ones, in that order and in those transactions (one round of the
housekeeper each at most), and prints the process CPU per file. At 10 s segments a
camera writes 6 files a minute, so 1 ms per file is 0.006 s of CPU per stream and minute.

The database is a fresh SQLite file in a temporary folder unless ``--url`` names another (its schema is
brought to the head first; use an empty database).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from storage.database import Database  # noqa: E402
from storage.migration import upgrade_to_head  # noqa: E402
from storage.segment import (  # noqa: E402
    SegmentClose,
    close_segment_row,
    open_segment_row,
    update_segment_progress,
)

SEGMENT = timedelta(seconds=10)
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def write_file(db: Database, camera_id: str, index: int) -> None:
    """The recorder's index writes for one 10 s file at a rolling cut, in the station's order: the previous
    file's row moved to the cut and this file's row opened (one transaction), then the previous file's
    row closed once its hash is known (the next transaction)."""
    start = EPOCH + index * SEGMENT
    path = f"{camera_id}/{index:08d}.mp4"
    previous = f"{camera_id}/{index - 1:08d}.mp4"
    with db.session() as session:
        if index > 0:
            update_segment_progress(
                session, path=previous, end_utc=start, bytes_written=5_000_000, keyframes=5
            )
        open_segment_row(
            session,
            camera_id=camera_id,
            path=path,
            start_utc=start,
            codec="h264",
            width=1920,
            height=1080,
            clock_offset_s=0.1,
        )
    if index > 0:
        close = SegmentClose(end_utc=start, duration_s=10.0, bytes=5_000_000, sha256="0" * 64, keyframes=5)
        with db.session() as session:
            close_segment_row(session, path=previous, close=close)


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=300, help="files measured")
    parser.add_argument("--history", type=int, default=2000, help="files indexed before measuring")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--url", help="database URL (default: a new SQLite file)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        db = Database(args.url or f"sqlite:///{Path(folder) / 'index.sqlite3'}")
        upgrade_to_head(db.engine)
        for index in range(args.history):
            write_file(db, "cam01", index)
        next_index = args.history
        for _ in range(args.repeats):
            began = time.process_time()
            for index in range(next_index, next_index + args.files):
                write_file(db, "cam01", index)
            used = time.process_time() - began
            next_index += args.files
            per_file_ms = used / args.files * 1000
            print(
                f"index CPU per file (a rolling cut's three writes, two transactions): {per_file_ms:.2f} ms"
            )
        db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
