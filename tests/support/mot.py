"""Ground truth of the shared MOTChallenge-style clip, and box matching for precision / recall."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from detection.box import iou_matrix


def load_mot_ground_truth(path: Path) -> dict[int, list[tuple[int, tuple[float, float, float, float]]]]:
    """``{decoded frame index: [(person id, (x1, y1, x2, y2)), ...]}``; MOT rows are 1-based frames."""
    out: dict[int, list[tuple[int, tuple[float, float, float, float]]]] = {}
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        f, pid, x, y, w, h = (float(v) for v in line.split(",")[:6])
        out.setdefault(int(f) - 1, []).append((int(pid), (x, y, x + w, y + h)))
    return out


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / max(self.tp + self.fp, 1)

    @property
    def recall(self) -> float:
        return self.tp / max(self.tp + self.fn, 1)


def match_frame(
    pred: NDArray[np.float32], truth: NDArray[np.float32], counts: Counts, iou: float = 0.5
) -> None:
    """Greedy one-to-one matching at ``iou`` (best pairs first), added to ``counts``."""
    overlap = iou_matrix(pred.reshape(-1, 4), truth.reshape(-1, 4))
    matched = 0
    used_p: set[int] = set()
    used_t: set[int] = set()
    if overlap.size:
        for flat in np.argsort(-overlap, axis=None):
            p, t = divmod(int(flat), overlap.shape[1])
            if overlap[p, t] < iou:
                break
            if p in used_p or t in used_t:
                continue
            used_p.add(p)
            used_t.add(t)
            matched += 1
    counts.tp += matched
    counts.fp += pred.shape[0] - matched
    counts.fn += truth.shape[0] - matched
