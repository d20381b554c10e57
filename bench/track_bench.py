"""Benchmark: multi-object tracking on the shared PETS09 clip, scored with py-motmetrics.

Usage (from the repository root)::

    .venv/bin/python bench/track_bench.py [--model ../shared/models/yolo11n_int8.onnx] [--backend auto]
        [--fps 5] [--threads 2]

The clip is decoded at ``--fps`` (:func:`streams.frame_sampler.iter_file_frames`); each sampled frame is
scored against the ground truth of the decoded frame it is (index ``round(ts_s * 10)``: the clip runs at
10 fps). The detector (an INT8 file runs from its FP32 copy, made in a temporary folder) looks at every
whole frame once at ``min_score = detection.pipeline.CANDIDATE_SCORE``; its person boxes are kept and fed,
identical, to each tracker:

``bytetrack``
    :class:`detection.tracker.ObjectTracker` as the pipeline builds it (Roboflow's ByteTrack plus the
    stationary logic, tracker defaults): confirmed tracks only.
``iou``
    The classic greedy IoU tracker: each detection takes the previous frame's track whose box overlaps it
    most (IoU >= 0.3, best pairs first), otherwise a new id; a track unmatched for one frame ends. Run on
    all candidates (>= CANDIDATE_SCORE) and on the detections a new track needs (>= the tracker's
    ``activation_score``), as the baseline has no second threshold of its own.
``detections``
    The detections >= ``activation_score`` with no tracking: precision, recall and MOTP only.
``pipeline``
    What the station reports: the tracks of a :class:`detection.pipeline.CameraPipeline` (motion gate,
    detector on regions only, tracker, rules) fed the same frames.

Matching per frame as MOTChallenge does (py-motmetrics): distance 1 - IoU, pairs above 0.5 excluded
(IoU >= 0.5 to match). MOTP is that distance's mean over matches (lower is better). py-motmetrics 1.4's own
``iou_matrix`` uses ``np.asfarray`` (gone in numpy 2), so the distances come from
:func:`detection.box.iou_matrix`.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import motmetrics as mm
import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from detection.box import Detections, FloatArray, iou_matrix  # noqa: E402
from detection.detector import PERSON, ObjectDetector, load_detector  # noqa: E402
from detection.frame import Frame  # noqa: E402
from detection.pipeline import CANDIDATE_SCORE, CameraPipeline  # noqa: E402
from detection.tracker import ObjectTracker, TrackerConfig  # noqa: E402
from streams.frame_sampler import iter_file_frames  # noqa: E402
from tests.support.mot import load_mot_ground_truth  # noqa: E402

SHARED = REPO_ROOT.parent / "shared"
CLIP = SHARED / "media" / "pets09_s2l1_campus.mp4"
TRUTH = SHARED / "media" / "pets09_s2l1_campus.gt.txt"
CLIP_FPS = 10  # the clip's own rate: decoded frame index = round(ts_s * 10)
MATCH_IOU = 0.5
ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)
METRICS = [
    "mota",
    "idf1",
    "num_switches",
    "num_fragmentations",
    "precision",
    "recall",
    "motp",
    "num_false_positives",
    "num_misses",
    "mostly_tracked",
    "mostly_lost",
    "num_unique_objects",
]

Truth = dict[int, list[tuple[int, tuple[float, float, float, float]]]]
Hypotheses = list[tuple[int, FloatArray]]  # per frame: (ids, boxes) as one array each


@dataclass
class SampledDetections:
    """One sampled frame: its decoded frame index and the detector's person boxes (whole frame)."""

    frame_index: int
    ts_s: float
    found: Detections


@dataclass
class GreedyIouTracker:
    """The classic IoU tracker: greedy matching to the previous frame's boxes only, no motion model."""

    iou_threshold: float = 0.3
    _boxes: FloatArray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    _ids: list[int] = field(default_factory=list)
    _next_id: int = 1

    def update(self, xyxy: FloatArray) -> list[int]:
        """The id of each box in ``xyxy`` (its row order)."""
        overlap = iou_matrix(xyxy, self._boxes)
        ids = [0] * xyxy.shape[0]
        used: set[int] = set()
        if overlap.size:
            for flat in np.argsort(-overlap, axis=None, kind="stable"):
                row, col = divmod(int(flat), overlap.shape[1])
                if overlap[row, col] < self.iou_threshold:
                    break
                if ids[row] or col in used:
                    continue
                ids[row] = self._ids[col]
                used.add(col)
        for row, track_id in enumerate(ids):
            if not track_id:
                ids[row] = self._next_id
                self._next_id += 1
        self._boxes, self._ids = xyxy, ids
        return ids


def detect_and_run_pipeline(
    detector: ObjectDetector, clip: Path, fps: float
) -> tuple[list[SampledDetections], list[tuple[list[int], FloatArray]], CameraPipeline, float]:
    """Decode once; per frame, the detector on the whole frame (cached) and the pipeline's tracks."""
    person = detector.info.class_id(PERSON)
    pipeline = CameraPipeline(
        "campus",
        kinds={"motion", "person"},
        zones=[],
        timezone=ZoneInfo("UTC"),
        detector=detector,
        fps=fps,
        snapshots=False,
    )
    cache: list[SampledDetections] = []
    station: list[tuple[list[int], FloatArray]] = []
    began = time.perf_counter()
    for sampled in iter_file_frames(clip, fps):
        found = detector.detect(sampled.image)
        if person is not None:
            found = found.of_class(person)
        cache.append(SampledDetections(round(sampled.ts_s * CLIP_FPS), sampled.ts_s, found))
        pipeline.process(
            Frame("campus", datetime.fromtimestamp(ORIGIN.timestamp() + sampled.ts_s, UTC), sampled.image)
        )
        tracks = pipeline.tracks
        station.append(
            ([t.track_id for t in tracks], np.asarray([t.xyxy for t in tracks], np.float32).reshape(-1, 4))
        )
    return cache, station, pipeline, time.perf_counter() - began


def run_bytetrack(
    cache: list[SampledDetections], class_names: tuple[str, ...], fps: float
) -> list[tuple[list[int], FloatArray]]:
    tracker = ObjectTracker(class_names, TrackerConfig(), fps=fps)
    out = []
    for sample in cache:
        tracks = tracker.update(sample.found, sample.ts_s)
        out.append(
            ([t.track_id for t in tracks], np.asarray([t.xyxy for t in tracks], np.float32).reshape(-1, 4))
        )
    return out


def run_iou(cache: list[SampledDetections], min_score: float) -> list[tuple[list[int], FloatArray]]:
    tracker = GreedyIouTracker()
    out = []
    for sample in cache:
        boxes = sample.found.xyxy[sample.found.score >= min_score]
        out.append((tracker.update(boxes), boxes))
    return out


def run_detections(cache: list[SampledDetections], min_score: float) -> list[tuple[list[int], FloatArray]]:
    """Detections with a fresh id each (identity metrics are meaningless for this row)."""
    out = []
    next_id = 1
    for sample in cache:
        boxes = sample.found.xyxy[sample.found.score >= min_score]
        out.append((list(range(next_id, next_id + boxes.shape[0])), boxes))
        next_id += boxes.shape[0]
    return out


def score(truth: Truth, frames: list[int], hypotheses: list[tuple[list[int], FloatArray]], name: str) -> Any:
    """py-motmetrics summary (one row) for the hypotheses of each sampled frame."""
    accumulator = mm.MOTAccumulator(auto_id=True)
    for frame_index, (ids, boxes) in zip(frames, hypotheses, strict=True):
        rows = truth.get(frame_index, [])
        truth_boxes = np.asarray([box for _, box in rows], np.float32).reshape(-1, 4)
        distance = 1.0 - iou_matrix(truth_boxes, boxes).astype(np.float64)
        distance[distance > 1.0 - MATCH_IOU] = np.nan
        accumulator.update([pid for pid, _ in rows], ids, distance)
    return mm.metrics.create().compute(accumulator, metrics=METRICS, name=name)


@dataclass(frozen=True)
class Variant:
    name: str
    hypotheses: Callable[[], list[tuple[list[int], FloatArray]]]
    identity: bool = True  # whether ids mean anything (MOTA, IDF1, ID switches)


def _row(name: str, summary: Any, hypotheses: list[tuple[list[int], FloatArray]], identity: bool) -> str:
    values = summary.iloc[0]
    ids = len({i for frame_ids, _ in hypotheses for i in frame_ids})

    def ident(text: str) -> str:
        return text if identity else "–"

    return (
        f"| {name} | {ident(f'{values.mota:.3f}')} | {ident(f'{values.idf1:.3f}')} | "
        f"{ident(str(int(values.num_switches)))} | {ident(str(int(values.num_fragmentations)))} | "
        f"{values.precision:.3f} | {values.recall:.3f} | {values.motp:.3f} | "
        f"{int(values.num_false_positives)} | {int(values.num_misses)} | {ident(str(ids))} | "
        f"{ident(f'{int(values.mostly_tracked)} / {int(values.mostly_lost)}')} |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, default=SHARED / "models" / "yolo11n_int8.onnx")
    parser.add_argument("--backend", default="auto", choices=["auto", "onnxruntime", "openvino"])
    parser.add_argument("--fps", type=float, default=5.0, help="analysed frames per second")
    parser.add_argument("--threads", type=int, default=2, help="detector threads")
    parser.add_argument("--precision", default="f32", choices=["f32", "auto"], help="detector precision")
    parser.add_argument("--clip", type=Path, default=CLIP)
    parser.add_argument("--truth", type=Path, default=TRUTH, help="MOT ground truth (1-based frames)")
    args = parser.parse_args()
    truth = load_mot_ground_truth(args.truth)
    config = TrackerConfig()
    with tempfile.TemporaryDirectory(prefix="track-bench-") as cache_dir:
        detector = load_detector(
            args.model,
            backend=args.backend,
            threads=args.threads,
            precision=args.precision,
            min_score=CANDIDATE_SCORE,
            fp32_cache_dir=Path(cache_dir),
        )
        fp32 = detector.info.runs_from != detector.info.path
        print(
            f"model {args.model.name} (runs from {'an FP32 copy' if fp32 else 'itself'}), "
            f"input {detector.info.input_size[0]}x{detector.info.input_size[1]}, backend "
            f"{detector.info.backend}, {args.threads} threads, {detector.info.precision}, min_score "
            f"{CANDIDATE_SCORE}; load average {os.getloadavg()[0]:.2f}",
            flush=True,
        )
        cache, station, pipeline, seconds = detect_and_run_pipeline(detector, args.clip, args.fps)
    frames = [sample.frame_index for sample in cache]
    gt_boxes = sum(len(truth.get(f, [])) for f in frames)
    print(
        f"{len(cache)} frames at {args.fps:g} fps (decoded frames {frames[0]}..{frames[-1]}), {gt_boxes} "
        f"ground-truth boxes; detector + pipeline {seconds:.1f} s; pipeline: "
        f"{pipeline.times.detector_calls} detector crops on {len(pipeline.times.detector_ms)} frames",
        flush=True,
    )
    activation = config.activation_score
    variants = [
        Variant(
            "ByteTrack + stationary (ObjectTracker, defaults)",
            lambda: run_bytetrack(cache, detector.info.class_names, args.fps),
        ),
        Variant(
            f"greedy IoU tracker, detections >= {CANDIDATE_SCORE}", lambda: run_iou(cache, CANDIDATE_SCORE)
        ),
        Variant(f"greedy IoU tracker, detections >= {activation}", lambda: run_iou(cache, activation)),
        Variant(f"detections >= {activation}, no tracking", lambda: run_detections(cache, activation), False),
        Variant("CameraPipeline (motion gate + regions + tracker)", lambda: station),
    ]
    print(
        "\n| tracker | MOTA | IDF1 | ID switches | fragmentations | precision | recall | MOTP (1-IoU) "
        "| FP | FN | track ids | mostly tracked / lost |\n|---|---|---|---|---|---|---|---|---|---|---|---|"
    )
    for variant in variants:
        hypotheses = variant.hypotheses()
        summary = score(truth, frames, hypotheses, variant.name)
        print(_row(variant.name, summary, hypotheses, variant.identity), flush=True)
    objects = len({pid for f in frames for pid, _ in truth.get(f, [])})
    print(f"\nground-truth people in the sampled frames: {objects}; IoU >= {MATCH_IOU} to match")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
