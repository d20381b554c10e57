"""Events: what the pipeline hands on when a rule closes an episode."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import cv2
import numpy as np

from detection.box import xyxy_to_xywh
from detection.frame import Image


@dataclass(frozen=True, slots=True)
class DetectionEvent:
    """One finished event of one camera; times are seconds since the epoch (UTC) as the frames had them."""

    camera: str
    kind: str
    zone: str | None
    start_t_s: float
    end_t_s: float
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 source pixels at the best moment
    score: float
    track: int | None
    best_t_s: float
    snapshot_jpeg: bytes | None = None
    detail: tuple[tuple[str, object], ...] = ()

    @property
    def start_utc(self) -> datetime:
        return datetime.fromtimestamp(self.start_t_s, UTC)

    @property
    def end_utc(self) -> datetime:
        return datetime.fromtimestamp(self.end_t_s, UTC)

    def as_json(self, origin_t_s: float = 0.0) -> dict[str, object]:
        """The ``station analyze --json`` line: times in seconds from ``origin_t_s`` (the file's start)."""
        return {
            "kind": self.kind,
            "camera": self.camera,
            "zone": self.zone,
            "start_s": round(self.start_t_s - origin_t_s, 2),
            "end_s": round(self.end_t_s - origin_t_s, 2),
            "box": xyxy_to_xywh(list(self.box)),
            "score": round(self.score, 3),
            "track": self.track,
            **{_relative_key(k): _relative(k, v, origin_t_s) for k, v in self.detail},
        }


def render_snapshot(
    image: Image,
    box: tuple[float, float, float, float],
    *,
    path: object = None,
    quality: int = 85,
) -> bytes:
    """JPEG of ``image`` with ``box`` drawn (the review queue's thumbnail and the event's picture), and
    ``path`` (a list of [x, y] points: where the owner of a left object came from and went) as a line."""
    canvas = image.copy()
    if isinstance(path, list) and len(path) >= 2:
        points = np.asarray([p for p in path if isinstance(p, list | tuple) and len(p) == 2], np.int32)
        if len(points) >= 2:
            cv2.polylines(canvas, [points.reshape(-1, 1, 2)], False, (0, 0, 0), 5)
            cv2.polylines(canvas, [points.reshape(-1, 1, 2)], False, (255, 200, 0), 2)
            cv2.circle(canvas, tuple(int(v) for v in points[0]), 6, (255, 200, 0), -1)
    x1, y1, x2, y2 = (round(v) for v in box)
    thickness = max(2, round(max(image.shape[:2]) / 400))
    cv2.rectangle(canvas, (x1, y1), (x2, y2), (0, 0, 0), thickness + 2)
    cv2.rectangle(canvas, (x1, y1), (x2, y2), (0, 200, 255), thickness)
    ok, data = cv2.imencode(".jpg", canvas, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("snapshot could not be encoded as JPEG")
    return bytes(np.asarray(data).tobytes())


def _relative_key(key: str) -> str:
    """Detail times are kept as ``*_t_s`` (epoch seconds); the JSON line gives them as ``*_s`` from the
    file's start, like ``start_s``."""
    return key[: -len("_t_s")] + "_s" if key.endswith("_t_s") else key


def _relative(key: str, value: object, origin_t_s: float) -> object:
    if key.endswith("_t_s") and isinstance(value, int | float):
        return round(float(value) - origin_t_s, 2)
    return value
