"""Benchmark: our clip export (stream copy + SHA-256 check of every source) vs ``ffmpeg -f concat -c copy``.

Usage (from the repository root)::

    .venv/bin/python bench/export_bench.py [--data /tmp/export-bench] [--ranges 10m,1h,6h]

Data (kept in --data, reused by the next run): one minute of 1080p25 H.264 encoded once with libx264
ultrafast at 4 Mbit/s (GOP 2 s, no B-frames, fragmented MP4), stream-copied into 360 one-minute segments
(6 hours), which is what the recorder's segments look like. The page cache is warmed by reading all
segments once, then for each range both tools run in their own subprocess over the same segments, and
GNU time reports each one's own wall time, CPU time and peak RSS. Outputs are deleted after each run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from tests.support.segments import (  # noqa: E402
    SegmentFile,
    clip_job,
    encode_segment,
    replicate_segments,
)

START = datetime(2025, 3, 1, 0, 0, tzinfo=UTC)
SEGMENT_S = 60
CAMERA = "bench-1"


@dataclass
class Run:
    wall_s: float
    cpu_s: float
    max_rss_mib: float
    out_bytes: int
    inner_wall_s: float | None = None  # the cut itself, without interpreter start-up and imports


def parse_range(text: str) -> timedelta:
    unit = text[-1]
    value = float(text[:-1])
    return timedelta(minutes=value) if unit == "m" else timedelta(hours=value)


def prepare(data: Path, hours: float) -> list[SegmentFile]:
    index = data / "segments.json"
    count = round(hours * 3600 / SEGMENT_S)
    if index.exists():
        rows = json.loads(index.read_text())
        if len(rows) >= count:
            return [
                SegmentFile(
                    camera_id=r["camera_id"],
                    path=Path(r["path"]),
                    relative_path=r["relative_path"],
                    start_utc=datetime.fromisoformat(r["start_utc"]),
                    end_utc=datetime.fromisoformat(r["end_utc"]),
                    first_frame=0,
                    frames=r["frames"],
                    keyframes=r["keyframes"],
                    sha256=r["sha256"],
                    bytes=r["bytes"],
                )
                for r in rows[:count]
            ]
    master = data / "master-1080p-4mbit.mp4"
    if not master.exists():
        began = time.perf_counter()
        encode_segment(
            master,
            first_frame=0,
            frames=SEGMENT_S * 25,
            width=1920,
            height=1080,
            fps=25,
            gop=50,
            bit_rate=4_000_000,
            noisy=True,
        )
        print(f"encoded master minute in {time.perf_counter() - began:.1f} s", file=sys.stderr)
    began = time.perf_counter()
    segments = replicate_segments(master, data / "recordings", CAMERA, START, count=count)
    print(f"made {count} segments in {time.perf_counter() - began:.1f} s", file=sys.stderr)
    index.write_text(
        json.dumps(
            [
                {
                    "camera_id": s.camera_id,
                    "path": str(s.path),
                    "relative_path": s.relative_path,
                    "start_utc": s.start_utc.isoformat(),
                    "end_utc": s.end_utc.isoformat(),
                    "frames": s.frames,
                    "keyframes": s.keyframes,
                    "sha256": s.sha256,
                    "bytes": s.bytes,
                }
                for s in segments
            ]
        )
    )
    return segments


def measure(command: list[str], out: Path) -> Run:
    """Run ``command`` under GNU time: its own wall, CPU and peak RSS.

    Not measured from this process with ``os.wait4``: a forked child inherits the parent's RSS high-water
    mark across ``exec`` on Linux, and this process holds the encoder's buffers. GNU time is a small C
    program, so what its child reports is the command's own peak.
    """
    stats = out.parent / "time.txt"
    done = subprocess.run(
        ["/usr/bin/time", "-o", str(stats), "-f", "%e %U %S %M", *command],
        cwd=REPO_ROOT,
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{command[0]} failed: {done.stderr.decode(errors='replace')}")
    wall, user, system, rss_kib = stats.read_text().split()[-4:]
    size = sum(p.stat().st_size for p in out.parent.glob(out.stem + "*") if p.is_file())
    inner = None
    if done.stdout.strip().startswith(b"{"):
        inner = float(json.loads(done.stdout.decode().splitlines()[-1])["wall_s"])
    return Run(float(wall), float(user) + float(system), int(rss_kib) / 1024, size, inner)


def run_ours(data: Path, segments: list[SegmentFile], span: timedelta) -> Run:
    out = data / "out" / "ours.mp4"
    out.parent.mkdir(exist_ok=True)
    job = data / "job.json"
    job.write_text(json.dumps(clip_job(out, CAMERA, START, START + span, segments)))
    try:
        return measure([sys.executable, "-m", "tests.support.clip_job", str(job)], out)
    finally:
        shutil.rmtree(out.parent, ignore_errors=True)


def run_ffmpeg(data: Path, segments: list[SegmentFile]) -> Run:
    out = data / "out" / "ffmpeg.mp4"
    out.parent.mkdir(exist_ok=True)
    listing = data / "list.txt"
    listing.write_text("".join(f"file '{s.path}'\n" for s in segments))
    command = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(listing)]
    try:
        return measure([*command, "-c", "copy", str(out)], out)
    finally:
        shutil.rmtree(out.parent, ignore_errors=True)


def _median(runs: list[Run]) -> Run:
    """The run with the median wall time (the lower middle one for an even count)."""
    return sorted(runs, key=lambda run: run.wall_s)[(len(runs) - 1) // 2]


def warm_cache(segments: list[SegmentFile]) -> None:
    for segment in segments:
        with segment.path.open("rb") as handle:
            while handle.read(8 << 20):
                pass


def wait_for_quiet(max_load: float, max_wait_s: float) -> float:
    """Wait (up to ``max_wait_s``) until the 1-minute load average is at most ``max_load``; returns it.

    The machine is shared (recording benchmarks run on it at times): a loaded machine slows both tools,
    but not equally, so the load at the start is printed with the results.
    """
    deadline = time.monotonic() + max_wait_s
    load = os.getloadavg()[0]
    while load > max_load and time.monotonic() < deadline:
        print(f"load average {load:.2f} > {max_load:g}: waiting", file=sys.stderr, flush=True)
        time.sleep(min(30.0, max(deadline - time.monotonic(), 0.0)))
        load = os.getloadavg()[0]
    return load


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=Path("/tmp/export-bench"))
    parser.add_argument("--ranges", default="10m,1h,6h")
    parser.add_argument(
        "--repeats", type=int, default=2, help="runs per tool, alternating who goes first (median reported)"
    )
    parser.add_argument(
        "--max-load", type=float, default=1.0, help="wait for the 1-min load average to drop to this first"
    )
    parser.add_argument("--max-wait-s", type=float, default=300.0, help="give up waiting after this long")
    args = parser.parse_args()
    spans = [parse_range(text) for text in args.ranges.split(",")]
    args.data.mkdir(parents=True, exist_ok=True)
    segments = prepare(args.data, max(spans).total_seconds() / 3600)
    warm_cache(segments)
    load = wait_for_quiet(args.max_load, args.max_wait_s)
    began = datetime.now(UTC)
    print(f"run started {began:%Y-%m-%d %H:%M} UTC, load average at start {load:.2f} (1 min)", flush=True)
    header = (
        "| range | segments | GB | tool | wall s | CPU s | peak RSS MiB | output GB | wall vs ffmpeg "
        "| in-process cut s |\n|---|---|---|---|---|---|---|---|---|---|"
    )
    print(header)
    for span in spans:
        used = segments[: round(span.total_seconds() / SEGMENT_S)]
        gigabytes = sum(s.bytes for s in used) / 1e9
        runs: dict[str, list[Run]] = {"ffmpeg": [], "ours": []}
        for repeat in range(args.repeats):
            # Alternate who goes first, and warm the input before every run: the output of a 6 h export is
            # as large as its input, so whoever runs second would otherwise read a half-evicted cache.
            order = ("ffmpeg", "ours") if repeat % 2 == 0 else ("ours", "ffmpeg")
            for tool in order:
                warm_cache(used)
                if tool == "ffmpeg":
                    runs[tool].append(run_ffmpeg(args.data, used))
                else:
                    runs[tool].append(run_ours(args.data, segments, span))
        ffmpeg, ours = _median(runs["ffmpeg"]), _median(runs["ours"])
        label = (
            f"{span.total_seconds() / 3600:g} h"
            if span >= timedelta(hours=1)
            else f"{span.total_seconds() / 60:g} min"
        )
        for name, run in (("ffmpeg concat -c copy", ffmpeg), ("station cut_clip (+SHA-256 check)", ours)):
            ratio = run.wall_s / ffmpeg.wall_s
            print(
                f"| {label} | {len(used)} | {gigabytes:.2f} | {name} | {run.wall_s:.1f} | {run.cpu_s:.1f} | "
                f"{run.max_rss_mib:.0f} | {run.out_bytes / 1e9:.2f} | {ratio:.2f}x | "
                f"{'-' if run.inner_wall_s is None else f'{run.inner_wall_s:.1f}'} |",
                flush=True,
            )
    ended = datetime.now(UTC)
    print(f"run ended {ended:%H:%M} UTC, load average at end {os.getloadavg()[0]:.2f} (1 min)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
