"""The protocol every inference backend satisfies."""

from __future__ import annotations

from typing import Protocol

import numpy as np
from numpy.typing import NDArray


class InferenceBackend(Protocol):
    """A loaded model that maps one input tensor (1, 3, h, w) float32 to its first output."""

    name: str
    metadata: dict[str, str]
    input_shape: tuple[int, ...]

    def run(self, tensor: NDArray[np.float32]) -> NDArray[np.float32]: ...
