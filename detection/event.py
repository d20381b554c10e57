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
            **dict(self.detail),
        }


def render_snapshot(image: Image, box: tuple[float, float, float, float], *, quality: int = 85) -> bytes:
    """JPEG of ``image`` with ``box`` drawn (the review queue's thumbnail and the event's picture)."""
    canvas = image.copy()
    x1, y1, x2, y2 = (round(v) for v in box)
    thickness = max(2, round(max(image.shape[:2]) / 400))
    cv2.rectangle(canvas, (x1, y1), (x2, y2), (0, 0, 0), thickness + 2)
    cv2.rectangle(canvas, (x1, y1), (x2, y2), (0, 200, 255), thickness)
    ok, data = cv2.imencode(".jpg", canvas, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("snapshot could not be encoded as JPEG")
    return bytes(np.asarray(data).tobytes())
