"""``detect_bench.py --mode capacity``: how many cameras the station analyses at ``--fps`` while it records.

One real GStreamer RTSP server (``tests/support/rtsp_server.py``) serves ``--record-cameras`` mounts (32),
the shared clips ``pets09_s2l1_campus.mp4`` (768x576, 10 fps, GOP 10) and ``room_one_by_one.mp4``
(768x432, 10 fps) in turn, looped without re-encoding. For every phase N in ``--detect-cameras``
(0, 4, 8, 12, 16) a fresh child process runs the station's own parts the way ``station run`` wires them:

- :class:`console.recording.RecordingPipeline` (ingest, one ``SegmentRecorder`` per camera, disk writer,
  syncer, housekeeper, retention; the media threads pinned per ``recording.media_cpus``, default ``auto``:
  the last CPU) recording all cameras into ``--segment-seconds`` files with a migrated SQLite index;
- the live registry's keyframe keepers (:meth:`console.live.LiveRegistry.start_keepers`);
- :class:`console.detection_service.DetectionService` with ``detection.enabled`` and ``--kinds`` (motion +
  person) on the first N cameras at ``--fps``: a ``LiveFrameDecoder`` per camera, the ``DetectionWorker``
  (``--detection-workers`` threads, auto: one per detection CPU), the event recorder, placed as
  ``--detection-cpus`` (``all``: every CPU, the station's default) at ``--detection-nice`` (10); the model is
  ``yolo11n_int8.onnx`` from ``../shared/models`` run from its FP32 copy (``detection.dequantize.fp32_copy``,
  made by the service under the data dir), backend ``--backend`` (``auto`` picks OpenVINO when installed),
  ``--detector-threads``, ``--precision`` (``f32``; ``auto``: bfloat16 where the CPU has it natively).

The child waits ``--warmup-s`` after start (connect burst, first keyframes, detector warm-up), then takes
its window: CPU of every one of its threads from ``/proc/self/task`` (utime + stime, the same counters
``record_bench.py`` reads for the whole process), classified by the native names the station gives its
threads (recording: ``<camera>:main``, ``rec:*``, ``disk-writer``, ``housekeeping``, ``disk-sync``;
detection: ``dec:*``, ``detect``, ``events`` and the inference runtime's unnamed threads; the rest:
``other``), the recorders' and decoders' counters, and the detection worker's counters, before and after
``--seconds``. The parent reads the RTSP server's CPU and the machine's busy time over the same window.
After a clean stop every segment file is probed with PyAV and matched frame by frame to its clip
(``record_bench.camera_footage``): files lost, short, footage missing.

A phase *carries* its N cameras when every detecting camera's analysed rate is at least ``--keep-up``
(0.9) of ``--fps``, recording lost nothing (no packet lost upstream, no reconnect, no timestamp hole, no
file lost, no footage missing) and the recording threads' CPU is within ``--rec-cpu-tolerance`` (10 %) of
the N = 0 phase of the same run.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import av
import av.error
import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import record_bench  # noqa: E402
from record_bench import (  # noqa: E402
    CLK_TCK,
    camera_footage,
    frame_key,
    kill_and_reap,
    load_average,
    process_cpu_s,
    system_ticks,
    wait_exit,
)

from config.schema import CameraConfig, StationConfig  # noqa: E402
from config.settings import Settings  # noqa: E402
from console.bootstrap import prepare_database  # noqa: E402
from console.detection_service import DetectionService  # noqa: E402
from console.live import LiveRegistry  # noqa: E402
from console.recording import RecordingPipeline  # noqa: E402
from detection.pipeline import CameraPipeline  # noqa: E402
from storage.database import Database  # noqa: E402
from streams.ingest import IngestManager  # noqa: E402
from tests.support.rtsp_server import RtspServer, missing_reason  # noqa: E402

SHARED = REPO_ROOT.parent / "shared"
CLIPS = (SHARED / "media" / "pets09_s2l1_campus.mp4", SHARED / "media" / "room_one_by_one.mp4")
CLIP_FPS = 10.0
SESSION_START_FRAMES = 20  # see missing_frames
MODEL = SHARED / "models" / "yolo11n_int8.onnx"
READY_TIMEOUT_S = 240.0
STOP_TIMEOUT_S = 60.0
THREAD_KINDS = ("recording", "decoders", "worker", "unnamed", "other")
_INGEST = re.compile(r"^[a-z0-9][a-z0-9_-]*:(main|sub)$")


def thread_kind(comm: str, process_comm: str) -> str:
    """Which part of the station a thread belongs to, from its native name; pure. Threads that keep the
    process's own name are ``unnamed``: the main thread (asleep during the window), the retention worker
    and the inference runtime's workers."""
    if comm in ("disk-writer", "housekeeping", "disk-sync") or comm.startswith("rec:") or _INGEST.match(comm):
        return "recording"
    if comm.startswith("dec:"):
        return "decoders"
    if comm in ("detect", "events") or comm.startswith("detect-"):
        return "worker"
    if comm == process_comm:
        return "unnamed"
    return "other"


def thread_cpu() -> dict[str, float]:
    """CPU seconds so far of this process's live threads, summed by :func:`thread_kind`."""
    kinds = dict.fromkeys(THREAD_KINDS, 0.0)
    process_comm = Path("/proc/self/comm").read_text().strip()
    for task in Path("/proc/self/task").iterdir():
        try:
            raw = (task / "stat").read_text()
        except OSError:
            continue  # the thread ended
        comm = raw[raw.index("(") + 1 : raw.rindex(")")]
        fields = raw.rsplit(")", 1)[1].split()
        kinds[thread_kind(comm, process_comm)] += (int(fields[11]) + int(fields[12])) / CLK_TCK
    return kinds


def thread_affinity() -> dict[str, list[str]]:
    """The distinct CPU lists of the threads of each kind of name (``cam01:main`` -> ``ingest``,
    ``dec:cam01`` -> ``dec``), for the report: the station pins them, a runtime may move its own."""
    out: dict[str, set[str]] = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            comm = (task / "comm").read_text().strip()
            allowed = next(
                line.split(":", 1)[1].strip()
                for line in (task / "status").read_text().splitlines()
                if line.startswith("Cpus_allowed_list:")
            )
        except (OSError, StopIteration):
            continue
        label = "ingest" if _INGEST.match(comm) else comm.split(":", 1)[0]
        out.setdefault(label, set()).add(allowed)
    return {label: sorted(cpus) for label, cpus in out.items()}


# ---------------------------------------------------------------------------------------------- child


def _station_config(spec: dict[str, Any]) -> dict[str, Any]:
    """The station configuration of one phase (``config.schema.StationConfig`` as plain data)."""
    detecting = set(spec["detect"])
    cameras = [
        {
            "id": camera["id"],
            "name": camera["id"],
            "url": camera["url"],
            "detection": {
                "enabled": camera["id"] in detecting,
                "kinds": spec["kinds"],
                "fps": spec["fps"],
            },
        }
        for camera in spec["cameras"]
    ]
    return {
        "station": {"name": "capacity bench", "timezone": "UTC"},
        "storage": {"data_dir": spec["data_dir"]},
        "cameras": cameras,
        "recording": {"segment_seconds": spec["segment_seconds"], "media_cpus": spec["media_cpus"]},
        "detection": {
            "model_path": spec["model"],
            "backend": spec["backend"],
            "threads": spec["threads"],
            "precision": spec["precision"],
            "cpus": spec["detection_cpus"],
            "nice": spec["detection_nice"],
            "workers": spec["detection_workers"],
        },
    }


def _snapshot(recording: RecordingPipeline, detection: BenchDetectionService | None) -> dict[str, Any]:
    """Counters of one moment: threads' CPU, recorders, ingest, decoders, worker, pipeline stage clocks."""
    health = {h.camera_id: h for h in recording.ingest.health() if h.stream == "main"}
    snap: dict[str, Any] = {
        "t": time.monotonic(),
        "process_cpu_s": process_cpu_s(os.getpid()) or 0.0,
        "threads": thread_cpu(),
        "recorders": {
            camera_id: {
                "written": rec.status().packets_written,
                "lost_upstream": rec.status().packets_lost_upstream,
                "holes": rec.status().timestamp_holes,
                "malformed": rec.status().packets_malformed,
                "received": health[camera_id].packets if camera_id in health else 0,
                "reconnects": health[camera_id].reconnects if camera_id in health else 0,
            }
            for camera_id, rec in recording.recorders.items()
        },
        "detection": {},
    }
    if detection is None or detection.worker is None:
        return snap
    for stats in detection.worker.stats():
        decoder = detection.decoders.get(stats.camera)
        pipeline = detection.pipelines[stats.camera]
        snap["detection"][stats.camera] = {
            "frames_in": stats.frames_in,
            "analysed": stats.analysed,
            "dropped": stats.dropped,
            "errors": stats.errors,
            "decoded": decoder.stats().decoded if decoder else 0,
            "delivered": decoder.stats().delivered if decoder else 0,
            "skipped_overload": decoder.stats().skipped_overload if decoder else 0,
            "stage_s": dict(pipeline.times.seconds),
            "crops": pipeline.times.detector_calls,
        }
    return snap


class BenchDetectionService(DetectionService):
    """The station's own service, keeping a handle on each camera's pipeline for its stage clocks; with
    ``keyframes_only`` its decoders decode keyframes only all the time (what they do when behind)."""

    def __init__(
        self,
        settings: Settings,
        database: Database,
        ingest: IngestManager,
        media_cpus: frozenset[int] | None,
        *,
        keyframes_only: bool,
    ) -> None:
        super().__init__(settings, database, ingest, media_cpus)
        self.pipelines: dict[str, CameraPipeline] = {}
        self.keyframes_only = keyframes_only

    def _pipeline(self, camera: CameraConfig) -> CameraPipeline:
        pipeline = super()._pipeline(camera)
        self.pipelines[camera.id] = pipeline
        return pipeline

    def _start_decoder(self, camera: CameraConfig) -> None:
        if self.keyframes_only and self.worker is not None:
            setattr(self.worker, "is_overloaded", lambda _camera_id: True)  # noqa: B010
        super()._start_decoder(camera)


def child_main(spec_path: Path) -> int:
    """One phase's station process: record every camera, detect on some, print the window's edges on
    stdout (``READY``, ``WINDOW``, ``END``) and write the counters to ``spec['report']``."""
    spec = json.loads(spec_path.read_text())
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = Settings(config=StationConfig.model_validate(_station_config(spec)), config_path=None)
    database = prepare_database(settings, hint_first_user=False)
    recording = RecordingPipeline(settings, database)
    recording.start()
    live = LiveRegistry(recording.ingest, settings.config.cameras, ice_servers=[])
    live.start_keepers()
    service = BenchDetectionService(
        settings,
        database,
        recording.ingest,
        recording.media_cpus,
        keyframes_only=spec["decode"] == "keyframes",
    )
    detection = service if service.enabled else None
    if detection is not None:
        detection.start()
    _say("READY")
    time.sleep(float(spec["warmup_s"]))
    if detection is not None:
        for pipeline in detection.pipelines.values():
            pipeline.times.detector_ms.clear()  # the window's calls only (up to 1000 a camera)
    before = _snapshot(recording, detection)
    _say("WINDOW")
    time.sleep(float(spec["seconds"]))
    after = _snapshot(recording, detection)
    _say("END")
    detector_ms = (
        [ms for p in detection.pipelines.values() for ms in p.times.detector_ms] if detection else []
    )
    report = {
        "before": before,
        "after": after,
        "detector_ms": detector_ms,
        "media_cpus": sorted(recording.media_cpus) if recording.media_cpus is not None else None,
        "detection_cpus": (
            sorted(os.sched_getaffinity(0))
            if not detection or detection.cpus is None
            else sorted(detection.cpus)
        ),
        "detection_workers": detection.workers if detection else 0,
        "affinity": thread_affinity(),
        "detector": (
            {
                "backend": detection.detector.info.backend,
                "runs_from": str(detection.detector.info.runs_from),
                "input": list(detection.detector.info.input_size),
                "precision": detection.detector.info.precision,
            }
            if detection and detection.detector
            else None
        ),
        "model_error": detection.model_error if detection else None,
        "vm_hwm_mib": (record_bench.status_kib(os.getpid(), "VmHWM") or 0) / 1024,
    }
    Path(spec["report"]).write_text(json.dumps(report))
    if detection is not None:
        detection.stop()
    recording.stop()
    database.dispose()
    return 0


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


# ---------------------------------------------------------------------------------------------- parent


@dataclass
class Phase:
    """One phase's figures, per second of the window unless named otherwise."""

    detect_cameras: int
    ok: bool = True
    error: str | None = None
    window_s: float = 0.0
    rec_cpu_pct: float = 0.0  # recording threads, % of one core
    rec_cpu_s_per_stream_min: float = 0.0
    det_cpu_pct: float = 0.0  # decoders, worker, events and the inference runtime's (unnamed) threads
    decoders_cpu_pct: float = 0.0  # dec:* threads: decode, scale, convert to BGR
    worker_cpu_pct: float = 0.0  # detect (motion, detector, tracker, rules) and events
    unnamed_cpu_pct: float = 0.0  # main thread, retention, the inference runtime's own threads
    other_cpu_pct: float = 0.0
    process_cpu_pct: float = 0.0
    server_cpu_pct: float = 0.0
    machine_busy_pct: float = 0.0  # all CPUs (2 cores = 200)
    load: tuple[float, float, float] = (0.0, 0.0, 0.0)
    lost_upstream: int = 0
    reconnects: int = 0
    holes: int = 0
    received: int = 0
    written: int = 0
    files: int = 0
    files_lost: int = 0
    files_short: int = 0
    footage_missing_s: float = 0.0  # all cameras, whole run
    unknown_frames: int = 0  # recorded frames not found in the clip's index (see probe_footage)
    decoded_fps: float = 0.0  # per detecting camera, mean
    delivered_fps: float = 0.0
    analysed_fps: float = 0.0  # per detecting camera, mean
    analysed_fps_min: float = 0.0  # the slowest camera
    dropped_fps: float = 0.0  # frames the worker's queue dropped, per camera
    skipped_overload_fps: float = 0.0  # packets not decoded (keyframes only), per camera
    crops_per_frame: float = 0.0
    detector_p50_ms: float = 0.0
    detector_p95_ms: float = 0.0
    stage_ms_per_frame: dict[str, float] = field(default_factory=dict)
    detector: dict[str, Any] | None = None
    affinity: dict[str, list[str]] = field(default_factory=dict)
    peak_rss_mib: float = 0.0
    detection_cpus: int = 0  # CPUs the detection threads may use
    stream_fps: float = 0.0  # packets received per camera per second (the clips: 10)
    decode_cpu_ms: float = 0.0  # decoder threads' CPU per picture decoded
    worker_cpu_ms: float = 0.0  # worker thread's CPU per frame analysed (decode excluded)
    missing_by_camera: dict[str, float] = field(default_factory=dict)

    def camera_cost_ms(self, fps: float) -> float:
        """CPU ms a second one camera costs with every picture decoded and ``fps`` analysed, from this
        phase's CPU per picture and per frame (0 when the phase analysed nothing)."""
        if not self.decode_cpu_ms or not self.worker_cpu_ms:
            return 0.0
        return self.decode_cpu_ms * self.stream_fps + self.worker_cpu_ms * fps

    def estimated_cameras(self, fps: float, budget: float) -> float:
        """Cameras the detection CPUs carry at ``budget`` (share of them) by :meth:`camera_cost_ms`."""
        cost = self.camera_cost_ms(fps)
        return budget * 1000 * max(self.detection_cpus, 1) / cost if cost else 0.0

    def kept_up(self, fps: float, share: float) -> bool:
        return self.detect_cameras == 0 or self.analysed_fps_min >= share * fps

    def recording_lossless(self) -> bool:
        return (
            self.lost_upstream == 0
            and self.reconnects == 0
            and self.holes == 0
            and self.files_lost == 0
            and self.footage_missing_s < 1 / CLIP_FPS / 2
        )


def _delta(after: dict[str, Any], before: dict[str, Any], key: str) -> int:
    return int(after[key]) - int(before[key])


def summarize(phase: Phase, report: dict[str, Any]) -> None:
    """Fill ``phase`` from the child's before/after counters."""
    before, after = report["before"], report["after"]
    window = after["t"] - before["t"]
    phase.window_s = window
    cpu = {k: after["threads"][k] - before["threads"][k] for k in THREAD_KINDS}
    phase.rec_cpu_pct = 100 * cpu["recording"] / window
    cameras = max(len(after["recorders"]), 1)
    phase.rec_cpu_s_per_stream_min = cpu["recording"] / cameras / (window / 60)
    phase.decoders_cpu_pct = 100 * cpu["decoders"] / window
    phase.worker_cpu_pct = 100 * cpu["worker"] / window
    phase.det_cpu_pct = phase.decoders_cpu_pct + phase.worker_cpu_pct + 100 * cpu["unnamed"] / window
    phase.unnamed_cpu_pct = 100 * cpu["unnamed"] / window
    phase.other_cpu_pct = 100 * cpu["other"] / window
    phase.process_cpu_pct = 100 * (after["process_cpu_s"] - before["process_cpu_s"]) / window
    for camera_id, rec in after["recorders"].items():
        old = before["recorders"][camera_id]
        phase.lost_upstream += _delta(rec, old, "lost_upstream")
        phase.reconnects += _delta(rec, old, "reconnects")
        phase.holes += _delta(rec, old, "holes")
        phase.received += _delta(rec, old, "received")
        phase.written += _delta(rec, old, "written")
    detecting = list(after["detection"])
    if detecting:
        per_camera = {
            key: [_delta(after["detection"][c], before["detection"][c], key) / window for c in detecting]
            for key in ("decoded", "delivered", "analysed", "dropped", "skipped_overload", "crops")
        }
        phase.decoded_fps = float(np.mean(per_camera["decoded"]))
        phase.delivered_fps = float(np.mean(per_camera["delivered"]))
        phase.analysed_fps = float(np.mean(per_camera["analysed"]))
        phase.analysed_fps_min = float(np.min(per_camera["analysed"]))
        phase.dropped_fps = float(np.mean(per_camera["dropped"]))
        phase.skipped_overload_fps = float(np.mean(per_camera["skipped_overload"]))
        analysed = sum(per_camera["analysed"]) * window
        phase.crops_per_frame = sum(per_camera["crops"]) * window / max(analysed, 1)
        decoded = sum(per_camera["decoded"]) * window
        phase.decode_cpu_ms = 1000 * cpu["decoders"] / decoded if decoded else 0.0
        phase.worker_cpu_ms = 1000 * (cpu["worker"] + cpu["unnamed"]) / analysed if analysed else 0.0
        stages = after["detection"][detecting[0]]["stage_s"]
        phase.stage_ms_per_frame = {
            stage: 1000
            * sum(
                after["detection"][c]["stage_s"][stage] - before["detection"][c]["stage_s"][stage]
                for c in detecting
            )
            / max(analysed, 1)
            for stage in stages
        }
    if report["detector_ms"]:
        p50, p95 = np.percentile(report["detector_ms"], [50, 95])
        phase.detector_p50_ms, phase.detector_p95_ms = float(p50), float(p95)
    phase.detector = report.get("detector")
    phase.affinity = report.get("affinity", {})
    phase.peak_rss_mib = float(report.get("vm_hwm_mib", 0.0))
    phase.detection_cpus = len(report.get("detection_cpus") or []) or (os.cpu_count() or 1)
    phase.stream_fps = phase.received / cameras / window
    if report.get("model_error"):
        phase.ok, phase.error = False, f"people detection off: {report['model_error']}"


def clip_positions(clip: Path) -> tuple[dict[bytes, list[int]], int]:
    """frame key -> every position in the clip that has it (``room_one_by_one`` repeats four frames,
    e.g. frame 897 is frame 27 again), and the clip's length in frames."""
    positions: dict[bytes, list[int]] = {}
    count = 0
    with av.open(str(clip)) as container:
        for packet in container.demux(container.streams.video[0]):
            if packet.size:
                positions.setdefault(frame_key(bytes(packet)), []).append(count)
                count += 1
    return positions, count


def missing_frames(paths: list[Path], positions: dict[bytes, list[int]], length: int) -> tuple[int, int]:
    """(clip frames skipped, frames not found in the clip) over a camera's files in order. Each recorded
    frame is placed at the position of its key that follows the previous frame most closely; frames not
    found (a few access units of ``room_one_by_one`` leave the RTSP server with a different tail) fill
    the place they stand in, so they are not counted as skipped. Jumps in a camera's first
    :data:`SESSION_START_FRAMES` frames are not counted either: a new RTSP session gets the shared media's
    first keyframe and then its current position (frame 0, then e.g. frame 21, one frame interval apart),
    which is the test server, before the measured window."""
    missing = unknown = recorded = 0
    previous: int | None = None
    pending_unknown = 0
    for path in sorted(paths, key=lambda p: p.name):
        try:
            container = av.open(str(path))
        except (av.error.FFmpegError, OSError):
            continue  # counted as a lost file by camera_footage
        with container:
            if not container.streams.video:
                continue
            try:
                for packet in container.demux(container.streams.video[0]):
                    if not packet.size:
                        continue
                    found = positions.get(frame_key(bytes(packet)))
                    if found is None:
                        unknown += 1
                        pending_unknown += 1
                        continue
                    if previous is None:
                        previous, pending_unknown = found[0], 0
                        continue
                    steps = [(position - previous) % length for position in found]
                    step = min(steps)
                    recorded += 1
                    if recorded > SESSION_START_FRAMES:
                        missing += max(0, step - 1 - pending_unknown)
                    previous, pending_unknown = found[steps.index(step)], 0
            except (av.error.FFmpegError, OSError):
                continue
    return missing, unknown


def probe_footage(phase: Phase, root: Path, cameras: dict[str, Path], clips: dict[Path, Any]) -> None:
    """Every segment file of the phase, probed (``record_bench.camera_footage``: lost and short files) and
    matched frame by frame to its clip (:func:`missing_frames`)."""
    for camera, clip in cameras.items():
        folder = root / camera
        paths = [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []
        positions, length = clips[clip]
        index = {key: places[0] for key, places in positions.items()}
        footage = camera_footage(camera, paths, None, time.time(), CLIP_FPS, index)
        missing, unknown = missing_frames([p for p in paths if p.suffix == ".mp4"], positions, length)
        phase.files += len(footage.files)
        phase.files_lost += footage.lost
        phase.files_short += footage.short
        phase.footage_missing_s += missing / CLIP_FPS
        if missing:
            phase.missing_by_camera[camera] = missing / CLIP_FPS
        phase.unknown_frames += unknown


def run_phase(
    args: argparse.Namespace,
    server: RtspServer,
    cameras: dict[str, Path],
    detect: int,
    work: Path,
    clips: dict[Path, Any],
) -> Phase:
    phase = Phase(detect)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    spec = {
        "cameras": [{"id": c, "url": server.url(c)} for c in cameras],
        "detect": list(cameras)[:detect],
        "fps": args.fps,
        "data_dir": str(work / "data"),
        "segment_seconds": args.segment_seconds,
        "media_cpus": args.media_cpus,
        "model": str(args.model),
        "backend": args.backend,
        "threads": args.detector_threads,
        "precision": args.precision,
        "kinds": args.kinds.split(","),
        "decode": args.decode,
        "detection_cpus": args.detection_cpus,
        "detection_nice": args.detection_nice,
        "detection_workers": args.detection_workers,
        "warmup_s": args.warmup_s,
        "seconds": args.seconds,
        "report": str(work / "report.json"),
    }
    spec_path = work / "spec.json"
    spec_path.write_text(json.dumps(spec))
    log_path = work / "station.log"
    with log_path.open("wb") as log:
        child = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "_child", str(spec_path)],
            stdout=subprocess.PIPE,
            stderr=log,
            cwd=REPO_ROOT,
        )
    assert child.stdout is not None
    try:
        for expected, timeout_s in (
            ("READY", READY_TIMEOUT_S),
            ("WINDOW", args.warmup_s + 60),
        ):
            line = record_bench._read_line(child.stdout, time.monotonic() + timeout_s)
            if line != expected:
                raise RuntimeError(f"expected {expected}, got {line!r}; see {log_path}")
        server0, system0 = process_cpu_s(server.pid) or 0.0, system_ticks()
        began = time.monotonic()
        line = record_bench._read_line(child.stdout, time.monotonic() + args.seconds + 60)
        if line != "END":
            raise RuntimeError(f"expected END, got {line!r}; see {log_path}")
        elapsed = time.monotonic() - began
        phase.server_cpu_pct = 100 * ((process_cpu_s(server.pid) or server0) - server0) / elapsed
        busy1, total1 = system_ticks()
        total = total1 - system0[1]
        phase.machine_busy_pct = 100 * (busy1 - system0[0]) / total * (os.cpu_count() or 1) if total else 0.0
        phase.load = load_average()
        reaped = wait_exit(child.pid, time.monotonic() + STOP_TIMEOUT_S)
        if reaped is None:
            raise RuntimeError(f"did not stop within {STOP_TIMEOUT_S:.0f} s")
        if os.waitstatus_to_exitcode(reaped[0]) != 0:
            raise RuntimeError(f"exit code {os.waitstatus_to_exitcode(reaped[0])}; see {log_path}")
    except RuntimeError as exc:
        phase.ok, phase.error = False, str(exc)
        if child.poll() is None:
            kill_and_reap(child.pid)
        return phase
    finally:
        child.stdout.close()
    summarize(phase, json.loads((work / "report.json").read_text()))
    recordings = work / "data" / "recordings"
    probe_footage(phase, recordings, cameras, clips)
    if not args.keep:
        shutil.rmtree(recordings, ignore_errors=True)
    return phase


def verdicts(phases: list[Phase], args: argparse.Namespace) -> dict[int, str]:
    """Per phase: carries / does not, and why, against the criterion in the module docstring."""
    base = next((p for p in phases if p.detect_cameras == 0 and p.ok), None)
    out: dict[int, str] = {}
    for phase in phases:
        reasons = []
        if not phase.ok:
            reasons.append(f"failed: {phase.error}")
        if not phase.kept_up(args.fps, args.keep_up):
            reasons.append(f"slowest camera {phase.analysed_fps_min:.2f} fps < {args.keep_up * args.fps:.2f}")
        if not phase.recording_lossless():
            reasons.append("recording lost footage")
        if base is not None and phase.rec_cpu_pct > base.rec_cpu_pct * (1 + args.rec_cpu_tolerance):
            reasons.append(f"recording CPU +{100 * (phase.rec_cpu_pct / base.rec_cpu_pct - 1):.0f} %")
        if base is None:
            reasons.append("no N=0 phase to compare recording CPU with")
        out[phase.detect_cameras] = "yes" if not reasons else "no: " + "; ".join(reasons)
    return out


def table(phases: list[Phase], args: argparse.Namespace) -> str:
    """Three markdown tables (recording, detection, CPU cost) and the verdict per phase."""
    verdict = verdicts(phases, args)
    base = next((p for p in phases if p.detect_cameras == 0 and p.ok), None)
    recording = [
        "| detecting cameras | recording threads CPU % of one core (vs N=0) | rec CPU s / stream / min "
        "| process CPU % | machine busy % (of 200) | RTSP server CPU % | load (1 min) "
        "| packets lost / reconnects / holes | segment files (lost / short) | footage missing s |",
        "|---:" * 10 + "|",
    ]
    detection = [
        f"| detecting cameras | decoded fps / cam | analysed fps / cam, mean; slowest (target {args.fps:g}) "
        "| dropped fps / cam | keyframes-only skips / s / cam | crops / frame | detector ms p50 / p95 "
        "| pipeline ms / frame (motion, detector, tracker, rules) | kept up | carries |",
        "|---:" * 8 + "|---|---|",
    ]
    cost = [
        "| detecting cameras | decoder threads CPU % | worker CPU % | decode CPU ms / picture "
        f"| worker CPU ms / frame | CPU ms / s / camera (all pictures decoded, {args.fps:g} fps analysed) "
        f"| cameras {100 * args.budget:.0f} % of the detection CPU carries by that cost |",
        "|---:" * 7 + "|",
    ]
    for p in phases:
        versus = (
            f" ({100 * (p.rec_cpu_pct / base.rec_cpu_pct - 1):+.0f} %)" if base and base.rec_cpu_pct else ""
        )
        recording.append(
            f"| {p.detect_cameras} | {p.rec_cpu_pct:.1f}{versus} | {p.rec_cpu_s_per_stream_min:.3f} "
            f"| {p.process_cpu_pct:.1f} | {p.machine_busy_pct:.0f} | {p.server_cpu_pct:.0f} "
            f"| {p.load[0]:.1f} | {p.lost_upstream} / {p.reconnects} / {p.holes} "
            f"| {p.files} ({p.files_lost} / {p.files_short}) | {p.footage_missing_s:.1f} |"
        )
        if not p.detect_cameras:
            continue
        detection.append(
            f"| {p.detect_cameras} | {p.decoded_fps:.1f} | {p.analysed_fps:.2f}; {p.analysed_fps_min:.2f} "
            f"| {p.dropped_fps:.2f} | {p.skipped_overload_fps:.1f} | {p.crops_per_frame:.2f} "
            f"| {p.detector_p50_ms:.1f} / {p.detector_p95_ms:.1f} | {sum(p.stage_ms_per_frame.values()):.1f} "
            f"| {'yes' if p.kept_up(args.fps, args.keep_up) else 'no'} | {verdict[p.detect_cameras]} |"
        )
        cost.append(
            f"| {p.detect_cameras} | {p.decoders_cpu_pct:.1f} | {p.worker_cpu_pct:.1f} "
            f"| {p.decode_cpu_ms:.2f} | {p.worker_cpu_ms:.1f} | {p.camera_cost_ms(args.fps):.0f} "
            f"| {p.estimated_cameras(args.fps, args.budget):.1f} |"
        )
    carried = [p.detect_cameras for p in phases if verdict[p.detect_cameras] == "yes" and p.detect_cameras]
    base_line = f"N=0: {verdict[0]}\n\n" if 0 in verdict and verdict[0] != "yes" else ""
    return (
        "\n".join(recording)
        + "\n\n"
        + "\n".join(detection)
        + "\n\n"
        + "\n".join(cost)
        + f"\n\n{base_line}Carries: {max(carried, default=0)} camera(s) at {args.fps:g} fps "
        "(the largest N that passed)\n"
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("mode capacity")
    group.add_argument("--record-cameras", type=int, default=32, help="cameras recorded (default 32)")
    group.add_argument(
        "--detect-cameras", default="0,4,8,12,16", help="phases: cameras with detection, comma-separated"
    )
    group.add_argument("--seconds", type=float, default=60.0, help="measured window per phase (default 60)")
    group.add_argument("--warmup-s", type=float, default=15.0, help="after start, before the window")
    group.add_argument(
        "--segment-seconds", type=int, default=10, help="recording.segment_seconds (default 10)"
    )
    group.add_argument("--media-cpus", default="auto", help="recording.media_cpus: auto (default) or all")
    group.add_argument("--backend", default="auto", help="detection.backend (default auto)")
    group.add_argument("--detector-threads", type=int, default=1, help="detection.threads (default 1)")
    group.add_argument(
        "--precision", choices=("f32", "auto"), default="f32", help="detection.precision (default f32)"
    )
    group.add_argument(
        "--kinds", default="motion,person", help="detection kinds on the detecting cameras (motion,person)"
    )
    group.add_argument("--model", type=Path, default=MODEL, help="detection.model_path (its FP32 copy runs)")
    group.add_argument(
        "--decode",
        choices=("all", "keyframes"),
        default="all",
        help="keyframes: the decoders decode keyframes only, as they do when detection is behind",
    )
    group.add_argument(
        "--detection-cpus",
        choices=("free", "all"),
        default="all",
        help="detection.cpus: all (the station's default: every CPU, at --detection-nice) or free (only "
        "the CPUs the media threads leave)",
    )
    group.add_argument(
        "--detection-nice", type=int, default=10, help="detection.nice of the detection threads (10)"
    )
    group.add_argument(
        "--detection-workers",
        type=lambda v: v if v == "auto" else int(v),
        default="auto",
        help="detection.workers: worker threads (auto: one per detection CPU)",
    )
    group.add_argument("--keep-up", type=float, default=0.9, help="analysed share of --fps that counts")
    group.add_argument("--rec-cpu-tolerance", type=float, default=0.10, help="recording CPU vs N=0")
    group.add_argument(
        "--budget", type=float, default=0.9, help="share of the detection CPUs the estimate may use (0.9)"
    )
    group.add_argument("--data", type=Path, default=Path("/tmp/detect-capacity"), help="work folder")
    group.add_argument("--keep", action="store_true", help="keep the recordings")


def bench_capacity(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Mode ``capacity``: one phase per entry of ``--detect-cameras``; returns each phase's figures."""
    reason = missing_reason()
    if reason is not None:
        raise SystemExit(f"cannot run: {reason}")
    counts = [int(n) for n in args.detect_cameras.split(",") if n.strip()]
    if any(n < 0 or n > args.record_cameras for n in counts):
        raise SystemExit(f"--detect-cameras: each between 0 and --record-cameras ({args.record_cameras})")
    record_bench.SEGMENT_SECONDS = args.segment_seconds  # read by camera_footage ("short" files)
    cameras = {f"cam{i:02d}": CLIPS[(i - 1) % len(CLIPS)] for i in range(1, args.record_cameras + 1)}
    clips = {clip: clip_positions(clip) for clip in CLIPS}
    args.data.mkdir(parents=True, exist_ok=True)
    print(
        f"command: `{shlex.join(['.venv/bin/python', 'bench/detect_bench.py', *sys.argv[1:]])}`\n"
        f"{args.record_cameras} cameras recorded ({', '.join(c.name for c in CLIPS)} in turn), "
        f"detection at {args.fps:g} fps on N of them, model {args.model.name} (FP32 copy), backend "
        f"{args.backend}, {args.detector_threads} detector thread(s) ({args.precision}), kinds "
        f"{args.kinds}, decode {args.decode}, detection CPUs {args.detection_cpus} at nice "
        f"{args.detection_nice}, {args.detection_workers} worker(s), media CPUs "
        f"{args.media_cpus}, {args.segment_seconds} s segments, window {args.seconds:.0f} s after "
        f"{args.warmup_s:.0f} s warm-up",
        flush=True,
    )
    server = RtspServer(cameras, log_dir=args.data)
    server.start()
    phases: list[Phase] = []
    try:
        for count in counts:
            print(f"  phase N={count}: running ...", file=sys.stderr, flush=True)
            phase = run_phase(args, server, cameras, count, args.data / f"phase-{count}", clips)
            phases.append(phase)
            print(
                f"  phase N={count}: rec CPU {phase.rec_cpu_pct:.1f} %, detection {phase.det_cpu_pct:.1f} %, "
                f"analysed {phase.analysed_fps:.2f} fps/cam (slowest {phase.analysed_fps_min:.2f}), "
                f"lost {phase.lost_upstream}, load {phase.load[0]:.2f}"
                + (f", FAILED: {phase.error}" if not phase.ok else ""),
                file=sys.stderr,
                flush=True,
            )
            time.sleep(3)  # let the server tear the sessions down
    finally:
        server.stop()
    print()
    print(table(phases, args))
    if phases and phases[-1].detector:
        print(f"detector: {phases[-1].detector}")
    for phase in phases:
        print(f"N={phase.detect_cameras}: threads' CPUs (Cpus_allowed_list by name) {phase.affinity}")
    return [asdict(p) for p in phases]


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "_child":
        raise SystemExit(child_main(Path(sys.argv[2])))
    raise SystemExit("run through bench/detect_bench.py --mode capacity")
