from __future__ import annotations

import numpy as np

from detection.box import iou_matrix, xyxy_to_xywh
from detection.nms import plan_nms


def _arr(rows: list[list[float]]) -> np.ndarray:
    return np.asarray(rows, np.float32).reshape(-1, 4)


def test_overlapping_boxes_of_one_class_keep_the_best() -> None:
    boxes = _arr([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]])
    scores = np.asarray([0.6, 0.9, 0.5], np.float32)
    keep = plan_nms(boxes, scores, np.zeros(3, np.int32), iou_threshold=0.45)
    assert keep.tolist() == [1, 2]


def test_overlapping_boxes_of_different_classes_both_stay() -> None:
    boxes = _arr([[0, 0, 10, 10], [0, 0, 10, 10]])
    keep = plan_nms(boxes, np.asarray([0.9, 0.8], np.float32), np.asarray([0, 24], np.int32))
    assert sorted(keep.tolist()) == [0, 1]


def test_no_boxes() -> None:
    assert plan_nms(_arr([]), np.zeros(0, np.float32), np.zeros(0, np.int32)).size == 0


def test_iou_matrix_known_values() -> None:
    a = _arr([[0, 0, 10, 10]])
    b = _arr([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]])
    assert np.allclose(iou_matrix(a, b), [[1.0, 50 / 150, 0.0]])


def test_event_box_format_is_x_y_w_h() -> None:
    assert xyxy_to_xywh([10, 20, 40, 100]) == [10.0, 20.0, 30.0, 80.0]
