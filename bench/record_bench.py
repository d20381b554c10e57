"""Benchmark: our recorder (ingest + fan-out + SegmentRecorder, one process) vs ffmpeg's segmenter.

Usage (from the repository root)::

    .venv/bin/python bench/record_bench.py --cameras 16 32 64 --seconds 60 --json /tmp/record_bench.json

What it does, for each camera count N:

1. One real GStreamer RTSP server (``tests/support/rtsp_server.py``) on 127.0.0.1 with N mounts of one clip:
   1080p25 H.264, about 4 Mbit/s, GOP 50 (2 s), no B-frames, one slice per frame, 40 s, looped (generated
   once with ``ffmpeg``/libx264 ``veryfast`` and cached under ``--data``).
2. Phase A (ours), in a subprocess: ``IngestManager`` over N ``CameraConfig`` + one ``SegmentRecorder``
   per camera with the disk writer, as ``console.recording`` wires them (production ``RecorderSettings``
   except ``segment_seconds``; fsync on; the media threads on ``--media-cpus``; unwatched streams read in
   batches, ``--read-batch-ms``, as the station does by default), plus the thumbnail's
   ``KeyframeKeeper`` per camera that ``console.live`` starts, into a temporary
   recordings directory with a migrated SQLite index, for ``--seconds``; then a clean stop.
3. Phase B (peer): N ``ffmpeg -c copy -f segment`` processes, the way Frigate records, for the same time;
   then SIGINT (ffmpeg writes each file's trailer).
4. Every output file is probed with PyAV (demux only).

The phases run one after the other against the same server so that they do not steal CPU from each other.
The measurement window starts when the recorder(s) have been started (ours: after ``IngestManager.start()``,
imports and migration excluded; ffmpeg: once all processes are spawned) and ends at the stop request.
CPU is read from ``/proc/<pid>/stat`` at both ends of the window (all threads), and again
``STEADY_AFTER_S`` into it for the steady-state figure (the window without each tool's start); peak memory
is the kernel's
``VmHWM`` (not ``ru_maxrss``: a forked child inherits the parent's high-water mark across ``exec``) and
``Pss`` from ``smaps_rollup`` (shared libraries counted once across the ffmpeg processes).

Footage: every access unit is identified by the tail of its slice data (stream copy keeps it intact), so
each recorded frame is matched to its frame of the looped clip. "footage missing" counts the clip frames
skipped after a camera's first recorded frame, inside files and between consecutive files (a lost file
shows up here). "skipped at start" is the clip frames before the first recorded one (the server starts
every new session at frame 0): connect, stream probing and waiting for a keyframe, kept apart as the
issue asks. "window - recorded" is a wall-clock cross-check: from the moment a camera's first file
appeared on disk (the same 0.1 s directory polling for both tools) to the stop request, minus the
recorded frames / fps; it is negative by what a tool buffered before creating its first file.
A segment is "short" when it holds less than ``segment_seconds - 0.5`` s and is neither the first nor
the last file of its camera; "lost" when it does not open, has no video, is left as ``.partial`` or
cannot be read to its end.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import os
import platform
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any

import av

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from config.schema import RecordingConfig  # noqa: E402
from tests.support.rtsp_server import RtspServer, missing_reason  # noqa: E402

SEGMENT_SECONDS = 10
SHORT_TOLERANCE_S = 0.5
CLK_TCK = os.sysconf("SC_CLK_TCK")
CLIP_SECONDS = 40
CLIP_FPS = 25
CLIP_GOP = 50
CLIP_NAME = f"clip-1080p{CLIP_FPS}-4mbit-gop{CLIP_GOP}-{CLIP_SECONDS}s.mp4"
READY_TIMEOUT_S = 180.0
#: The steady-state CPU leaves out the first seconds of the window: each tool's start (connect, stream
#: probing -- ffmpeg decodes frames to probe, about 0.08 s of CPU per process here) weighs on a 60 s window
#: but not on a recorder that runs for months.
STEADY_AFTER_S = 15.0
STOP_TIMEOUT_S = 60.0


# ---------------------------------------------------------------------------------------------- clip


def clip_command(path: Path) -> list[str]:
    """1080p25 H.264 at ~4 Mbit/s, GOP 50, no B-frames, one slice (see tests/support/media.py)."""
    return [
        "ffmpeg",
        "-hide_banner",
        "-loglevel",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
        f"testsrc2=size=1920x1080:rate={CLIP_FPS},noise=alls=12:allf=t",
        "-t",
        str(CLIP_SECONDS),
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-b:v",
        "4M",
        "-maxrate",
        "4M",
        "-bufsize",
        "4M",
        "-g",
        str(CLIP_GOP),
        "-keyint_min",
        str(CLIP_GOP),
        "-sc_threshold",
        "0",
        "-bf",
        "0",
        "-x264-params",
        "slices=1:sliced-threads=0:scenecut=0",
        "-pix_fmt",
        "yuv420p",
        "-movflags",
        "+faststart",
        str(path),
    ]


def ensure_clip(data: Path) -> Path:
    path = data / CLIP_NAME
    if path.exists():
        return path
    partial = path.with_name(path.stem + ".partial.mp4")
    began = time.monotonic()
    subprocess.run(clip_command(partial), check=True)
    partial.replace(path)
    print(f"encoded {path} in {time.monotonic() - began:.0f} s", file=sys.stderr)
    return path


# ---------------------------------------------------------------------------------------------- /proc


def process_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of every thread of ``pid`` so far, or None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14 and 15)


def status_kib(pid: int, key: str) -> int | None:
    """A ``kB`` value of ``/proc/<pid>/status`` (``VmHWM``, ``VmRSS``) or ``smaps_rollup`` (``Pss``)."""
    source = "smaps_rollup" if key.startswith("Pss") else "status"
    try:
        lines = Path(f"/proc/{pid}/{source}").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return None


def system_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs from ``/proc/stat``."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def load_average() -> tuple[float, float, float]:
    return os.getloadavg()


def machine_facts() -> dict[str, Any]:
    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mem_kib = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal:")
    )
    ffmpeg = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True, check=False)
    gst = subprocess.run(
        [
            "/usr/bin/python3",
            "-c",
            "import gi; gi.require_version('Gst', '1.0'); from gi.repository import Gst; "
            "Gst.init(None); print(Gst.version_string())",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    libavformat = av.library_versions.get("libavformat", ())
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "mem_total_gib": round(mem_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "av": av.__version__,
        "av_libavformat": ".".join(str(v) for v in libavformat),
        "ffmpeg": ffmpeg.stdout.splitlines()[0] if ffmpeg.stdout else "not found",
        "gstreamer": gst.stdout.strip() or gst.stderr.strip()[-200:],
    }


# ---------------------------------------------------------------------------------------------- probing


def frame_key(data: bytes) -> bytes:
    """Identifies an access unit across containers: the tail of its last NAL (the slice) is copied as is."""
    return data.rstrip(b"\0")[-32:]


def clip_frame_index(clip: Path) -> dict[bytes, int]:
    """frame key -> index in the clip (the server loops the clip and starts every new session at frame 0)."""
    index: dict[bytes, int] = {}
    with av.open(str(clip)) as container:
        for packet in container.demux(container.streams.video[0]):
            if packet.size:
                index.setdefault(frame_key(bytes(packet)), len(index))
    return index


@dataclass
class FileProbe:
    name: str
    lost: bool
    error: str | None
    frames: int
    keyframes: int
    first_is_keyframe: bool
    seconds: float  # frames / fps
    span_s: float  # pts span (last - first + one frame)
    holes: int  # pts steps longer than 2.5 frame intervals
    first_clip_frame: int | None = None  # which frame of the looped clip it starts with
    last_clip_frame: int | None = None
    missing_frames: int = 0  # clip frames skipped inside this file
    duplicate_frames: int = 0
    unknown_frames: int = 0  # not found in the clip


def sequence_gaps(previous: int, current: int, length: int) -> tuple[int, int]:
    """(missing, duplicate) between two consecutive recorded clip frames of a clip looped every ``length``."""
    step = (current - previous) % length
    return (0, 1) if step == 0 else (step - 1, 0)


def probe_file(path: Path, fps: float, clip_index: dict[bytes, int]) -> FileProbe:
    name = path.name
    if name.endswith(".partial"):
        return FileProbe(name, True, "left as .partial", 0, 0, False, 0.0, 0.0, 0)
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as exc:
        return FileProbe(name, True, f"does not open: {exc}", 0, 0, False, 0.0, 0.0, 0)
    frames = keyframes = holes = 0
    first_key = False
    error: str | None = None
    pts_values: list[int] = []
    clip_frames: list[int] = []
    unknown = 0
    span_s = 0.0
    with container:
        if not container.streams.video:
            return FileProbe(name, True, "no video stream", 0, 0, False, 0.0, 0.0, 0)
        stream = container.streams.video[0]
        try:
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue
                if frames == 0:
                    first_key = bool(packet.is_keyframe)
                frames += 1
                keyframes += int(packet.is_keyframe)
                if packet.pts is not None:
                    pts_values.append(int(packet.pts))
                found = clip_index.get(frame_key(bytes(packet)))
                if found is None:
                    unknown += 1
                else:
                    clip_frames.append(found)
        except (av.error.FFmpegError, OSError) as exc:
            error = f"read failed after {frames} frames: {exc}"
        if pts_values and stream.time_base:
            pts_values.sort()
            step = 1 / (fps * float(stream.time_base))
            holes = sum(1 for a, b in itertools.pairwise(pts_values) if b - a > 2.5 * step)
            span_s = (pts_values[-1] - pts_values[0]) * float(stream.time_base) + 1 / fps
    missing = duplicate = 0
    for a, b in itertools.pairwise(clip_frames):
        m, d = sequence_gaps(a, b, len(clip_index))
        missing, duplicate = missing + m, duplicate + d
    lost = frames == 0 or error is not None
    return FileProbe(
        name,
        lost,
        error,
        frames,
        keyframes,
        first_key,
        frames / fps,
        span_s,
        holes,
        clip_frames[0] if clip_frames else None,
        clip_frames[-1] if clip_frames else None,
        missing,
        duplicate,
        unknown,
    )


@dataclass
class CameraFootage:
    camera: str
    files: list[FileProbe]
    first_file_at: float | None  # wall clock (time.time) when its first file appeared
    window_s: float  # from then to the stop request
    recorded_s: float  # frames / fps
    missing_s: float  # clip frames skipped after the first recorded one / fps, plus reconnect gaps
    duplicate_frames: int
    restarts: int  # the server restarted the clip: a reconnect (its gap comes from the index, ours only)
    restart_gap_s: float
    start_skipped_s: float  # clip frames before the first recorded one / fps (connect and stream probing)
    lost: int
    short: int


def camera_footage(
    camera: str,
    paths: list[Path],
    first_file_at: float | None,
    stop_at: float,
    fps: float,
    clip_index: dict[bytes, int],
    restart_gap_s: float = 0.0,
) -> CameraFootage:
    """Footage of one camera. A new session starts the clip again at frame 0, so a jump to frame 0 at a file
    boundary is a reconnect, not lost frames: its real length is ``restart_gap_s`` (from ours' gap rows)."""
    files = [probe_file(p, fps, clip_index) for p in sorted(paths, key=lambda p: p.name)]
    window = max(0.0, stop_at - first_file_at) if first_file_at is not None else 0.0
    recorded = sum(f.seconds for f in files)
    missing = sum(f.missing_frames for f in files)
    duplicate = sum(f.duplicate_frames for f in files)
    ends = [(f.first_clip_frame, f.last_clip_frame) for f in files if f.first_clip_frame is not None]
    restarts = 0
    for (_, last), (first, _) in itertools.pairwise(ends):
        assert last is not None and first is not None
        if first == 0 and last != len(clip_index) - 1:
            restarts += 1
            continue
        m, d = sequence_gaps(last, first, len(clip_index))
        missing, duplicate = missing + m, duplicate + d
    start = ends[0][0] if ends and ends[0][0] is not None else 0
    lost = sum(1 for f in files if f.lost)
    middle = files[1:-1]
    short = sum(1 for f in middle if not f.lost and f.seconds < SEGMENT_SECONDS - SHORT_TOLERANCE_S)
    return CameraFootage(
        camera,
        files,
        first_file_at,
        window,
        recorded,
        missing / fps + restart_gap_s,
        duplicate,
        restarts,
        restart_gap_s,
        start / fps,
        lost,
        short,
    )


# ---------------------------------------------------------------------------------------------- phases


@dataclass
class PhaseResult:
    tool: str
    cameras: int
    ok: bool = True
    error: str | None = None
    window_s: float = 0.0
    cpu_window_s: float = 0.0  # all processes of the tool, inside the window
    cpu_total_s: float = 0.0  # whole run including start-up and shutdown (wait4 rusage)
    server_cpu_window_s: float = 0.0
    machine_busy_pct: float = 0.0  # all CPUs, everything running on the machine, inside the window
    peak_rss_mib: float = 0.0  # ours: the process's VmHWM; ffmpeg: sum of per-process VmHWM
    per_process_rss_mib: list[float] = field(default_factory=list)
    pss_mib: float = 0.0  # proportional set size summed at the end of the window
    load_before: tuple[float, float, float] = (0.0, 0.0, 0.0)
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)
    started_cameras: int = 0
    exited_early: list[str] = field(default_factory=list)
    stop_s: float = 0.0
    footage: list[CameraFootage] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    steady_window_s: float = 0.0  # from STEADY_AFTER_S into the window to its end
    cpu_steady_s: float = 0.0

    # derived ------------------------------------------------------------------------------------------

    def cpu_per_stream_min(self) -> float:
        if self.window_s <= 0 or self.cameras == 0:
            return 0.0
        return self.cpu_window_s / self.cameras / (self.window_s / 60)

    def cpu_pct(self) -> float:
        return 100 * self.cpu_window_s / self.window_s if self.window_s > 0 else 0.0

    def steady_cpu_per_stream_min(self) -> float:
        if self.steady_window_s <= 0 or self.cameras == 0:
            return 0.0
        return self.cpu_steady_s / self.cameras / (self.steady_window_s / 60)

    def server_pct(self) -> float:
        return 100 * self.server_cpu_window_s / self.window_s if self.window_s > 0 else 0.0

    def segments(self) -> int:
        return sum(len(f.files) for f in self.footage)

    def lost_or_short(self) -> tuple[int, int]:
        return sum(f.lost for f in self.footage), sum(f.short for f in self.footage)

    def missing(self) -> tuple[float, float]:
        values = [f.missing_s for f in self.footage] or [0.0]
        return sum(values) / len(values), max(values)

    def start_skipped_s(self) -> float:
        values = [f.start_skipped_s for f in self.footage] or [0.0]
        return sum(values) / len(values)

    def window_minus_recorded_s(self) -> float:
        values = [f.window_s - f.recorded_s for f in self.footage] or [0.0]
        return sum(values) / len(values)


def watch_first_files(
    probes: dict[str, Callable[[], bool]], until: float, interval_s: float = 0.1
) -> dict[str, float]:
    """Poll until every camera has a file (or ``until``): wall-clock time each one's first file appeared."""
    seen: dict[str, float] = {}
    while len(seen) < len(probes) and time.monotonic() < until:
        for camera, has_file in probes.items():
            if camera not in seen and has_file():
                seen[camera] = time.time()
        time.sleep(interval_s)
    return seen


def wait_exit(pid: int, deadline: float) -> tuple[int, Any] | None:
    """``os.wait4`` without blocking past ``deadline``: (status, rusage) or None."""
    while True:
        done_pid, status, usage = os.wait4(pid, os.WNOHANG)
        if done_pid == pid:
            return status, usage
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.05)


def kill_and_reap(pid: int) -> tuple[int, Any]:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            break
        reaped = wait_exit(pid, time.monotonic() + 10)
        if reaped is not None:
            return reaped
    _, status, usage = os.wait4(pid, 0)
    return status, usage


class Window:
    """CPU of the tool's processes, the server and the machine between ``open()`` and ``close()``."""

    def __init__(self, pids: Sequence[int], server_pid: int) -> None:
        self.pids = list(pids)
        self.server_pid = server_pid
        self.started = time.monotonic()
        self.cpu0 = {pid: process_cpu_s(pid) or 0.0 for pid in self.pids}
        self.server0 = process_cpu_s(server_pid) or 0.0
        self.system0 = system_ticks()
        self.steady_from: float | None = None
        self.cpu_steady0: dict[int, float] = {}

    def wait_until_steady(self) -> None:
        """Sleep until ``STEADY_AFTER_S`` into the window, then start the steady-state reading."""
        time.sleep(max(0.0, self.started + STEADY_AFTER_S - time.monotonic()))
        self.steady_from = time.monotonic()
        self.cpu_steady0 = {pid: process_cpu_s(pid) or 0.0 for pid in self.pids}

    def close(self, result: PhaseResult) -> None:
        result.window_s = time.monotonic() - self.started
        cpu1 = {pid: process_cpu_s(pid) for pid in self.pids}
        result.cpu_window_s = sum((cpu1[p] or self.cpu0[p]) - self.cpu0[p] for p in self.pids)
        if self.steady_from is not None:
            result.steady_window_s = time.monotonic() - self.steady_from
            base = self.cpu_steady0
            result.cpu_steady_s = sum((cpu1[p] or base[p]) - base[p] for p in self.pids)
        result.server_cpu_window_s = (process_cpu_s(self.server_pid) or self.server0) - self.server0
        busy1, total1 = system_ticks()
        busy = busy1 - self.system0[0]
        total = total1 - self.system0[1]
        result.machine_busy_pct = 100 * busy / total * (os.cpu_count() or 1) if total else 0.0
        rss = [status_kib(pid, "VmHWM") for pid in self.pids]
        result.per_process_rss_mib = [round((v or 0) / 1024, 1) for v in rss]
        result.peak_rss_mib = round(sum(result.per_process_rss_mib), 1)
        result.pss_mib = round(sum((status_kib(pid, "Pss") or 0) for pid in self.pids) / 1024, 1)


def run_ours(
    server: RtspServer,
    server_pid: int,
    cameras: list[str],
    work: Path,
    seconds: float,
    fsync: bool,
    clip_index: dict[bytes, int],
    media_cpus: str,
    read_batch_ms: int,
) -> PhaseResult:
    result = PhaseResult("ours", len(cameras))
    root = work / "recordings"
    root.mkdir(parents=True)
    config = {
        "cameras": [{"id": c, "url": server.url(c)} for c in cameras],
        "root": str(root),
        "db": str(work / "index.sqlite3"),
        "segment_seconds": SEGMENT_SECONDS,
        "fsync": fsync,
        "media_cpus": media_cpus,
        "read_batch_ms": read_batch_ms,
        "report": str(work / "report.json"),
    }
    config_path = work / "config.json"
    config_path.write_text(json.dumps(config))
    log_path = work / "ours.log"
    result.load_before = load_average()
    with log_path.open("wb") as log:
        child = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "_ours", str(config_path)],
            stdout=subprocess.PIPE,
            stderr=log,
            cwd=REPO_ROOT,
        )
    assert child.stdout is not None
    ready = _read_line(child.stdout, time.monotonic() + READY_TIMEOUT_S)
    if ready != "READY":
        kill_and_reap(child.pid)
        child.returncode = -1
        result.ok, result.error = False, f"child did not start: {ready!r}; see {log_path}"
        return result
    window = Window([child.pid], server_pid)
    end = window.started + seconds
    probes = {c: _dir_probe(root / c) for c in cameras}
    first_files = watch_first_files(probes, end)
    window.wait_until_steady()
    result.started_cameras = len(first_files)
    time.sleep(max(0.0, end - time.monotonic()))
    window.close(result)
    stop_at = time.time()
    began = time.monotonic()
    child.send_signal(signal.SIGINT)
    reaped = wait_exit(child.pid, time.monotonic() + STOP_TIMEOUT_S)
    if reaped is None:
        result.ok, result.error = False, f"did not stop within {STOP_TIMEOUT_S:.0f} s"
        reaped = kill_and_reap(child.pid)
    result.stop_s = time.monotonic() - began
    status, usage = reaped
    child.returncode = os.waitstatus_to_exitcode(status)
    child.stdout.close()
    result.cpu_total_s = usage.ru_utime + usage.ru_stime
    result.load_after = load_average()
    if child.returncode != 0:
        result.ok = False
        result.error = f"exit code {child.returncode}; see {log_path}"
    report_path = Path(str(config["report"]))
    if report_path.exists():
        result.extra = json.loads(report_path.read_text())
        result.peak_rss_mib = max(result.peak_rss_mib, float(result.extra.get("vm_hwm_mib", 0.0)))
        result.per_process_rss_mib = [result.peak_rss_mib]
    result.extra["index"] = _index_summary(Path(str(config["db"])))
    restart_gaps = _connection_gaps(Path(str(config["db"])))
    result.extra["log_warnings"] = _warning_lines(log_path)
    for camera in cameras:
        paths = [p for p in (root / camera).rglob("*") if p.is_file()] if (root / camera).exists() else []
        result.footage.append(
            camera_footage(
                camera,
                paths,
                first_files.get(camera),
                stop_at,
                float(CLIP_FPS),
                clip_index,
                restart_gaps.get(camera, 0.0),
            )
        )
    return result


def ffmpeg_command(url: str, out_dir: Path) -> list[str]:
    """Frigate's recording command (stream copy, 10 s segments, wall-clock file names)."""
    return [
        "ffmpeg",
        "-hide_banner",
        "-loglevel",
        "error",
        "-rtsp_transport",
        "tcp",
        "-i",
        url,
        "-c",
        "copy",
        "-f",
        "segment",
        "-segment_time",
        str(SEGMENT_SECONDS),
        "-segment_format",
        "mp4",
        "-reset_timestamps",
        "1",
        "-strftime",
        "1",
        str(out_dir / "%Y%m%d%H%M%S.mp4"),
    ]


def run_ffmpeg(
    server: RtspServer,
    server_pid: int,
    cameras: list[str],
    work: Path,
    seconds: float,
    clip_index: dict[bytes, int],
) -> PhaseResult:
    result = PhaseResult("ffmpeg", len(cameras))
    work.mkdir(parents=True, exist_ok=True)
    log_path = work.parent / "ffmpeg.log"
    result.load_before = load_average()
    children: dict[str, subprocess.Popen[bytes]] = {}
    with log_path.open("ab") as log:
        for camera in cameras:
            out = work / camera
            out.mkdir(parents=True)
            children[camera] = subprocess.Popen(
                ffmpeg_command(server.url(camera), out),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
    result.extra["command"] = shlex.join(ffmpeg_command(server.url(cameras[0]), work / cameras[0]))
    pids = [p.pid for p in children.values()]
    window = Window(pids, server_pid)
    end = window.started + seconds
    probes = {c: _dir_probe(work / c, need_entry=True) for c in cameras}
    first_files = watch_first_files(probes, end)
    window.wait_until_steady()
    result.started_cameras = len(first_files)
    time.sleep(max(0.0, end - time.monotonic()))
    result.exited_early = [c for c, p in children.items() if p.poll() is not None]
    window.close(result)
    stop_at = time.time()
    began = time.monotonic()
    for process in children.values():
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    codes: dict[str, int] = {}
    for camera, process in children.items():
        if process.returncode is not None:
            codes[camera] = process.returncode
            continue
        reaped = wait_exit(process.pid, deadline)
        if reaped is None:
            reaped = kill_and_reap(process.pid)
        status, usage = reaped
        process.returncode = codes[camera] = os.waitstatus_to_exitcode(status)
        result.cpu_total_s += usage.ru_utime + usage.ru_stime
    result.stop_s = time.monotonic() - began
    result.load_after = load_average()
    failed = {c: code for c, code in codes.items() if code not in (0, 255, -signal.SIGINT)}
    if failed or result.exited_early:
        result.ok = False
        result.error = f"exit codes {failed}, exited early {result.exited_early}; see {log_path}"
    result.extra["exit_codes"] = sorted(set(codes.values()))
    result.extra["log_lines"] = len(log_path.read_text(errors="replace").splitlines())
    for camera in cameras:
        paths = [p for p in (work / camera).iterdir() if p.is_file()]
        result.footage.append(
            camera_footage(camera, paths, first_files.get(camera), stop_at, float(CLIP_FPS), clip_index)
        )
    return result


def _dir_probe(path: Path, need_entry: bool = False) -> Callable[[], bool]:
    def has_file() -> bool:
        if not need_entry:
            return path.exists()  # ours creates the camera's directory right before its first file
        try:
            with os.scandir(path) as entries:
                return any(True for _ in entries)
        except OSError:
            return False

    return has_file


def _read_line(stream: Any, deadline: float) -> str:
    """The first stdout line of the child, or '' when it does not come before ``deadline``."""
    import select

    buffer = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([stream], [], [], 0.2)
        if not ready:
            continue
        chunk = os.read(stream.fileno(), 4096)
        if not chunk:
            break
        buffer += chunk
        if b"\n" in buffer:
            return buffer.split(b"\n", 1)[0].decode(errors="replace").strip()
    return buffer.decode(errors="replace").strip()


def _index_summary(db: Path) -> dict[str, Any]:
    if not db.exists():
        return {}
    with sqlite3.connect(str(db)) as connection:
        segments = dict(
            connection.execute("SELECT status, count(*) FROM segments GROUP BY status").fetchall()
        )
        gaps = dict(connection.execute("SELECT reason, count(*) FROM gaps GROUP BY reason").fetchall())
    connection.close()
    return {"segments_by_status": segments, "gaps_by_reason": gaps}


CONNECTION_GAP_REASONS = ("stream_stalled", "camera_unreachable", "unauthorized")


def _connection_gaps(db: Path) -> dict[str, float]:
    """Seconds per camera in ours' gap rows for lost connections (each one is a reconnect)."""
    if not db.exists():
        return {}
    marks = ",".join("?" * len(CONNECTION_GAP_REASONS))
    with sqlite3.connect(str(db)) as connection:
        rows = connection.execute(
            "SELECT camera_id, start_utc, end_utc FROM gaps "
            f"WHERE end_utc IS NOT NULL AND reason IN ({marks})",
            CONNECTION_GAP_REASONS,
        ).fetchall()
    connection.close()
    gaps: dict[str, float] = {}
    for camera, start, end in rows:
        seconds = (datetime.fromisoformat(str(end)) - datetime.fromisoformat(str(start))).total_seconds()
        gaps[camera] = gaps.get(camera, 0.0) + seconds
    return gaps


def _warning_lines(log: Path) -> dict[str, Any]:
    lines = [line for line in log.read_text(errors="replace").splitlines() if " WARNING " in line]
    errors = [line for line in log.read_text(errors="replace").splitlines() if " ERROR " in line]
    return {"warnings": len(lines), "errors": len(errors), "first": (errors + lines)[:5]}


# ---------------------------------------------------------------------------------------------- child


def child_ours(config_path: Path) -> int:
    """Phase A's process: our real pipeline for every camera until SIGINT/SIGTERM, then a clean stop."""
    from config.schema import CameraConfig
    from storage.database import Database
    from storage.migration import upgrade_to_head
    from streams.affinity import available_cpus, plan_media_cpus
    from streams.disk_sync import DiskSyncer
    from streams.disk_writer import DiskWriter
    from streams.ingest import IngestManager
    from streams.pacing import PacingPolicy
    from streams.recorder import Housekeeper, RecorderSettings, SegmentRecorder
    from streams.snapshot import KeyframeKeeper

    config = json.loads(config_path.read_text())
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    db = Database(f"sqlite:///{config['db']}")
    upgrade_to_head(db.engine)
    cameras = [CameraConfig(id=c["id"], name=c["id"], url=c["url"]) for c in config["cameras"]]
    settings = RecorderSettings(segment_seconds=float(config["segment_seconds"]), fsync=bool(config["fsync"]))
    # as console.recording.RecordingPipeline does: the media threads on recording.media_cpus
    cpus = plan_media_cpus(config["media_cpus"], available_cpus(), len(cameras))
    # and unwatched streams read in batches (recording.read_batch_ms)
    pacing = PacingPolicy(pause_s=int(config["read_batch_ms"]) / 1000)
    manager = IngestManager(cameras, cpus=cpus, pacing=pacing)
    syncer: DiskSyncer | None = None
    if settings.fsync:
        syncer = DiskSyncer(Path(config["root"]), interval_s=settings.fragment_seconds, cpus=cpus)
        syncer.start()
    housekeeper = Housekeeper(cpus=cpus)
    housekeeper.start()
    disk_writer = DiskWriter(cpus=cpus)
    disk_writer.start()
    recorders: dict[str, SegmentRecorder] = {}
    for camera in cameras:
        recorders[camera.id] = SegmentRecorder(
            camera_id=camera.id, db=db, root=Path(config["root"]), settings=settings, jobs=disk_writer
        )
        recorders[camera.id].attach(manager.worker(camera.id).fanout, housekeeper)  # as console.recording
    # as console.live.LiveRegistry.start_keepers: every camera's newest keyframe kept for its thumbnail
    keepers = [KeyframeKeeper(camera_id=camera.id, stream="main") for camera in cameras]
    for keeper in keepers:
        keeper.attach(manager.worker(keeper.camera_id).fanout)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    manager.start()
    sys.stdout.write("READY\n")
    sys.stdout.flush()
    while not stop.wait(0.5):
        pass
    began = time.monotonic()
    # packets received but not written yet when the window ended (the recorders write on the ingest
    # threads, so this is what was in flight; a backlog that grows means the process cannot keep up)
    health = {h.camera_id: h for h in manager.health()}
    backlog = {
        camera_id: max(0, health[camera_id].packets - recorder.status().packets_written)
        for camera_id, recorder in recorders.items()
    }
    # muxed footage the disk writer had not written yet (bounded per file; see streams.disk_writer)
    disk_backlog = {camera_id: rec.status().write_backlog_bytes for camera_id, rec in recorders.items()}
    manager.stop()
    for keeper in keepers:
        keeper.stop()
    for recorder in recorders.values():
        recorder.stop()
    housekeeper.stop()
    disk_writer.stop()
    if syncer is not None:
        syncer.stop()
    report = {
        "stop_s": time.monotonic() - began,
        "vm_hwm_mib": (status_kib(os.getpid(), "VmHWM") or 0) / 1024,
        "threads": threading.active_count(),
        "cameras": {
            camera_id: {
                "recorder": _plain(asdict(recorder.status())),
                "ingest_packets": health[camera_id].packets,
                "ingest_reconnects": health[camera_id].reconnects,
                "ingest_connect_attempts": health[camera_id].connect_attempts,
                "ingest_skipped": health[camera_id].skipped_packets,
                "ingest_last_error": health[camera_id].last_error,
                "ingest_clock_lag_at_stop_s": health[camera_id].clock_lag_s,
                "recorder_backlog_at_stop": backlog[camera_id],
                "disk_backlog_bytes_at_stop": disk_backlog[camera_id],
            }
            for camera_id, recorder in recorders.items()
        },
    }
    Path(config["report"]).write_text(json.dumps(report, default=str))
    return 0


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    return {
        k: (v.isoformat() if isinstance(v, datetime) else v.value if isinstance(v, Enum) else v)
        for k, v in values.items()
    }


# ---------------------------------------------------------------------------------------------- report


def summarize_ours(result: PhaseResult) -> dict[str, int]:
    cams = result.extra.get("cameras", {})
    lost = sum(int(c["recorder"]["packets_lost_upstream"]) for c in cams.values())
    reconnects = sum(int(c["ingest_reconnects"]) for c in cams.values())
    received = sum(int(c["ingest_packets"]) for c in cams.values())
    written = sum(int(c["recorder"]["packets_written"]) for c in cams.values())
    backlog = [int(c.get("recorder_backlog_at_stop", 0)) for c in cams.values()] or [0]
    disk = [int(c.get("disk_backlog_bytes_at_stop", 0)) for c in cams.values()] or [0]
    return {
        "lost_upstream": lost,
        "reconnects": reconnects,
        "received": received,
        "written": written,
        "backlog_packets_at_window_end_total": sum(backlog),
        "backlog_packets_at_window_end_max": max(backlog),
        "disk_backlog_bytes_at_window_end_total": sum(disk),
        "disk_backlog_bytes_at_window_end_max": max(disk),
    }


def table(runs: list[dict[str, Any]]) -> str:
    header = (
        f"| cameras | recorder | CPU s / stream / min | steady, after {STEADY_AFTER_S:.0f} s "
        "| CPU % (of one core) | peak memory MiB (RSS; PSS) "
        "| segments | lost / short | footage missing s per camera (mean / max) | skipped at start s "
        "| window - recorded s | RTSP server CPU % | machine busy % (2 cores = 200) |\n"
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    )
    rows = []
    for run in runs:
        phases: dict[str, PhaseResult] = run["phases"]
        for name in ("ours", "ffmpeg"):
            phase = phases.get(name)
            if phase is None:
                continue
            lost, short = phase.lost_or_short()
            mean, worst = phase.missing()
            note = "" if phase.ok else f" (FAILED: {phase.error})"
            rows.append(
                f"| {phase.cameras} | {name}{note} | {phase.cpu_per_stream_min():.2f} "
                f"| {phase.steady_cpu_per_stream_min():.3f} | {phase.cpu_pct():.0f} "
                f"| {phase.peak_rss_mib:.0f}; {phase.pss_mib:.0f} | {phase.segments()} | {lost} / {short} "
                f"| {mean:.2f} / {worst:.2f} | {phase.start_skipped_s():.2f} "
                f"| {phase.window_minus_recorded_s():+.2f} "
                f"| {phase.server_pct():.0f} | {phase.machine_busy_pct:.0f} |"
            )
        ours, peer = phases.get("ours"), phases.get("ffmpeg")
        if ours is not None and peer is not None and peer.cpu_window_s > 0 and peer.peak_rss_mib > 0:
            steady = peer.steady_cpu_per_stream_min()
            steady_ratio = f"**{ours.steady_cpu_per_stream_min() / steady:.2f}x**" if steady > 0 else ""
            rows.append(
                f"| {ours.cameras} | **ours / ffmpeg** "
                f"| **{ours.cpu_window_s / peer.cpu_window_s:.2f}x** | {steady_ratio} | | "
                f"**{ours.peak_rss_mib / peer.peak_rss_mib:.2f}x RSS; "
                f"{ours.pss_mib / max(peer.pss_mib, 0.1):.2f}x PSS** | | | | | | | |"
            )
    return header + "\n".join(rows) + "\n"


def phase_json(phase: PhaseResult) -> dict[str, Any]:
    data = asdict(phase)
    data["derived"] = {
        "cpu_s_per_stream_per_min": phase.cpu_per_stream_min(),
        "cpu_pct_of_one_core": phase.cpu_pct(),
        "steady_cpu_s_per_stream_per_min": phase.steady_cpu_per_stream_min(),
        "server_cpu_pct": phase.server_pct(),
        "segments": phase.segments(),
        "lost": phase.lost_or_short()[0],
        "short": phase.lost_or_short()[1],
        "missing_s_mean": phase.missing()[0],
        "missing_s_max": phase.missing()[1],
        "start_skipped_s_mean": phase.start_skipped_s(),
        "window_minus_recorded_s_mean": phase.window_minus_recorded_s(),
    }
    return data


# ---------------------------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cameras", type=int, nargs="+", default=[16, 32, 64])
    parser.add_argument("--seconds", type=float, default=60.0, help="recording window per phase (>= 60)")
    parser.add_argument("--json", type=Path, default=Path("/tmp/record_bench.json"))
    parser.add_argument("--data", type=Path, default=Path("/tmp/record-bench"), help="clip cache and runs")
    parser.add_argument("--only", choices=("ours", "ffmpeg"), default=None, help="run one phase only")
    parser.add_argument("--no-fsync", action="store_true", help="ours without fsync (default: fsync on)")
    parser.add_argument("--keep", action="store_true", help="keep the recordings after probing")
    parser.add_argument(
        "--media-cpus",
        choices=("auto", "all"),
        default="auto",
        help="ours: recording.media_cpus (default auto, the station's default; all = no pinning)",
    )
    parser.add_argument(
        "--read-batch-ms",
        type=int,
        default=RecordingConfig().read_batch_ms,
        help="ours: recording.read_batch_ms (default: the station's default; 0 = read every packet at once)",
    )
    parser.add_argument(
        "--segment-seconds",
        type=int,
        default=SEGMENT_SECONDS,
        help=f"segment length for both tools (default {SEGMENT_SECONDS}; the station's own default is 60)",
    )
    return parser.parse_args(argv)


def run_count(
    args: argparse.Namespace, clip: Path, clip_index: dict[bytes, int], count: int
) -> dict[str, Any]:
    cameras = [f"cam{i:02d}" for i in range(1, count + 1)]
    work = args.data / f"run-{count}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    server = RtspServer(dict.fromkeys(cameras, clip), log_dir=work)
    server.start()
    server_pid = server.pid
    phases: dict[str, PhaseResult] = {}
    try:
        if args.only in (None, "ours"):
            print(f"[{count} cameras] ours: recording {args.seconds:.0f} s ...", file=sys.stderr, flush=True)
            phases["ours"] = run_ours(
                server,
                server_pid,
                cameras,
                work / "ours",
                args.seconds,
                fsync=not args.no_fsync,
                clip_index=clip_index,
                media_cpus=args.media_cpus,
                read_batch_ms=args.read_batch_ms,
            )
            time.sleep(3)  # let the server tear the sessions down
        if args.only in (None, "ffmpeg"):
            print(
                f"[{count} cameras] ffmpeg: recording {args.seconds:.0f} s ...", file=sys.stderr, flush=True
            )
            phases["ffmpeg"] = run_ffmpeg(
                server, server_pid, cameras, work / "ffmpeg", args.seconds, clip_index
            )
    finally:
        server.stop()
        if not args.keep:
            for sub in ("ours/recordings", "ffmpeg"):
                shutil.rmtree(work / sub, ignore_errors=True)
    return {"cameras": count, "phases": phases}


def main(argv: Sequence[str]) -> int:
    if len(argv) == 2 and argv[0] == "_ours":
        return child_ours(Path(argv[1]))
    args = parse_args(argv)
    global SEGMENT_SECONDS  # one run, one segment length: read by the phases, the probe and the tables
    SEGMENT_SECONDS = args.segment_seconds
    reason = missing_reason()
    if reason is not None:
        print(f"cannot run: {reason}", file=sys.stderr)
        return 2
    if shutil.which("ffmpeg") is None:
        print("cannot run: ffmpeg not found", file=sys.stderr)
        return 2
    args.data.mkdir(parents=True, exist_ok=True)
    command = shlex.join([".venv/bin/python", "bench/record_bench.py", *argv])
    facts = machine_facts()
    print(f"# Recording benchmark\n\nCommand: `{command}`\n")
    print(f"Started {datetime.now(UTC).isoformat(timespec='seconds')}; load average {load_average()}")
    for key, value in facts.items():
        print(f"- {key}: {value}")
    clip = ensure_clip(args.data)
    print(
        f"- clip: {clip.name} ({clip.stat().st_size * 8 / CLIP_SECONDS / 1e6:.2f} Mbit/s), "
        f"segment {SEGMENT_SECONDS} s, window {args.seconds:.0f} s per phase, "
        f"ours fsync {'off' if args.no_fsync else 'on'}, media CPUs {args.media_cpus}, "
        f"read batching {args.read_batch_ms} ms\n",
        flush=True,
    )
    clip_index = clip_frame_index(clip)
    if len(clip_index) != round(CLIP_SECONDS * CLIP_FPS):
        print(f"warning: only {len(clip_index)} distinct frames in the clip", file=sys.stderr)
    runs = []
    for count in args.cameras:
        run = run_count(args, clip, clip_index, count)
        runs.append(run)
        print(table([run]), flush=True)
        ours = run["phases"].get("ours")
        if ours is not None:
            print(f"ours inside the pipeline: {summarize_ours(ours)}\n", flush=True)
        _write_json(args, command, facts, runs)
    print("## All runs\n")
    print(table(runs))
    print(f"Finished; load average {load_average()}; raw figures in {args.json}")
    return 0


def _write_json(
    args: argparse.Namespace, command: str, facts: dict[str, Any], runs: list[dict[str, Any]]
) -> None:
    payload = {
        "command": command,
        "machine": facts,
        "settings": {
            "segment_seconds": SEGMENT_SECONDS,
            "seconds": args.seconds,
            "fsync": not args.no_fsync,
            "media_cpus": args.media_cpus,
            "read_batch_ms": args.read_batch_ms,
            "clip": {"fps": CLIP_FPS, "gop": CLIP_GOP, "seconds": CLIP_SECONDS, "bit_rate": "4M"},
            "ffmpeg_command": shlex.join(ffmpeg_command("rtsp://127.0.0.1:PORT/camNN", Path("OUT"))),
        },
        "runs": [
            {"cameras": run["cameras"], **{k: phase_json(v) for k, v in run["phases"].items()}}
            for run in runs
        ],
    }
    args.json.write_text(json.dumps(payload, indent=1, default=str))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
