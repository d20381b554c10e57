"""The one input type of detection: a decoded picture from one camera at one moment."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
from numpy.typing import NDArray

from detection.error import FrameError

Image = NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class Frame:
    """A BGR ``uint8`` image of shape (height, width, 3) from ``camera`` taken at ``ts_utc``."""

    camera: str
    ts_utc: datetime
    image: Image

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
