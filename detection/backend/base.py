"""The protocol every inference backend satisfies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
from numpy.typing import NDArray

Precision = Literal["f32", "auto"]


@dataclass(frozen=True, slots=True)
class BackendOptions:
    """How a backend runs a model: ``threads`` CPU threads per inference; ``run`` called from up to
    ``parallel`` threads at once; ``precision`` "f32" (always float32) or "auto" (the fastest the CPU computes
    natively: bfloat16 on CPUs with AMX or AVX-512 BF16, else float32; for backends that choose)."""

    threads: int = 1
    parallel: int = 1
    precision: Precision = "f32"

    def __post_init__(self) -> None:
        if self.threads < 1 or self.parallel < 1:
            raise ValueError("threads and parallel must be >= 1")


class InferenceBackend(Protocol):
    """A loaded model that maps one input tensor (1, 3, h, w) float32 to its first output. ``run`` is safe to
    call from as many threads at once as the backend was loaded for (``parallel``)."""

    name: str
    precision: str  # what it computes in: "f32", "bf16"
    metadata: dict[str, str]
    input_shape: tuple[int, ...]

    def run(self, tensor: NDArray[np.float32]) -> NDArray[np.float32]: ...
