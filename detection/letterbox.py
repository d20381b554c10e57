"""Fit an image into the model's square input without distortion, and map boxes back."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from detection.box import FloatArray
from detection.frame import Image

PAD_VALUE = 114  # the grey Ultralytics pads with


@dataclass(frozen=True, slots=True)
class Letterbox:
    """How a source image was placed in the model input: input = source * scale + pad."""

    scale: float
    pad_x: int
    pad_y: int

    def to_source(self, xyxy: FloatArray, source_size: tuple[int, int]) -> FloatArray:
        """Boxes in model-input pixels → source pixels, clipped to the source (width, height)."""
        out = xyxy.copy()
        out[:, [0, 2]] = (out[:, [0, 2]] - self.pad_x) / self.scale
        out[:, [1, 3]] = (out[:, [1, 3]] - self.pad_y) / self.scale
        width, height = source_size
        out[:, [0, 2]] = np.clip(out[:, [0, 2]], 0, width)
        out[:, [1, 3]] = np.clip(out[:, [1, 3]], 0, height)
        return out


def letterbox(image: Image, input_size: tuple[int, int]) -> tuple[Image, Letterbox]:
    """Resize ``image`` (BGR) to fit ``input_size`` (width, height) keeping its aspect, centred on grey."""
    in_w, in_h = input_size
    height, width = image.shape[:2]
    scale = min(in_w / width, in_h / height)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(image, (new_w, new_h), interpolation=interpolation)
    pad_x, pad_y = (in_w - new_w) // 2, (in_h - new_h) // 2
    canvas = np.full((in_h, in_w, 3), PAD_VALUE, np.uint8)
    canvas[pad_y : pad_y + new_h, pad_x : pad_x + new_w] = resized
    return canvas, Letterbox(scale=scale, pad_x=pad_x, pad_y=pad_y)


def to_tensor(canvas: Image) -> np.ndarray:
    """BGR uint8 (h, w, 3) → RGB float32 (1, 3, h, w) in 0..1, the layout YOLO exports take."""
    rgb = canvas[:, :, ::-1]
    return np.ascontiguousarray(rgb.transpose(2, 0, 1)[None], dtype=np.float32) / np.float32(255.0)
