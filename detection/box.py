"""Boxes as a struct of arrays (the shape of supervision's ``Detections``): one row per object.

Coordinates are ``x1, y1, x2, y2`` in source pixels, ``float32``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float32]
IntArray = NDArray[np.int32]


@dataclass(frozen=True, slots=True)
class Detections:
    """Detected objects in one frame: ``xyxy`` (N, 4), ``score`` (N,), ``class_id`` (N,)."""

    xyxy: FloatArray
    score: FloatArray
    class_id: IntArray

    def __post_init__(self) -> None:
        n = self.xyxy.shape[0]
        if self.xyxy.shape != (n, 4) or self.score.shape != (n,) or self.class_id.shape != (n,):
            raise ValueError(
                f"inconsistent detections: xyxy {self.xyxy.shape}, score {self.score.shape}, "
                f"class_id {self.class_id.shape}"
            )

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4), np.float32), np.zeros((0,), np.float32), np.zeros((0,), np.int32))

    @classmethod
    def concat(cls, parts: list[Detections]) -> Detections:
        if not parts:
            return cls.empty()
        return cls(
            np.concatenate([p.xyxy for p in parts]).astype(np.float32),
            np.concatenate([p.score for p in parts]).astype(np.float32),
            np.concatenate([p.class_id for p in parts]).astype(np.int32),
        )

    def __len__(self) -> int:
        return int(self.xyxy.shape[0])

    def select(self, mask: NDArray[np.bool_] | NDArray[np.intp]) -> Detections:
        return Detections(self.xyxy[mask], self.score[mask], self.class_id[mask])

    def of_class(self, class_id: int) -> Detections:
        return self.select(self.class_id == class_id)


def box_area(xyxy: FloatArray) -> FloatArray:
    w = np.clip(xyxy[:, 2] - xyxy[:, 0], 0, None)
    h = np.clip(xyxy[:, 3] - xyxy[:, 1], 0, None)
    return np.asarray(w * h, np.float32)


def iou_matrix(a: FloatArray, b: FloatArray) -> FloatArray:
    """Intersection over union of every box in ``a`` (N, 4) with every box in ``b`` (M, 4): (N, M)."""
    if a.shape[0] == 0 or b.shape[0] == 0:
        return np.zeros((a.shape[0], b.shape[0]), np.float32)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    union = box_area(a)[:, None] + box_area(b)[None, :] - inter
    return np.asarray(np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0), np.float32)


def xyxy_to_xywh(box: FloatArray | list[float]) -> list[float]:
    """One ``[x1, y1, x2, y2]`` box as ``[x, y, w, h]`` rounded to 0.1 px (the event format)."""
    x1, y1, x2, y2 = (float(v) for v in box)
    return [round(x1, 1), round(y1, 1), round(x2 - x1, 1), round(y2 - y1, 1)]
