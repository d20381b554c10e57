"""Non-maximum suppression, per class, done once for every backend."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from detection.box import FloatArray, IntArray, box_area


def plan_nms(
    xyxy: FloatArray, score: FloatArray, class_id: IntArray, *, iou_threshold: float = 0.45
) -> NDArray[np.intp]:
    """Indices of the boxes kept, best score first; a box is dropped when it overlaps a better box of the
    same class by more than ``iou_threshold``."""
    if xyxy.shape[0] == 0:
        return np.zeros((0,), np.intp)
    # Offset each class far apart so one greedy pass keeps classes independent (the batched-NMS trick).
    offset = class_id.astype(np.float32)[:, None] * (float(xyxy.max()) + 1.0)
    boxes = xyxy + offset
    areas = box_area(boxes)
    order = np.argsort(-score, kind="stable")
    keep: list[int] = []
    while order.size:
        best = int(order[0])
        keep.append(best)
        rest = order[1:]
        x1 = np.maximum(boxes[best, 0], boxes[rest, 0])
        y1 = np.maximum(boxes[best, 1], boxes[rest, 1])
        x2 = np.minimum(boxes[best, 2], boxes[rest, 2])
        y2 = np.minimum(boxes[best, 3], boxes[rest, 3])
        inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
        iou = inter / np.maximum(areas[best] + areas[rest] - inter, 1e-9)
        order = rest[iou <= iou_threshold]
    return np.asarray(keep, dtype=np.intp)
