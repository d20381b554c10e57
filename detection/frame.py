"""The one input type of detection: a decoded picture from one camera at one moment."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np
from numpy.typing import NDArray

from detection.error import FrameError

Image = NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class Frame:
    """A BGR ``uint8`` image of shape (height, width, 3) from ``camera`` taken at ``ts_utc``.

    ``discontinuity`` says why this frame may not continue the camera's previous one (its source's words:
    "reconnect", "gap", "backwards", "resize", "start"), None when it does: the pipeline then starts the
    camera's state that assumes a continuous picture afresh (backgrounds, motion reference, tracks)."""

    camera: str
    ts_utc: datetime
    image: Image
    discontinuity: str | None = None

    def __post_init__(self) -> None:
        if self.ts_utc.tzinfo is None:
            raise FrameError(f"{self.camera}: frame timestamp must be timezone-aware UTC")
        shape = self.image.shape
        if len(shape) != 3 or shape[2] != 3 or shape[0] < 8 or shape[1] < 8:
            raise FrameError(f"{self.camera}: frame must be a BGR image (h, w, 3), got shape {shape}")

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return int(self.image.shape[1]), int(self.image.shape[0])

    @property
    def t_s(self) -> float:
        """Seconds since the epoch: the clock every rule runs on."""
        return self.ts_utc.timestamp()


def keep_mark(dropped: Frame, kept: Frame) -> Frame:
    """``kept`` carrying ``dropped``'s discontinuity mark when it has none of its own: a frame dropped before
    it was analysed must not take the news of a break in the stream with it."""
    if dropped.discontinuity is None or kept.discontinuity is not None:
        return kept
    return replace(kept, discontinuity=dropped.discontinuity)
