"""Benchmark: our clip export (stream copy + SHA-256 check of every source) vs ``ffmpeg -f concat -c copy``.

Usage (from the repository root)::

    .venv/bin/python bench/export_bench.py [--data /tmp/export-bench] [--ranges 10m,1h,6h]

Data (kept in --data, reused by the next run): one minute of 1080p25 H.264 encoded once with libx264
ultrafast at 4 Mbit/s (GOP 2 s, no B-frames, fragmented MP4), stream-copied into 360 one-minute segments
(6 hours), which is what the recorder's segments look like, plus a SQLite index of those segments
(``station-index.db``, built once). The page cache is warmed by reading all segments once, then for each
range three tools run over the same segments, alternating who goes first, the input re-read before every run:

``ffmpeg``
    ``ffmpeg -f concat -c copy`` in its own process (GNU time: wall, CPU, peak RSS).
``subprocess``
    ``cut_clip`` alone in a fresh Python process (``python -m tests.support.clip_job``, GNU time): includes
    interpreter start-up and imports, which an export inside the station never pays.
``station``
    The console's whole export path (:func:`streams.export_job.export_evidence`: index lookup, cut with
    SHA-256 check, manifest, Ed25519 signature, ZIP, ``exports`` row and audit entry; the package file's own
    SHA-256 runs after the answer, as in the console, and is timed in a column of its own) in ONE
    long-lived worker process (this file with ``--station-worker``) started once per bench run, which has
    imported everything and done one warm-up export before the first timed job, as a running station has.
    It is fed one job per line on stdin and answers wall/CPU time per job, the cut's share, and its peak RSS:
    the high-water mark is reset before each job (``/proc/self/clear_refs``), so the peak is this job's,
    and it includes the RSS the process already held (reported next to it).

Outputs are deleted after each run.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any
from unittest import mock

from sqlalchemy import select

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import streams.export_job as export_job  # noqa: E402
from config.schema import StationInfo  # noqa: E402
from storage.database import Database  # noqa: E402
from storage.evidence.manifest import FileEntry  # noqa: E402
from storage.evidence.writer import PackageWriter  # noqa: E402
from storage.migration import upgrade_to_head  # noqa: E402
from storage.model import User  # noqa: E402
from storage.signing import ensure_station_key  # noqa: E402
from streams.clip import ClipResult, cut_clip  # noqa: E402
from tests.support.segments import (  # noqa: E402
    SegmentFile,
    clip_job,
    encode_segment,
    insert_segment_rows,
    replicate_segments,
)

START = datetime(2025, 3, 1, 0, 0, tzinfo=UTC)
SEGMENT_S = 60
CAMERA = "bench-1"
TOOLS = ("ffmpeg", "subprocess", "station")
TOOL_NAMES = {
    "ffmpeg": "ffmpeg concat -c copy",
    "subprocess": "cut_clip in a fresh subprocess (+SHA-256 check)",
    "station": "in the station: package until the answer (cut + SHA-256 check + manifest + signature + ZIP)",
}
WORKER_FLAG = "--station-worker"
STATION = StationInfo(name="Bench station", timezone="Asia/Almaty")
BENCH_USER = "bench"


@dataclass
class Run:
    wall_s: float
    cpu_s: float
    max_rss_mib: float
    out_bytes: int
    inner_wall_s: float | None = None  # the cut itself, without interpreter start-up and imports
    hash_wall_s: float | None = None  # in the station: hashing each clip once cut (CRC, SHA-256, package)
    fingerprint_s: float | None = None  # in the station: the package file's SHA-256, after the answer
    base_rss_mib: float | None = None  # station worker: RSS it held when the job started


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


def ensure_index(data: Path, segments: list[SegmentFile]) -> Path:
    """A migrated SQLite station index of ``segments`` (camera, user, segment rows), built once and reused."""
    path = data / "station-index.db"
    stamp = data / "station-index.json"
    want = {"segments": len(segments), "last_sha256": segments[-1].sha256}
    if path.exists() and stamp.exists() and json.loads(stamp.read_text()) == want:
        return path
    for old in data.glob("station-index.db*"):
        old.unlink()
    database = Database(f"sqlite:///{path}")
    try:
        upgrade_to_head(database.engine)
        with database.session() as session:
            session.add(User(username=BENCH_USER, role="investigator", password_hash="-"))
            insert_segment_rows(session, CAMERA, segments, camera_name="Bench camera")
    finally:
        database.dispose()
    stamp.write_text(json.dumps(want))
    return path


class _CutTimer:
    """Wraps ``cut_clip`` where the export job calls it, adding up the seconds spent in it; and the package
    writer's ``close_clip`` (called inside the cut when a clip file ends: the clip's hashes), separately."""

    def __init__(self) -> None:
        self.cut = cut_clip  # the function the export job calls
        self.close_clip = PackageWriter.close_clip
        self.seconds = 0.0
        self.hash_seconds = 0.0

    def timed_close_clip(self, writer: PackageWriter, member: io.RawIOBase) -> FileEntry:
        began = time.perf_counter()
        try:
            return self.close_clip(writer, member)
        finally:
            self.hash_seconds += time.perf_counter() - began

    def __call__(self, *args: Any, **kwargs: Any) -> ClipResult:
        began = time.perf_counter()
        try:
            return self.cut(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - began


def _memory_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(f"/proc/self/status has no {field}")


def _reset_peak_rss() -> None:
    """Reset VmHWM to the current RSS (Linux >= 4.0), so the next reading is this job's peak."""
    Path("/proc/self/clear_refs").write_text("5")


class _StationExporter:
    """What a running station holds for exports: the open index, the station key, the directories."""

    def __init__(self, data: Path) -> None:
        self.data = data
        self.database = Database(f"sqlite:///{data / 'station-index.db'}")
        self.key = ensure_station_key(data / "station-key")
        with self.database.session() as session:
            self.user_id = session.scalars(select(User.id).where(User.username == BENCH_USER)).one()

    def export(self, start: datetime, end: datetime) -> dict[str, float]:
        exports = self.data / "out" / "exports"
        timer = _CutTimer()
        _reset_peak_rss()
        base_kib = _memory_kib("VmRSS")
        wall, cpu = time.perf_counter(), time.process_time()  # process_time: all threads of the process
        with (
            mock.patch.object(export_job, "cut_clip", timer),
            mock.patch.object(PackageWriter, "close_clip", lambda w, m: timer.timed_close_clip(w, m)),
        ):
            outcome = export_job.export_evidence(
                self.database,
                station=STATION,
                key=self.key,
                request=export_job.ExportRequest(
                    camera_ids=(CAMERA,),
                    start_utc=start,
                    end_utc=end,
                    user_id=self.user_id,
                    username=BENCH_USER,
                    reason="export benchmark",
                    source="bench",
                ),
                recordings_dir=self.data / "recordings",
                exports_dir=exports,
                hash_package=False,  # as the console: the package file's SHA-256 follows the answer
            )
        wall_s, cpu_s = time.perf_counter() - wall, time.process_time() - cpu
        began = time.perf_counter()
        export_job.fingerprint_package(self.database, export_id=outcome.export_id, path=outcome.package.path)
        fingerprint_s = time.perf_counter() - began
        return {
            "wall_s": wall_s,
            "cpu_s": cpu_s,
            "fingerprint_s": fingerprint_s,
            "cut_s": timer.seconds - timer.hash_seconds,
            "hash_s": timer.hash_seconds,
            "peak_rss_kib": _memory_kib("VmHWM"),
            "base_rss_kib": base_kib,
            "bytes": outcome.package.size,
        }


def serve_station_worker(data: Path) -> int:
    """The ``--station-worker`` side: one JSON job per stdin line, one JSON answer per stdout line."""
    replies: IO[str] = sys.stdout
    sys.stdout = sys.stderr  # anything else printed must not break the protocol
    exporter = _StationExporter(data)
    began = time.perf_counter()
    exporter.export(START, START + timedelta(minutes=1))  # warm-up: first queries, codec set-up, key load
    shutil.rmtree(data / "out" / "exports", ignore_errors=True)
    ready = {"warm_up_s": time.perf_counter() - began, "rss_kib": _memory_kib("VmRSS")}
    print(json.dumps(ready), file=replies, flush=True)
    for line in sys.stdin:
        job = json.loads(line)
        try:
            answer: dict[str, object] = dict(
                exporter.export(
                    datetime.fromisoformat(job["start_utc"]), datetime.fromisoformat(job["end_utc"])
                )
            )
        except Exception as exc:  # noqa: BLE001 - reported to the bench, which stops with it
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(answer), file=replies, flush=True)
    exporter.database.dispose()
    return 0


class StationWorker:
    """The bench's handle on the long-lived ``--station-worker`` process (started once per bench run)."""

    def __init__(self, data: Path) -> None:
        self.data = data
        began = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), WORKER_FLAG, "--data", str(data)],
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        ready = self._read()
        self.start_s = time.perf_counter() - began
        self.warm_up_s = float(ready["warm_up_s"])
        self.rss_mib = float(ready["rss_kib"]) / 1024

    def _read(self) -> dict[str, Any]:
        assert self.process.stdout is not None  # set by Popen(stdout=PIPE)
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"station worker exited ({self.process.wait()})")
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"station worker: {answer['error']}")
        return answer

    def run(self, span: timedelta) -> Run:
        assert self.process.stdin is not None  # set by Popen(stdin=PIPE)
        job = {"start_utc": START.isoformat(), "end_utc": (START + span).isoformat()}
        try:
            self.process.stdin.write(json.dumps(job) + "\n")
            self.process.stdin.flush()
            answer = self._read()
        finally:
            shutil.rmtree(self.data / "out", ignore_errors=True)
        return Run(
            wall_s=float(answer["wall_s"]),
            cpu_s=float(answer["cpu_s"]),
            max_rss_mib=float(answer["peak_rss_kib"]) / 1024,
            out_bytes=int(answer["bytes"]),
            inner_wall_s=float(answer["cut_s"]),
            hash_wall_s=float(answer["hash_s"]),
            fingerprint_s=float(answer["fingerprint_s"]),
            base_rss_mib=float(answer["base_rss_kib"]) / 1024,
        )

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=30)


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


def _label(span: timedelta) -> str:
    if span >= timedelta(hours=1):
        return f"{span.total_seconds() / 3600:g} h"
    return f"{span.total_seconds() / 60:g} min"


def _cell(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def main() -> int:
    if WORKER_FLAG in sys.argv[1:]:
        worker = argparse.ArgumentParser()
        worker.add_argument(WORKER_FLAG, action="store_true")
        worker.add_argument("--data", type=Path, required=True)
        return serve_station_worker(worker.parse_args().data)
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
    ensure_index(args.data, segments)
    shutil.rmtree(args.data / "out", ignore_errors=True)
    station = StationWorker(args.data)
    print(
        f"station worker: ready {station.start_s:.1f} s after start (imports, index, key, warm-up export "
        f"{station.warm_up_s:.1f} s), RSS {station.rss_mib:.0f} MiB",
        flush=True,
    )
    try:
        _bench(args, spans, segments, station)
    finally:
        station.close()
    return 0


def _bench(
    args: argparse.Namespace, spans: list[timedelta], segments: list[SegmentFile], station: StationWorker
) -> None:
    warm_cache(segments)
    load = wait_for_quiet(args.max_load, args.max_wait_s)
    began = datetime.now(UTC)
    print(f"run started {began:%Y-%m-%d %H:%M} UTC, load average at start {load:.2f} (1 min)", flush=True)
    print(
        "| range | segments | GB | tool | wall s | CPU s | peak RSS MiB | RSS before MiB | output GB "
        "| wall vs ffmpeg | cut alone s | clip hashes s | package SHA-256 after the answer s |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        flush=True,
    )
    for span in spans:
        used = segments[: round(span.total_seconds() / SEGMENT_S)]
        gigabytes = sum(s.bytes for s in used) / 1e9
        runs: dict[str, list[Run]] = {tool: [] for tool in TOOLS}
        for repeat in range(args.repeats):
            # Alternate who goes first, and warm the input before every run: the output of a 6 h export is
            # as large as its input, so whoever runs later would otherwise read a half-evicted cache.
            for tool in TOOLS if repeat % 2 == 0 else TOOLS[::-1]:
                warm_cache(used)
                if tool == "ffmpeg":
                    runs[tool].append(run_ffmpeg(args.data, used))
                elif tool == "subprocess":
                    runs[tool].append(run_ours(args.data, segments, span))
                else:
                    runs[tool].append(station.run(span))
        ffmpeg = _median(runs["ffmpeg"])
        for tool in TOOLS:
            run = _median(runs[tool])
            print(
                f"| {_label(span)} | {len(used)} | {gigabytes:.2f} | {TOOL_NAMES[tool]} | {run.wall_s:.1f} | "
                f"{run.cpu_s:.1f} | {run.max_rss_mib:.0f} | "
                f"{_cell(run.base_rss_mib, 0)} | {run.out_bytes / 1e9:.2f} | "
                f"{run.wall_s / ffmpeg.wall_s:.2f}x | {_cell(run.inner_wall_s)} | {_cell(run.hash_wall_s)} "
                f"| {_cell(run.fingerprint_s)} |",
                flush=True,
            )
    ended = datetime.now(UTC)
    print(f"run ended {ended:%H:%M} UTC, load average at end {os.getloadavg()[0]:.2f} (1 min)", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
