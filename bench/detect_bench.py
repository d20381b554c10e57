"""Benchmark: milliseconds per stage of the detection frame path, per backend, precision, model and threads.

Usage (from the repository root)::

    .venv/bin/python bench/detect_bench.py [--mode clips] [--fps 5] [--repeats 2] [--clips pets09,room]
        [--models yolo11n,yolov8n] [--precisions int8,fp32] [--backends onnxruntime,openvino]
        [--threads 1,2] [--json /tmp/detect_bench.json]
    .venv/bin/python bench/detect_bench.py --mode capacity [--fps 5] [--record-cameras 32]
        [--detect-cameras 0,4,8,12,16] [--seconds 60] [--decode all|keyframes] [--json ...]

Mode ``capacity`` (``bench/detect_capacity.py``, whose docstring says what it measures): the cameras the
station carries at ``--fps`` with person detection while it records 32 RTSP cameras, one phase per count.

Mode ``clips`` (the default): each shared clip is decoded at ``--fps`` and every sampled frame goes
through a fresh :class:`detection.pipeline.CameraPipeline` (kinds motion and person, whole frame, no zones,
snapshots on, detector at ``min_score = CANDIDATE_SCORE``), once per combination of

- model: ``yolo11n`` (320 px input) and ``yolov8n`` (640 px), the shared files in ``../shared/models``;
- precision: ``int8``, the shared dynamic-INT8 file as it is, and ``fp32``, its FP32 copy
  (:func:`detection.dequantize.fp32_copy`, made once in a temporary folder);
- backend: ``onnxruntime`` and ``openvino`` (FP32 inference precision);
- inference threads: 1 and 2.

Per analysed frame it reports the mean milliseconds of each stage: decode (the time spent inside
:func:`streams.frame_sampler.iter_file_frames` to hand out the frame, including the frames it decodes and
skips), then the pipeline's own stage clocks (motion, detector, tracker, rules). The detector stage is
averaged over all frames, also those on which the motion gate and the regions let it skip; its median and
95th percentile are over the frames where it ran (one ``detect()`` call, which runs the model once per
region crop). The motion gate and the regions decide how often that is: "detect() per frame" and "crops
per frame"; "ms per crop" is the detector stage's whole time over the crops (one model run with its
letterbox, decode and NMS). CPU ms per frame is the process's CPU time (all threads: decoder, inference)
over the run.

Every combination runs ``--repeats`` times, the order reversed on every other round; the table shows each
combination's run with the lowest total and the totals of all its runs (the spread). Detector models are
loaded and warmed up (3 calls on a blank frame) before each timed run.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from detection.dequantize import fp32_copy  # noqa: E402
from detection.detector import load_detector  # noqa: E402
from detection.frame import Frame  # noqa: E402
from detection.pipeline import CANDIDATE_SCORE, STAGES, CameraPipeline  # noqa: E402
from streams.frame_sampler import SampledFrame, iter_file_frames  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import detect_capacity  # noqa: E402

SHARED = REPO_ROOT.parent / "shared"
CLIPS = {
    "pets09": SHARED / "media" / "pets09_s2l1_campus.mp4",
    "room": SHARED / "media" / "room_one_by_one.mp4",
}
MODELS = {
    "yolo11n": SHARED / "models" / "yolo11n_int8.onnx",
    "yolov8n": SHARED / "models" / "yolov8n_int8.onnx",
}
PRECISIONS = ("int8", "fp32")
BACKENDS = ("onnxruntime", "openvino")
ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)
WARM_UP_CALLS = 3


@dataclass(frozen=True)
class Combination:
    clip: str
    model: str
    precision: str
    backend: str
    threads: int


@dataclass(frozen=True)
class Run:
    """One pass over a clip; milliseconds are means per analysed frame unless named otherwise."""

    combination: Combination
    frames: int
    detect_calls: int  # frames on which the detector ran
    crops: int  # model runs (one per region)
    detector_p50_ms: float  # per detect() call
    detector_p95_ms: float
    stage_ms: dict[str, float]  # decode, motion, detector, tracker, rules
    total_ms: float  # wall time of the whole pass per frame
    cpu_ms: float  # process CPU time per frame (all threads)
    load: float  # the machine's 1-minute load average when the pass ended


def _timed(frames: Iterator[SampledFrame]) -> Iterator[tuple[SampledFrame, float]]:
    """Each frame with the seconds ``iter_file_frames`` took to hand it out (decode, skips, conversion)."""
    while True:
        began = time.perf_counter()
        sampled = next(frames, None)
        spent = time.perf_counter() - began
        if sampled is None:
            return
        yield sampled, spent


def run_clip(combination: Combination, model: Path, clip: Path, fps: float) -> Run:
    """Decode ``clip`` at ``fps`` and put every frame through a fresh pipeline; returns its times."""
    detector = load_detector(
        model, backend=combination.backend, threads=combination.threads, min_score=CANDIDATE_SCORE
    )
    blank = np.zeros((480, 640, 3), np.uint8)
    for _ in range(WARM_UP_CALLS):
        detector.detect(blank)
    pipeline = CameraPipeline(
        combination.clip,
        kinds={"motion", "person"},
        zones=[],
        timezone=ZoneInfo("UTC"),
        detector=detector,
        fps=fps,
    )
    decode_s = 0.0
    frames = 0
    wall, cpu = time.perf_counter(), time.process_time()
    for sampled, spent in _timed(iter_file_frames(clip, fps)):
        decode_s += spent
        frames += 1
        at = datetime.fromtimestamp(ORIGIN.timestamp() + sampled.ts_s, UTC)
        pipeline.process(Frame(combination.clip, at, sampled.image))
    wall_s, cpu_s = time.perf_counter() - wall, time.process_time() - cpu
    times = pipeline.times
    per_frame = 1000 / max(frames, 1)
    stage_ms = {"decode": decode_s * per_frame} | {k: times.seconds[k] * per_frame for k in STAGES}
    p50, p95 = np.percentile(times.detector_ms, [50, 95]) if times.detector_ms else (0.0, 0.0)
    return Run(
        combination=combination,
        frames=frames,
        detect_calls=len(times.detector_ms),
        crops=times.detector_calls,
        detector_p50_ms=float(p50),
        detector_p95_ms=float(p95),
        stage_ms=stage_ms,
        total_ms=wall_s * per_frame,
        cpu_ms=cpu_s * per_frame,
        load=os.getloadavg()[0],
    )


def _choice(text: str, known: tuple[str, ...] | list[str], what: str) -> list[str]:
    chosen = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [c for c in chosen if c not in known]
    if unknown or not chosen:
        raise SystemExit(f"--{what}: {', '.join(unknown) or 'nothing'} not known (known: {', '.join(known)})")
    return chosen


def _model_files(models: list[str], precisions: list[str], cache_dir: Path) -> dict[tuple[str, str], Path]:
    """The file each (model, precision) runs from: the shared INT8 file, or its FP32 copy."""
    files = {}
    for model in models:
        for precision in precisions:
            source = MODELS[model]
            files[model, precision] = fp32_copy(source, cache_dir) if precision == "fp32" else source
    return files


def machine_facts() -> str:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return f"{os.cpu_count()} CPUs ({cpu}); load average {os.getloadavg()[0]:.2f} (1 min)"


def _row(best: Run, runs: list[Run]) -> str:
    c = best.combination
    per = 1 / max(best.frames, 1)
    stages = " | ".join(f"{best.stage_ms[k]:.1f}" for k in ("decode", *STAGES))
    totals = " / ".join(f"{r.total_ms:.1f}" for r in runs)
    return (
        f"| {c.clip} | {c.model} | {c.precision} | {c.backend} | {c.threads} | {best.frames} | "
        f"{best.detect_calls * per:.2f} | {best.crops * per:.2f} | {best.detector_p50_ms:.1f} | "
        f"{best.detector_p95_ms:.1f} | {best.stage_ms['detector'] * best.frames / max(best.crops, 1):.1f} | "
        f"{stages} | {best.total_ms:.1f} | {best.cpu_ms:.1f} | {totals} |"
    )


def bench_clips(args: argparse.Namespace) -> list[Run]:
    """Mode ``clips``: the shared clips through the pipeline, every combination ``--repeats`` times."""
    clips = _choice(args.clips, list(CLIPS), "clips")
    models = _choice(args.models, list(MODELS), "models")
    precisions = _choice(args.precisions, PRECISIONS, "precisions")
    backends = _choice(args.backends, BACKENDS, "backends")
    threads = [int(t) for t in _choice(args.threads, ("1", "2", "3", "4"), "threads")]
    combinations = [
        Combination(*values) for values in itertools.product(clips, models, precisions, backends, threads)
    ]
    runs: dict[Combination, list[Run]] = {c: [] for c in combinations}
    with tempfile.TemporaryDirectory(prefix="detect-bench-") as cache_dir:
        files = _model_files(models, precisions, Path(cache_dir))
        for repeat in range(args.repeats):
            for combination in combinations if repeat % 2 == 0 else combinations[::-1]:
                run = run_clip(
                    combination,
                    files[combination.model, combination.precision],
                    CLIPS[combination.clip],
                    args.fps,
                )
                runs[combination].append(run)
                print(
                    f"  round {repeat + 1}: {combination.clip} {combination.model} "
                    f"{combination.precision} {combination.backend} {combination.threads}t: "
                    f"{run.total_ms:.1f} ms/frame, detector p50 {run.detector_p50_ms:.1f} ms, "
                    f"load {run.load:.1f}",
                    file=sys.stderr,
                    flush=True,
                )
    stages = " | ".join(f"{k} ms" for k in ("decode", *STAGES))
    print(
        f"\n| clip | model | precision | backend | threads | frames | detect() per frame | crops per frame | "
        f"detector p50 ms | detector p95 ms | ms per crop | {stages} | total ms/frame | CPU ms/frame | "
        "total, every run |\n" + "|---" * (15 + len(STAGES)) + "|"
    )
    for combination in combinations:
        best = min(runs[combination], key=lambda r: r.total_ms)
        print(_row(best, runs[combination]), flush=True)
    spread = [
        max(r.detector_p50_ms for r in rs) / max(min(r.detector_p50_ms for r in rs), 1e-9) - 1
        for rs in runs.values()
        if len(rs) > 1
    ]
    if spread:
        print(
            f"\ndetector p50, slowest run over fastest of the same combination: median "
            f"+{100 * statistics.median(spread):.0f} %, worst +{100 * max(spread):.0f} %"
        )
    return [r for rs in runs.values() for r in rs]


def _clips_json(args: argparse.Namespace) -> list[dict[str, Any]]:
    return [asdict(r) for r in bench_clips(args)]


# One entry per mode; each takes the parsed arguments and returns every run it measured, as JSON values.
MODES: dict[str, Callable[[argparse.Namespace], list[dict[str, Any]]]] = {
    "clips": _clips_json,
    "capacity": detect_capacity.bench_capacity,
}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mode", choices=sorted(MODES), default="clips")
    parser.add_argument("--fps", type=float, default=5.0, help="analysed frames per second")
    parser.add_argument("--repeats", type=int, default=2, help="runs per combination")
    parser.add_argument("--clips", default=",".join(CLIPS))
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--precisions", default=",".join(PRECISIONS))
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--threads", default="1,2", help="inference threads, comma-separated")
    parser.add_argument("--json", type=Path, help="write every run here")
    detect_capacity.add_arguments(parser)
    args = parser.parse_args()
    began = datetime.now(UTC)
    print(f"run started {began:%Y-%m-%d %H:%M} UTC; {machine_facts()}", flush=True)
    runs = MODES[args.mode](args)
    print(f"run ended {datetime.now(UTC):%H:%M} UTC; load average {os.getloadavg()[0]:.2f} (1 min)")
    if args.json is not None:
        args.json.write_text(json.dumps(runs, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
