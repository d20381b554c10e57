"""Per-camera motion gate on a small grey frame (after Frigate's improved motion detector).

Cheap enough for every analysed frame (under 1 ms at SD, docs/benchmarks.md): the frame is shrunk to
``height_px`` rows, masked, contrast stretched and blurred, and compared with a running average. Changed
pixels become boxes in source pixels that tell the detector where to look. When most of the frame changes at
once (lights switched, IR day/night switch, auto exposure) the detector recalibrates: the average is reset
to the current frame and no motion is reported for that frame, so a global change is never an event.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from numpy.typing import NDArray

from detection.box import FloatArray
from detection.frame import Image

Polygon = list[tuple[float, float]]
_KERNEL = np.ones((3, 3), np.uint8)


@dataclass(frozen=True, slots=True)
class MotionConfig:
    """Motion gate parameters (names as in ``station analyze --param motion.NAME=VALUE``)."""

    height_px: int = 100  # working height of the grey frame
    threshold: int = 30  # grey-level change that counts as motion
    contour_area: int = 10  # smallest changed blob, in working pixels
    frame_alpha: float = 0.02  # weight of the newest frame in the running average
    recalibrate_share: float = 0.6  # changed share of the frame that means a global change
    calibration_frames: int = 3  # frames after a recalibration that report no motion


@dataclass(frozen=True, slots=True)
class Motion:
    """What moved in one frame: boxes in source pixels and the changed share of the unmasked frame."""

    boxes: FloatArray
    share: float
    calibrating: bool = False

    @classmethod
    def none(cls, *, calibrating: bool = False) -> Motion:
        return cls(np.zeros((0, 4), np.float32), 0.0, calibrating)

    def __bool__(self) -> bool:
        return bool(self.boxes.shape[0] > 0)


@dataclass
class MotionDetector:
    """Stateful motion gate for one camera. ``masks`` are polygons in frame fractions (0..1) never
    watched (a clock overlay, a tree, a road beyond the fence)."""

    config: MotionConfig = field(default_factory=MotionConfig)
    masks: list[Polygon] = field(default_factory=list)
    _average: NDArray[np.float32] | None = None
    _mask: NDArray[np.uint8] | None = None
    _size: tuple[int, int] = (0, 0)
    _quiet_frames: int = 0
    recalibrations: int = 0

    def restart(self) -> None:
        """Calibrate again from the next frame (a stream discontinuity: the last picture is no reference)."""
        self._average = None

    def detect(self, image: Image) -> Motion:
        height, width = image.shape[:2]
        work_h = min(self.config.height_px, height)
        work_w = max(1, round(width * work_h / height))
        if (width, height) != self._size:
            # First frame or a camera that changed resolution: start again at the new size.
            self._size = (width, height)
            self._mask = _mask_image(self.masks, (work_w, work_h))
            self._average = None
        grey = np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), np.uint8)
        # Linear, as Frigate does: area averaging cost 0.4 ms a frame here and the blur below smooths anyway.
        small = np.asarray(cv2.resize(grey, (work_w, work_h), interpolation=cv2.INTER_LINEAR), np.uint8)
        current = np.asarray(cv2.GaussianBlur(_stretch(small), (3, 3), 0), np.float32)
        if self._average is None:
            self._average = current
            self._quiet_frames = self.config.calibration_frames
            return Motion.none(calibrating=True)
        delta = cv2.absdiff(current, self._average)
        cv2.accumulateWeighted(current, self._average, self.config.frame_alpha)
        changed = (delta > self.config.threshold).astype(np.uint8) * np.uint8(255)
        assert self._mask is not None
        changed = np.asarray(cv2.bitwise_and(changed, self._mask), np.uint8)
        unmasked = max(1, int(np.count_nonzero(self._mask)))
        share = float(np.count_nonzero(changed)) / unmasked
        if share > self.config.recalibrate_share:
            self._average = current
            self._quiet_frames = self.config.calibration_frames
            self.recalibrations += 1
            return Motion.none(calibrating=True)
        if self._quiet_frames > 0:
            self._quiet_frames -= 1
            self._average = (self._average + current) * np.float32(0.5)
            return Motion.none(calibrating=True)
        changed = np.asarray(cv2.dilate(changed, _KERNEL, iterations=2), np.uint8)
        contours, _ = cv2.findContours(changed, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        sx, sy = width / work_w, height / work_h
        rects = [cv2.boundingRect(c) for c in contours if cv2.contourArea(c) >= self.config.contour_area]
        boxes = [(x * sx, y * sy, (x + w) * sx, (y + h) * sy) for x, y, w, h in rects]
        if not boxes:
            return Motion(np.zeros((0, 4), np.float32), share)
        return Motion(np.asarray(boxes, np.float32), share)


def _stretch(grey: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """Contrast stretch between the 4th and 96th percentile, so a dim night picture moves like a day one."""
    low, high = np.percentile(grey, (4, 96))
    if high - low < 8:
        return grey
    scaled = (grey.astype(np.float32) - low) * (255.0 / (high - low))
    return np.asarray(np.clip(scaled, 0, 255), np.uint8)


def _mask_image(masks: list[Polygon], size: tuple[int, int]) -> NDArray[np.uint8]:
    width, height = size
    out = np.full((height, width), 255, np.uint8)
    for polygon in masks:
        points = np.asarray([(x * width, y * height) for x, y in polygon], np.int32)
        cv2.fillPoly(out, [points], 0)
    return out
