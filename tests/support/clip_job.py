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
    start = datetime.fromisoformat(str(job["start_utc"]))
    end = datetime.fromisoformat(str(job["end_utc"]))
    dest = Path(str(job["dest"]))
    wall, cpu = time.perf_counter(), time.process_time()
    if job.get("package"):
        size, packets = _package(dest, label, start, end, refs)
    else:
        result = cut_clip(dest, label, start, end, refs)
        size = sum(f.path.stat().st_size for f in result.files)
        packets = sum(f.packets for f in result.files)
    return {
        "wall_s": time.perf_counter() - wall,
        "cpu_s": time.process_time() - cpu,
        "max_rss_kib": float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss),
        "bytes": float(size),
        "packets": float(packets),
    }


def _package(
    dest: Path, label: ClipLabel, start: datetime, end: datetime, refs: list[SegmentRef]
) -> tuple[int, int]:
    """The evidence-package path: the cut written straight into a signed ZIP (as the station exports)."""
    from storage.evidence.manifest import PackageClip, PackageInfo
    from storage.evidence.writer import PackageWriter
    from storage.signing import ensure_station_key

    key = ensure_station_key(dest.parent / "key")
    writer = PackageWriter(dest, when=start)
    result = cut_clip(Path(f"{label.camera_id}.mp4"), label, start, end, refs, output=writer)
    clips = [
        PackageClip(
            path=f.path,
            camera_id=label.camera_id,
            camera_name=label.camera_name,
            requested_start_utc=start,
            requested_end_utc=end,
            actual_start_utc=f.start_utc,
            actual_end_utc=f.end_utc,
        )
        for f in result.files
    ]
    info = PackageInfo(
        station_name=label.station_name,
        timezone=label.timezone,
        user_id=1,
        username="memory-test",
        reason="bounded memory",
        exported_at_utc=start,
    )
    package = writer.finish(key=key, info=info, clips=clips)
    return package.size, sum(f.packets for f in result.files)


if __name__ == "__main__":
    print(json.dumps(run_clip_job(json.loads(Path(sys.argv[1]).read_text()))))
