"""Benchmark: the littering rule on composited positives, the shared negatives, a sensitivity grid, and its
cost per frame.

Usage (from the repository root)::

    .venv/bin/python bench/littering_bench.py [--data /tmp/littering-bench] [--grid] [--cost]

Positives are made by ``tests.support.littering_clips`` (objects composited into the shared campus clip at
an annotated pedestrian's feet; ground truth from the annotations) and analysed with ``station analyze
--kinds littering``. A positive passes when exactly one littering event overlaps the object with IoU >= 0.5
and starts no earlier than the condition (static ``dwell_s`` AND owner away ``owner_away_s``) less 2 s and
no later than 10 s after it. ``--grid`` runs both shared clips with each main parameter one step up and one
step down and counts littering events (all must be 0). ``--cost`` times the rule alone (static-object model
and rule, no detector) per frame at 640 px wide, 5 fps.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from tests.support.littering_clips import CASES, make_case  # noqa: E402
from tests.support.paths import MEDIA_DIR  # noqa: E402

GRID = {
    "littering.dwell_s": (20, 40),
    "littering.owner_away_s": (10, 20),
    "littering.owner_distance_h": (1.0, 2.0),
    "littering.static_s": (2, 4),
    "littering.diff_threshold": (18, 30),
    "littering.min_area_frac": (0.0002, 0.0008),
    "littering.noise_factor": (3, 5),
}


def analyze(video: Path, *params: str) -> list[dict[str, object]]:
    args = [str(REPO_ROOT / ".venv/bin/station"), "analyze", str(video), "--json", "--kinds", "littering"]
    for param in params:
        args += ["--param", param]
    result = subprocess.run(args, capture_output=True, text=True, check=True, cwd=REPO_ROOT)
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def iou(a: list[float], b: list[float]) -> float:
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def positives(data: Path) -> None:
    print("| case | condition s | events | alarm s | IoU | owner track | verdict |")
    print("|---|---|---|---|---|---|---|")
    passed = 0
    for case in CASES:
        video, truth = make_case(
            case, MEDIA_DIR / "pets09_s2l1_campus.mp4", MEDIA_DIR / "pets09_s2l1_campus.gt.txt", data
        )
        events = [e for e in analyze(video) if e["kind"] == "littering"]
        best = max(events, key=lambda e: iou(e["box"], truth.box), default=None)  # type: ignore[arg-type]
        ok = (
            len(events) == 1
            and best is not None
            and iou(best["box"], truth.box) >= 0.5  # type: ignore[arg-type]
            and truth.condition_s - 2 <= float(best["start_s"]) <= truth.condition_s + 10  # type: ignore[arg-type]
        )
        passed += ok
        alarm = "-" if best is None else best["start_s"]
        overlap = "-" if best is None else f"{iou(best['box'], truth.box):.2f}"  # type: ignore[arg-type]
        owner = "-" if best is None else best["track"]
        print(
            f"| {case.name} | {truth.condition_s} | {len(events)} | {alarm} | {overlap} | {owner} | "
            f"{'pass' if ok else 'FAIL'} |"
        )
    print(f"\n{passed} of {len(CASES)} positives pass")


def grid() -> None:
    clips = [MEDIA_DIR / "pets09_s2l1_campus.mp4", MEDIA_DIR / "room_one_by_one.mp4"]
    print("| parameter | value | pets09 | room |")
    print("|---|---|---|---|")
    for name, values in GRID.items():
        for value in values:
            counts = [sum(e["kind"] == "littering" for e in analyze(c, f"{name}={value}")) for c in clips]
            print(f"| {name} | {value} | {counts[0]} | {counts[1]} |")


def cost() -> None:
    import cv2
    import numpy as np

    from detection.static_object import StaticObjectModel
    from streams.frame_sampler import iter_file_frames

    frames = [
        cv2.resize(f.image, (640, 480)) for f in iter_file_frames(MEDIA_DIR / "pets09_s2l1_campus.mp4", 5)
    ]
    model = StaticObjectModel()
    timings = []
    for index, frame in enumerate(frames):
        started = time.perf_counter()
        model.update(np.asarray(frame, np.uint8), index * 0.2, [], [])
        timings.append((time.perf_counter() - started) * 1000)
    print(
        f"static-object model at 640x480, 5 fps: median {np.median(timings):.2f} ms, "
        f"p95 {np.percentile(timings, 95):.2f} ms per frame ({len(frames)} frames)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=Path("/tmp/littering-bench"))
    parser.add_argument("--grid", action="store_true")
    parser.add_argument("--cost", action="store_true")
    args = parser.parse_args()
    positives(args.data)
    if args.grid:
        grid()
    if args.cost:
        cost()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
