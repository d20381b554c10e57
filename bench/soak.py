"""Benchmark: the whole station recording N cameras for a long run, retention deleting under a disk budget.

Usage (from the repository root; root, for the loop-mounted file system; needs the clip that
``record_bench.py`` encodes, which it encodes itself when missing)::

    .venv/bin/python bench/soak.py --cameras 32 --minutes 30 --disk-gib 6 --json /tmp/soak.json

The other recording benchmarks run the recorder for a minute or two in a bench process. A police point runs
the station for months, so this one runs what the point runs, for as long as asked:

1. One real GStreamer RTSP server on 127.0.0.1 with N mounts of the 1080p25 ~4 Mbit/s clip.
2. A real ext4 file system of ``--disk-gib`` in a loop-mounted image file as the recordings directory, with
   a free-space floor of ``--floor-gib``: once the footage fills the rest, retention deletes the oldest
   segments every minute, as it does on a full disk in a point. ``--disk-gib 0``: a directory on the
   machine's own disk, with ``--budget-gib`` a floor of the free space at the start minus that budget
   (retention under pressure without a loop device, whose kernel threads share the CPUs).
3. ``station run`` (the real command: web console, ingest, recorders, thumbnail keepers, retention, index
   in SQLite) with the station's defaults (60 s segments, fsync, ``media_cpus: auto``) unless told.
4. Every ``--sample-s``: the process's CPU, RSS, threads and open files from ``/proc``, and ``/api/health``
   (cameras recording, reconnects, newest footage age, write backlog, free space, bytes deleted, alarms).
5. After a clean stop, the index is read back: segments by status; per camera the holes between
   consecutive segment rows (deleted ones included: retention must not leave holes in the index's history
   either); whether each camera's span ids (kept by every index write, read by the timeline) still group
   its live rows exactly as spans derived from scratch do; gap rows by reason; and the SHA-256 of a random
   sample of the segments still on disk, hashed again from the file and compared with the index.

It prints one line per sample and a summary: CPU per stream per minute in the first and the last quarter of
the run, and the station's CPU over the RTSP server's in both (the server's work is constant, so this ratio
shows a station cost that grows with the run even when the shared machine's speed drifts; two fixed pieces
of work, one in user space and one in system calls, are timed at every sample to show that drift), RSS
growth per hour (least squares over the second half), file descriptors and threads at the start and the end,
the lowest free space seen against the floor.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "bench"))

from record_bench import ensure_clip, process_cpu_s, status_kib, system_ticks  # noqa: E402

from tests.support.rtsp_server import RtspServer, missing_reason  # noqa: E402
from tests.support.station_process import free_port, health_token, stop_station  # noqa: E402

STATION = REPO_ROOT / ".venv" / "bin" / "station"
HOLE_S = 1.0  # consecutive segment rows further apart than this leave a hole
HASH_SAMPLE = 24


# ---------------------------------------------------------------------------------------------- set-up


@contextmanager
def recordings_disk(work: Path, size_gib: float) -> Iterator[Path]:
    """A fresh ext4 of ``size_gib`` mounted from an image file under ``work`` (a plain directory for 0)."""
    mount = work / "recordings"
    mount.mkdir()
    if size_gib <= 0:
        yield mount
        return
    image = work / "recordings.img"
    with image.open("wb") as handle:
        handle.truncate(int(size_gib * 2**30))
    subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True)
    subprocess.run(["mount", "-o", "loop", str(image), str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)
        image.unlink(missing_ok=True)


def station_config(
    work: Path, recordings: Path, urls: dict[str, str], floor_bytes: int, segment_seconds: int
) -> Path:
    lines = [
        "station: {name: soak}",
        "storage:",
        f"  data_dir: {work / 'data'}",
        f"  recordings_dir: {recordings}",
        f"  min_free_bytes: {floor_bytes}",
        "  min_free_percent: 0",
        f"recording: {{segment_seconds: {segment_seconds}}}",
        "cameras:",
        *(f"  - {{id: {cam}, name: {cam}, url: '{url}'}}" for cam, url in urls.items()),
    ]
    path = work / "station.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def start_station(config: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STATION_")}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(STATION), "run", "--config", str(config), "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=REPO_ROOT,
        )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"station exited with {process.returncode}; see {log}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    process.kill()
    raise RuntimeError(f"station did not answer within 90 s; see {log}")


# ---------------------------------------------------------------------------------------------- sampling


def open_files(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def reference_ms() -> float:
    """CPU time of a fixed piece of work in this (otherwise idle) process: if it grows, the machine got
    slower (a shared host), and the station's CPU figures grow with it without the station doing more."""
    began = time.process_time()
    digest = hashlib.sha256()
    for _ in range(64):
        digest.update(b"\0" * 262_144)
    sum(range(1_000_000))
    return (time.process_time() - began) * 1000


def syscall_reference_ms() -> float:
    """CPU time of 16 MiB through a pipe in 64 KiB writes and reads (system calls and kernel copies, what
    the RTSP server and the station's camera threads mostly do): the same check for the kernel side."""
    read_end, write_end = os.pipe()
    chunk = b"\0" * 65_536
    began = time.process_time()
    try:
        for _ in range(256):
            os.write(write_end, chunk)
            os.read(read_end, 65_536)
    finally:
        os.close(read_end)
        os.close(write_end)
    return (time.process_time() - began) * 1000


def sample(
    pid: int, server_pid: int, port: int, began: float, recordings: Path, headers: dict[str, str]
) -> dict[str, Any]:
    health = httpx.get(f"http://127.0.0.1:{port}/api/health", headers=headers, timeout=10).json()
    cameras = health["cameras"]
    recorders = [c["recorder"] for c in cameras if c.get("recorder")]
    disk = health.get("disk") or {}
    usage = shutil.disk_usage(recordings)
    ages = [r["newest_footage_age_s"] for r in recorders if r["newest_footage_age_s"] is not None]
    return {
        "t_s": round(time.monotonic() - began, 1),
        "cpu_s": process_cpu_s(pid),
        "server_cpu_s": process_cpu_s(server_pid),
        "machine_ticks": system_ticks(),
        "reference_ms": reference_ms(),
        "syscall_reference_ms": syscall_reference_ms(),
        "rss_mib": (status_kib(pid, "VmRSS") or 0) / 1024,
        "threads": status_kib(pid, "Threads"),
        "fds": open_files(pid),
        "recording": sum(1 for c in cameras if c["recording"]),
        "reconnects": sum(s["reconnects"] for c in cameras for s in c["streams"]),
        "max_footage_age_s": max(ages) if ages else None,
        "backlog_bytes": sum(r["write_backlog_bytes"] for r in recorders),
        "free_bytes": usage.free,
        "deleted_bytes": disk.get("deleted_bytes_total", 0),
        "headroom_bytes": disk.get("headroom_bytes", 0),
        "alarms": [a["code"] for a in disk.get("alarms", [])] + [r["alarm"] for r in recorders if r["alarm"]],
    }


def sample_line(found: dict[str, Any], cameras: int) -> str:
    alarms = Counter(found["alarms"])
    return "  ".join(
        [
            f"{found['t_s'] / 60:6.1f} min",
            f"cpu {found['cpu_s']:8.1f} s",
            f"server cpu {found['server_cpu_s'] or 0:8.1f} s",
            f"reference {found['reference_ms']:5.1f} / {found['syscall_reference_ms']:5.1f} ms",
            f"rss {found['rss_mib']:6.0f} MiB",
            f"threads {found['threads']}",
            f"fds {found['fds']}",
            f"recording {found['recording']}/{cameras}",
            f"reconnects {found['reconnects']}",
            f"newest footage age {found['max_footage_age_s'] or 0:.1f} s",
            f"backlog {found['backlog_bytes'] / 2**20:.1f} MiB",
            f"free {found['free_bytes'] / 2**30:.2f} GiB",
            f"headroom {found['headroom_bytes'] / 2**30:.2f} GiB",
            f"deleted {found['deleted_bytes'] / 2**30:.2f} GiB",
            "alarms " + (", ".join(f"{code} x{n}" for code, n in sorted(alarms.items())) or "-"),
        ]
    )


# ---------------------------------------------------------------------------------------------- the index


def read_index(data_dir: Path, recordings: Path, hash_sample: int) -> dict[str, Any]:
    """Segments by status, holes between consecutive rows, gap rows, and a SHA-256 re-check sample."""
    from sqlalchemy import select

    from storage.database import Database
    from storage.layout import resolve_relative
    from storage.model import Gap, Segment
    from storage.segment import LIVE_STATUSES
    from storage.span_link import JOIN_TOLERANCE, chains

    db = Database(f"sqlite:///{data_dir / 'station.db'}")
    with db.session() as session:
        rows = session.execute(
            select(
                Segment.camera_id,
                Segment.start_utc,
                Segment.end_utc,
                Segment.status,
                Segment.path,
                Segment.sha256,
                Segment.id,
                Segment.span_id,
            ).order_by(Segment.camera_id, Segment.start_utc, Segment.id)
        ).all()
        gaps = session.execute(select(Gap.reason, Gap.start_utc, Gap.end_utc, Gap.detail)).all()
    db.engine.dispose()
    statuses = Counter(r.status for r in rows)
    holes: list[dict[str, Any]] = []
    previous: dict[str, Any] = {}
    for row in rows:
        before = previous.get(row.camera_id)
        if before is not None:
            silence = (row.start_utc - before.end_utc).total_seconds()
            if silence > HOLE_S:
                holes.append({"camera": row.camera_id, "at": before.end_utc.isoformat(), "seconds": silence})
        if before is None or row.end_utc > before.end_utc:
            previous[row.camera_id] = row
    # the span ids the recorder's index writes kept, against spans derived from scratch
    live: dict[str, list[Any]] = {}
    for row in rows:
        if row.status in LIVE_STATUSES:
            live.setdefault(row.camera_id, []).append(row)
    wrong_spans = []
    span_count = 0
    for camera, camera_rows in live.items():
        expected = chains([(r.id, r.start_utc, r.end_utc) for r in camera_rows], JOIN_TOLERANCE)
        kept: dict[Any, set[int]] = {}
        for r in camera_rows:
            kept.setdefault(r.span_id, set()).add(r.id)
        span_count += len(expected)
        if None in kept or sorted(map(sorted, kept.values())) != sorted(map(sorted, expected)):
            wrong_spans.append(camera)
    closed_gaps = [g for g in gaps if g.end_utc is not None]
    by_reason: Counter[str] = Counter()
    for gap in closed_gaps:
        by_reason[gap.reason] += 1
    on_disk = [r for r in rows if r.status == "closed" and r.sha256]
    checked = random.Random(7).sample(on_disk, min(hash_sample, len(on_disk)))
    mismatched = []
    for row in checked:
        digest = hashlib.sha256(resolve_relative(recordings, row.path).read_bytes()).hexdigest()
        if digest != row.sha256:
            mismatched.append(row.path)
    return {
        "segments": dict(statuses),
        "holes": holes,
        "spans": span_count,
        "cameras_with_wrong_span_ids": wrong_spans,
        "gaps_closed_by_reason": dict(by_reason),
        "gap_seconds_closed": sum((g.end_utc - g.start_utc).total_seconds() for g in closed_gaps),
        "gaps_open": [{"reason": g.reason, "detail": g.detail} for g in gaps if g.end_utc is None],
        "hash_checked": len(checked),
        "hash_mismatched": mismatched,
    }


# ---------------------------------------------------------------------------------------------- summary


def slope_per_hour(points: Sequence[tuple[float, float]]) -> float | None:
    """Least-squares slope of ``(t_s, value)`` in value per hour; None under 3 points."""
    if len(points) < 3:
        return None
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if var == 0:
        return None
    return sum((t - mean_t) * (v - mean_v) for t, v in points) / var * 3600


def cpu_per_stream_minute(
    samples: Sequence[dict[str, Any]], cameras: int, key: str = "cpu_s"
) -> float | None:
    """CPU seconds per stream per minute of the station (``key`` ``server_cpu_s``: the RTSP server)."""
    first, last = samples[0], samples[-1]
    if first[key] is None or last[key] is None or last["t_s"] <= first["t_s"]:
        return None
    return float((last[key] - first[key]) / cameras / ((last["t_s"] - first["t_s"]) / 60))


def cpu_ratio(samples: Sequence[dict[str, Any]]) -> float | None:
    """The station's CPU over the RTSP server's between the first and the last of ``samples``."""
    first, last = samples[0], samples[-1]
    values = (first["cpu_s"], last["cpu_s"], first["server_cpu_s"], last["server_cpu_s"])
    if any(v is None for v in values) or last["server_cpu_s"] <= first["server_cpu_s"]:
        return None
    return float((last["cpu_s"] - first["cpu_s"]) / (last["server_cpu_s"] - first["server_cpu_s"]))


def machine_busy_percent(samples: Sequence[dict[str, Any]]) -> float | None:
    """Busy share of all CPUs (100 = every CPU busy) between the first and the last sample."""
    (busy0, total0), (busy1, total1) = samples[0]["machine_ticks"], samples[-1]["machine_ticks"]
    return None if total1 <= total0 else 100.0 * (busy1 - busy0) / (total1 - total0)


def summarize(samples: list[dict[str, Any]], cameras: int, floor_bytes: int) -> dict[str, Any]:
    quarter = max(2, len(samples) // 4)
    second_half = samples[len(samples) // 2 :]
    return {
        # the station's CPU over the RTSP server's in the same stretch: the server does the same work all
        # run long, so a station cost that grows with the run shows here even while the machine's speed
        # drifts (this shared machine's system calls got up to twice as dear for tens of minutes)
        "cpu_vs_server_first_quarter": cpu_ratio(samples[:quarter]),
        "cpu_vs_server_last_quarter": cpu_ratio(samples[-quarter:]),
        "server_cpu_s_per_stream_min_first_quarter": cpu_per_stream_minute(
            samples[:quarter], cameras, "server_cpu_s"
        ),
        "server_cpu_s_per_stream_min_last_quarter": cpu_per_stream_minute(
            samples[-quarter:], cameras, "server_cpu_s"
        ),
        "reference_ms_first_quarter": sum(s["reference_ms"] for s in samples[:quarter]) / quarter,
        "reference_ms_last_quarter": sum(s["reference_ms"] for s in samples[-quarter:]) / quarter,
        "syscall_reference_ms_first_quarter": sum(s["syscall_reference_ms"] for s in samples[:quarter])
        / quarter,
        "syscall_reference_ms_last_quarter": sum(s["syscall_reference_ms"] for s in samples[-quarter:])
        / quarter,
        "machine_busy_percent_first_quarter": machine_busy_percent(samples[:quarter]),
        "machine_busy_percent_last_quarter": machine_busy_percent(samples[-quarter:]),
        "cpu_s_per_stream_min_first_quarter": cpu_per_stream_minute(samples[:quarter], cameras),
        "cpu_s_per_stream_min_last_quarter": cpu_per_stream_minute(samples[-quarter:], cameras),
        "cpu_s_per_stream_min_whole": cpu_per_stream_minute(samples, cameras),
        "rss_mib_start": samples[0]["rss_mib"],
        "rss_mib_end": samples[-1]["rss_mib"],
        "rss_mib_max": max(s["rss_mib"] for s in samples),
        "rss_growth_mib_per_hour_second_half": slope_per_hour(
            [(s["t_s"], s["rss_mib"]) for s in second_half]
        ),
        "fds_start_end": (samples[0]["fds"], samples[-1]["fds"]),
        "threads_start_end": (samples[0]["threads"], samples[-1]["threads"]),
        "min_free_bytes_seen": min(s["free_bytes"] for s in samples),
        "floor_bytes": floor_bytes,
        "most_below_floor_bytes": max(0, floor_bytes - min(s["free_bytes"] for s in samples)),
        "headroom_bytes_last": samples[-1]["headroom_bytes"],
        "deleted_bytes": samples[-1]["deleted_bytes"],
        "min_cameras_recording": min(s["recording"] for s in samples),
        "reconnects": samples[-1]["reconnects"],
        "max_footage_age_s": max((s["max_footage_age_s"] or 0) for s in samples),
        "max_backlog_bytes": max(s["backlog_bytes"] for s in samples),
        "alarms_seen": sorted({a for s in samples for a in s["alarms"]}),
    }


# ---------------------------------------------------------------------------------------------- main


def run(args: argparse.Namespace) -> dict[str, Any]:
    clip = ensure_clip(args.data)
    cams = [f"cam{i:02d}" for i in range(args.cameras)]
    work = Path(tempfile.mkdtemp(prefix="soak-", dir=args.data))
    server = RtspServer(dict.fromkeys(cams, clip), log_dir=work)
    server.start()
    server_pid = server.pid
    try:
        with recordings_disk(work, args.disk_gib) as recordings:
            floor = int(args.floor_gib * 2**30)
            if args.budget_gib > 0:  # a floor that leaves the footage this much of the disk as it is now
                floor = max(0, shutil.disk_usage(recordings).free - int(args.budget_gib * 2**30))
            config = station_config(
                work, recordings, {c: server.url(c) for c in cams}, floor, args.segment_seconds
            )
            port = free_port()
            process = start_station(config, port, work / "station.log")
            headers = health_token(config)  # camera details in /api/health need a token
            began = time.monotonic()
            samples: list[dict[str, Any]] = []
            try:
                deadline = began + args.minutes * 60
                warm = began + args.warmup_s
                while time.monotonic() < deadline:
                    time.sleep(min(args.sample_s, max(0.0, deadline - time.monotonic())))
                    if process.poll() is not None:
                        raise RuntimeError(f"station exited with {process.returncode} during the run")
                    if time.monotonic() < warm:
                        continue
                    found = sample(process.pid, server_pid, port, began, recordings, headers)
                    samples.append(found)
                    print(sample_line(found, args.cameras), flush=True)
            finally:
                stop_station(process, 120)
            index = read_index(work / "data", recordings, HASH_SAMPLE)
        return {
            "cameras": args.cameras,
            "minutes": args.minutes,
            "segment_seconds": args.segment_seconds,
            "disk_gib": args.disk_gib,
            "exit_code": process.returncode,
            "summary": summarize(samples, args.cameras, floor) if samples else {},
            "index": index,
            "samples": samples,
        }
    finally:
        server.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cameras", type=int, default=32)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--disk-gib", type=float, default=6.0, help="0: a plain directory, no loop mount")
    parser.add_argument("--floor-gib", type=float, default=2.0, help="recordings free-space floor")
    parser.add_argument(
        "--budget-gib",
        type=float,
        default=0.0,
        help="instead of --floor-gib: a floor that leaves the footage this much of the free space there is "
        "at the start (with --disk-gib 0: retention under pressure on the machine's own disk, no loop mount)",
    )
    parser.add_argument("--segment-seconds", type=int, default=60, help="the station's default is 60")
    parser.add_argument("--sample-s", type=float, default=30.0)
    parser.add_argument("--warmup-s", type=float, default=60.0, help="no samples before this")
    parser.add_argument("--data", type=Path, default=Path("/tmp/record-bench"), help="clip cache and runs")
    parser.add_argument("--json", type=Path, default=Path("/tmp/soak.json"))
    parser.add_argument("--keep", action="store_true", help="keep the run directory (not the loop disk)")
    args = parser.parse_args(argv)
    reason = missing_reason()
    if reason:
        print(f"cannot start the RTSP server: {reason}", file=sys.stderr)
        return 2
    if args.disk_gib > 0 and os.geteuid() != 0:
        print("--disk-gib needs root (mount -o loop); --disk-gib 0 records into a directory", file=sys.stderr)
        return 2
    args.data.mkdir(parents=True, exist_ok=True)
    result = run(args)
    args.json.write_text(json.dumps(result, indent=2, default=str))
    print(json.dumps({k: result[k] for k in ("exit_code", "summary", "index")}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
