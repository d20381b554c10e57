"""Letterbox, decode and NMS against boxes we placed ourselves."""

from __future__ import annotations

import numpy as np
import pytest

from detection.error import ModelError
from detection.letterbox import letterbox, to_tensor
from detection.yolo import decode_yolo


def test_letterbox_places_the_image_centred_and_maps_boxes_back() -> None:
    image = np.zeros((576, 768, 3), np.uint8)
    canvas, placement = letterbox(image, (320, 320))
    assert canvas.shape == (320, 320, 3)
    assert placement.scale == pytest.approx(320 / 768)
    assert (placement.pad_x, placement.pad_y) == (0, 40)
    model_box = np.asarray([[40.0, 60.0, 80.0, 140.0]], np.float32)
    source = placement.to_source(model_box, (768, 576))
    assert np.allclose(source, [[96.0, 48.0, 192.0, 240.0]], atol=0.01)


def test_tensor_is_rgb_planar_0_to_1() -> None:
    canvas = np.zeros((4, 4, 3), np.uint8)
    canvas[..., 0] = 255  # blue in BGR
    tensor = to_tensor(canvas)
    assert tensor.shape == (1, 3, 4, 4)
    assert tensor[0, 2].max() == 1.0 and tensor[0, 0].max() == 0.0


def _raw(anchors: list[tuple[float, float, float, float, int, float]], classes: int = 80) -> np.ndarray:
    out = np.zeros((1, 4 + classes, len(anchors)), np.float32)
    for i, (cx, cy, w, h, cls, score) in enumerate(anchors):
        out[0, :4, i] = (cx, cy, w, h)
        out[0, 4 + cls, i] = score
    return out


def test_decode_takes_the_best_class_and_the_threshold() -> None:
    raw = _raw([(100, 100, 20, 40, 0, 0.9), (200, 50, 10, 10, 24, 0.3), (10, 10, 4, 4, 0, 0.1)])
    found = decode_yolo(raw, num_classes=80, min_score=0.2)
    assert len(found) == 2
    assert np.allclose(found.xyxy[0], [90, 80, 110, 120])
    assert found.class_id.tolist() == [0, 24]


def test_decode_accepts_the_transposed_layout() -> None:
    raw = _raw([(100, 100, 20, 40, 0, 0.9)]).transpose(0, 2, 1)
    assert len(decode_yolo(np.ascontiguousarray(raw), num_classes=80, min_score=0.2)) == 1


def test_decode_refuses_an_output_that_does_not_fit_the_classes() -> None:
    with pytest.raises(ModelError, match="does not fit 80 classes"):
        decode_yolo(np.zeros((1, 10, 100), np.float32), num_classes=80, min_score=0.2)
