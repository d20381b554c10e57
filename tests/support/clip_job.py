"""Run one clip cut in a fresh process: ``python -m tests.support.clip_job JOB.json`` prints JSON timings.

Kept lean on purpose (imports only what the station itself needs to cut a clip), so that peak RSS and
start-up time measured for it are the export's, not the test tooling's. Jobs are written by
:func:`tests.support.segments.clip_job`.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from datetime import datetime
from pathlib import Path

from storage.export import SegmentRef
from streams.clip import ClipLabel, cut_clip


def run_clip_job(job: dict[str, object]) -> dict[str, float]:
    """Cut the clip described by ``job``; returns wall/CPU seconds, peak RSS (KiB), output size, packets."""
    rows = job["segments"]
    if not isinstance(rows, list):
        raise TypeError("job['segments'] must be a list")
    camera_id = str(job["camera_id"])
    refs = [
        SegmentRef(
            id=i,
            camera_id=camera_id,
            path=Path(row[0]),
            relative_path=row[1],
            start_utc=datetime.fromisoformat(row[2]),
            end_utc=datetime.fromisoformat(row[3]),
            sha256=row[4],
            bytes=row[5],
        )
        for i, row in enumerate(rows)
    ]
    label = ClipLabel("Bench station", "Asia/Almaty", camera_id, "Bench camera")
    wall, cpu = time.perf_counter(), time.process_time()
    result = cut_clip(
        Path(str(job["dest"])),
        label,
        datetime.fromisoformat(str(job["start_utc"])),
        datetime.fromisoformat(str(job["end_utc"])),
        refs,
    )
    return {
        "wall_s": time.perf_counter() - wall,
        "cpu_s": time.process_time() - cpu,
        "max_rss_kib": float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss),
        "bytes": float(sum(f.path.stat().st_size for f in result.files)),
        "packets": float(sum(f.packets for f in result.files)),
    }


if __name__ == "__main__":
    print(json.dumps(run_clip_job(json.loads(Path(sys.argv[1]).read_text()))))
