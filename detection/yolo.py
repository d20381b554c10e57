"""Decode the raw output of a YOLO detection export (Ultralytics v8/11 head, no NMS inside)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from detection.box import Detections
from detection.error import ModelError


def decode_yolo(output: NDArray[np.float32], *, num_classes: int, min_score: float) -> Detections:
    """``output`` (1, 4 + C, N) or (1, N, 4 + C) with rows ``cx, cy, w, h, score_0..score_C-1`` in input
    pixels → boxes (x1, y1, x2, y2) in input pixels above ``min_score`` (best class per anchor)."""
    if output.ndim != 3 or output.shape[0] != 1:
        raise ModelError(f"unexpected detector output shape {output.shape}: expected (1, 4+classes, anchors)")
    rows = 4 + num_classes
    if output.shape[1] == rows:
        pred = output[0].T
    elif output.shape[2] == rows:
        pred = output[0]
    else:
        raise ModelError(
            f"detector output shape {output.shape} does not fit {num_classes} classes "
            f"(expected {rows} values per anchor)"
        )
    scores = pred[:, 4:]
    class_id = scores.argmax(axis=1)
    best = scores[np.arange(scores.shape[0]), class_id]
    keep = best >= min_score
    if not keep.any():
        return Detections.empty()
    cx, cy, w, h = (pred[keep, i] for i in range(4))
    xyxy = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1).astype(np.float32)
    return Detections(xyxy, best[keep].astype(np.float32), class_id[keep].astype(np.int32))
