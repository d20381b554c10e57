"""Benchmark: what the smoking rule costs, per person crop and per frame with 2 and 8 people, at its rate.

Usage (from the repository root)::

    .venv/bin/python bench/smoking_bench.py [--repeats 40] [--seconds 20] [--fps 5] [--json /tmp/s.json]

Needs the key-point models (``.ci/setup`` extracts them) and ``../shared/media/room_one_by_one.mp4``: its
frame at 36 s shows one person at the table, 370 px tall, the real crop every measurement runs on. OpenVINO
runs each model on one thread (as the station does: the detection worker is one thread).

1. **Per crop**: each model stage timed alone over ``--repeats`` runs (median and 95th percentile): the
   pose (256² crop around the person), the face detector (128² head crop), one hand (re-crop 256² plus hand
   landmarks 224²); then a look as the rule takes it at anyone large enough (pose + face), and a look with
   both hands (what a person the rule can judge costs at most: the hand model runs only for them, and only
   for a hand the pose puts near the mouth).
2. **Per frame**: frames of 1920×1080 with 2 or 8 copies of that person side by side (each ~460 px tall),
   fed at ``--fps`` for ``--seconds`` to a :class:`detection.smoking_rule.SmokingRule` with the real models,
   one track per copy, the rule's default limits (``max_people`` a frame, ``station_looks_per_s`` for the
   whole station, here all spent on this one camera). Three cases: *idle* (hands away from the face:
   ``idle_rate_fps``), *watching* (a hand near every face: ``rate_fps`` for all; pose + face, as the person
   is seen from behind) and *worst* (watching, and both hands on every look). Reported: the rule's mean and
   95th-percentile milliseconds per frame, looks per frame and per-look cost, and its CPU per camera-second
   against the detection budget of 16 cameras on this machine (2 cores: 125 ms of CPU per camera-second,
   all stages included).
3. **Too small**: the same 8 people at 120 px cost the rule no model at all (reported for completeness).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import cv2
import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from detection.frame import Image  # noqa: E402
from detection.keypoints import (  # noqa: E402
    HAND_POINTS,
    BodyKeypoints,
    KeypointModels,
    find_keypoint_models_dir,
)
from detection.motion import Motion  # noqa: E402
from detection.rule import Observation  # noqa: E402
from detection.smoking_rule import SmokingConfig, SmokingRule  # noqa: E402
from detection.track import Track  # noqa: E402
from detection.zone import ZoneSpec  # noqa: E402
from streams.frame_sampler import iter_file_frames  # noqa: E402

CLIP = REPO_ROOT.parent / "shared" / "media" / "room_one_by_one.mp4"
AT_S = 36.0
PERSON = (382.0, 7.0, 542.0, 375.0)
WINDOW = (302, 0, 622, 432)  # the person with the background the pose crop takes around them
BUDGET_MS_PER_CAMERA_S = 2 * 1000 / 16  # 2 cores shared by 16 cameras
EPOCH = 1_764_000_000.0


def _frame() -> Image:
    for sampled in iter_file_frames(CLIP, 2.0):
        if sampled.ts_s >= AT_S:
            return sampled.image
    raise SystemExit(f"{CLIP} is shorter than {AT_S} s")


def _scene(
    source: Image, count: int, person_px: int
) -> tuple[Image, list[tuple[float, float, float, float]]]:
    """``count`` copies of the person in a 1920×1080 frame (4 to a row), each ``person_px`` tall."""
    x1, y1, x2, y2 = WINDOW
    window = source[y1:y2, x1:x2]
    scale = person_px / (PERSON[3] - PERSON[1])
    tile = cv2.resize(window, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    canvas = np.full((1080, 1920, 3), 200, np.uint8)
    boxes = []
    for i in range(count):
        left, top = 480 * (i % 4) + 40, 540 * (i // 4) + 20
        h, w = tile.shape[:2]
        h, w = min(h, 1080 - top), min(w, 1920 - left)
        canvas[top : top + h, left : left + w] = tile[:h, :w]
        px1 = left + (PERSON[0] - x1) * scale
        py1 = top + (PERSON[1] - y1) * scale
        boxes.append((px1, py1, px1 + (PERSON[2] - PERSON[0]) * scale, py1 + person_px))
    return canvas, boxes


def _timed(run: Callable[[], object], repeats: int) -> tuple[float, float]:
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), float(np.percentile(times, 95))


def per_crop(models: KeypointModels, image: Image, repeats: int) -> dict[str, tuple[float, float]]:
    pose = models._estimate_pose(image, PERSON)
    return {
        "pose (256²)": _timed(lambda: models._estimate_pose(image, PERSON), repeats),
        "face detector (128²)": _timed(lambda: models._find_face(image, pose, PERSON), repeats),
        "one hand (re-crop + 224²)": _timed(
            lambda: models._estimate_hand(image, pose.points, HAND_POINTS[1]), repeats
        ),
        "a look: pose + face": _timed(lambda: models.estimate(image, PERSON, hands_within=None), repeats),
        "a look with both hands": _timed(lambda: models.estimate(image, PERSON, hands_within=100.0), repeats),
    }


class _AllHands:
    """The real models, looking at both hands on every look (the worst case)."""

    def __init__(self, models: KeypointModels) -> None:
        self._models = models

    def estimate(
        self, image: Image, xyxy: tuple[float, float, float, float], *, hands_within: float | None = 0.8
    ) -> BodyKeypoints:
        return self._models.estimate(image, xyxy, hands_within=100.0)

    def with_hands(self, image: Image, body: BodyKeypoints, *, within: float = 0.8) -> BodyKeypoints:
        return body


def per_frame(
    models: KeypointModels,
    source: Image,
    count: int,
    mode: str,
    *,
    fps: float,
    seconds: float,
    person_px: int,
) -> dict[str, float]:
    image, boxes = _scene(source, count, person_px)
    config = SmokingConfig()
    params = {} if mode == "idle" else {"smoking.idle_rate_fps": config.rate_fps}
    estimator = _AllHands(models) if mode == "worst" else models
    rule = SmokingRule([ZoneSpec()], ZoneInfo("UTC"), estimator=estimator, params=params)
    tracks = tuple(Track(i + 1, box, 0.9, "person", EPOCH) for i, box in enumerate(boxes))
    times = []
    cpu0 = time.process_time()
    frames = round(seconds * fps)
    for i in range(frames):
        t = EPOCH + i / fps
        obs = Observation(t, datetime.fromtimestamp(t, UTC), (1920, 1080), tracks, Motion.none(), image=image)
        start = time.perf_counter()
        rule.update(obs)
        times.append((time.perf_counter() - start) * 1000)
    cpu_ms = (time.process_time() - cpu0) * 1000
    looks = rule.measurable().looks
    mean = statistics.fmean(times)
    return {
        "people": count,
        "ms_per_frame_mean": round(mean, 2),
        "ms_per_frame_p95": round(float(np.percentile(times, 95)), 2),
        "looks_per_frame": round(looks / frames, 2),
        "ms_per_look": round(sum(times) / looks, 2) if looks else 0.0,
        "cpu_ms_per_camera_s": round(cpu_ms / seconds, 1),
        "share_of_camera_budget": round(cpu_ms / seconds / BUDGET_MS_PER_CAMERA_S, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=40)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--fps", type=float, default=5.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    directory = find_keypoint_models_dir()
    if directory is None:
        raise SystemExit("key-point models not installed: run .ci/setup")
    if not CLIP.is_file():
        raise SystemExit(f"{CLIP} not found (../shared/media)")
    models = KeypointModels(directory, threads=1)
    source = _frame()
    crop = per_crop(models, source, args.repeats)
    print(f"Per crop (one person, {PERSON[3] - PERSON[1]:.0f} px tall; ms, median / p95, one thread):")
    for name, (p50, p95) in crop.items():
        print(f"  {name:<36} {p50:6.1f} / {p95:6.1f}")
    rows: list[dict[str, object]] = []
    for mode in ("idle", "watching", "worst"):
        for count in (2, 8):
            row = per_frame(models, source, count, mode, fps=args.fps, seconds=args.seconds, person_px=460)
            rows.append({"mode": mode, **row})
    small = per_frame(models, source, 8, "worst", fps=args.fps, seconds=args.seconds, person_px=120)
    rows.append({"mode": "too small (120 px)", **small})
    print(f"\nPer frame at {args.fps:g} fps over {args.seconds:g} s (rule.update, real models):")
    print(
        "  mode                people  ms/frame mean  p95   looks/frame  ms/look  CPU ms/camera-s  "
        "share of 16-camera budget"
    )
    for line in rows:
        print(
            f"  {line['mode']!s:<19} {line['people']!s:>6}  {line['ms_per_frame_mean']!s:>13}  "
            f"{line['ms_per_frame_p95']!s:>5}  {line['looks_per_frame']!s:>11}  {line['ms_per_look']!s:>7}  "
            f"{line['cpu_ms_per_camera_s']!s:>15}  {line['share_of_camera_budget']!s:>6}"
        )
    if args.json:
        payload = {"per_crop": {k: {"p50": v[0], "p95": v[1]} for k, v in crop.items()}, "per_frame": rows}
        args.json.write_text(json.dumps(payload, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
