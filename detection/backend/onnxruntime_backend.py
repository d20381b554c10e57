"""ONNX Runtime on the CPU. One session serves every thread: ``InferenceSession.run`` is thread-safe, and
with ``intra_op_num_threads`` 1 each call runs on its caller's thread. Always float32 (``precision`` is
OpenVINO's choice only)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray

from detection.backend.base import BackendOptions
from detection.error import BackendUnavailableError, ModelError


class OnnxRuntimeBackend:
    name = "onnxruntime"
    precision = "f32"

    def __init__(self, path: Path, options: BackendOptions) -> None:
        session_options = ort.SessionOptions()
        session_options.intra_op_num_threads = options.threads
        session_options.inter_op_num_threads = 1
        session_options.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(
                str(path), sess_options=session_options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:
            raise ModelError(f"{path}: onnxruntime cannot load it as a model: {_first_line(exc)}") from exc
        inputs = self._session.get_inputs()
        if len(inputs) != 1:
            raise ModelError(f"{path}: expected one image input, found {len(inputs)}")
        self._input_name = inputs[0].name
        self.input_shape = tuple(d if isinstance(d, int) else -1 for d in inputs[0].shape)
        self.metadata = dict(self._session.get_modelmeta().custom_metadata_map)

    def run(self, tensor: NDArray[np.float32]) -> NDArray[np.float32]:
        outputs = self._session.run(None, {self._input_name: tensor})
        return np.asarray(outputs[0], dtype=np.float32)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


def load(path: Path, options: BackendOptions) -> OnnxRuntimeBackend:
    if path.suffix.lower() != ".onnx":
        raise BackendUnavailableError(f"onnxruntime reads .onnx files, not {path.suffix or 'this file'}")
    return OnnxRuntimeBackend(path, options)
