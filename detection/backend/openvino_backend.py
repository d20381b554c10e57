"""OpenVINO on the CPU (reads .onnx directly, or an IR .xml with its .bin).

Precision ``f32`` (default) computes in float32; ``auto`` lets OpenVINO compute in the fastest precision the
CPU has natively: bfloat16 on CPUs with AMX or AVX-512 BF16 (about 1.7x less CPU per frame for yolo11n
320 px on the bench machine and the same people found on pets09, but more identity switches:
docs/benchmarks.md), float32 on the rest (most desktop CPUs).

An inference request is not thread-safe: each calling thread gets its own, and the model is compiled with
one execution stream per thread that may call it (``parallel``), so they run side by side. A thread creates
its request and runs its first inference one at a time with the others: two threads making their first
calls at once deadlocked in OpenVINO's Python binding (a C++ static initialiser waiting for the interpreter
lock that the other thread held), found by pinning both to one CPU."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import openvino as ov
from numpy.typing import NDArray

from detection.backend.base import BackendOptions
from detection.error import BackendUnavailableError, ModelError


class OpenVinoBackend:
    name = "openvino"

    def __init__(self, path: Path, options: BackendOptions) -> None:
        core = ov.Core()
        try:
            model = core.read_model(str(path))
        except Exception as exc:
            raise ModelError(f"{path}: OpenVINO cannot read it as a model: {_first_line(exc)}") from exc
        if len(model.inputs) != 1:
            raise ModelError(f"{path}: expected one image input, found {len(model.inputs)}")
        shape = model.inputs[0].get_partial_shape()
        self.input_shape = tuple(d.get_length() if d.is_static else -1 for d in shape)
        self.metadata = _metadata(model, path)
        config: dict[str, Any] = {
            "INFERENCE_NUM_THREADS": options.threads * options.parallel,
            "NUM_STREAMS": options.parallel,
            "PERFORMANCE_HINT": "LATENCY",
            # OpenVINO pins its inference threads by default, which also resets the calling thread's allowed
            # CPUs to all of them: the detector would then run on the CPUs kept for recording
            # (recording.media_cpus). The station places its threads itself.
            "ENABLE_CPU_PINNING": False,
        }
        if options.precision == "f32":
            config["INFERENCE_PRECISION_HINT"] = "f32"
        try:
            self._compiled = core.compile_model(model, "CPU", config)
        except Exception as exc:
            raise ModelError(f"{path}: OpenVINO cannot compile it: {_first_line(exc)}") from exc
        self.precision = str(self._compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name())
        self._local = threading.local()
        self._first_use = threading.Lock()

    def run(self, tensor: NDArray[np.float32]) -> NDArray[np.float32]:
        request = getattr(self._local, "request", None)
        if request is None:
            with self._first_use:  # see the module docstring
                request = self._compiled.create_infer_request()
                output = self._infer(request, tensor)
                self._local.request = request
                return output
        return self._infer(request, tensor)

    def _infer(self, request: Any, tensor: NDArray[np.float32]) -> NDArray[np.float32]:
        result = request.infer({0: tensor})
        return np.asarray(result[self._compiled.outputs[0]], dtype=np.float32)


def _metadata(model: Any, path: Path) -> dict[str, str]:
    """ONNX metadata props come through as rt_info['framework'] entries; Ultralytics IR exports carry a
    metadata.yaml beside the .xml."""
    out: dict[str, str] = {}
    if path.suffix.lower() == ".onnx":
        import onnx  # reads the metadata without building a second runtime session for the model

        try:
            proto = onnx.load(str(path), load_external_data=False)
        except Exception:  # noqa: BLE001  metadata is optional; OpenVINO loaded the model itself
            return out
        out.update({prop.key: prop.value for prop in proto.metadata_props})
        return out
    yaml_path = path.with_name("metadata.yaml")
    if yaml_path.is_file():
        import yaml

        data = yaml.safe_load(yaml_path.read_text(encoding="utf-8")) or {}
        if isinstance(data, dict):
            for key in ("names", "imgsz", "task", "license", "description"):
                if key in data:
                    out[key] = repr(data[key]) if not isinstance(data[key], str) else data[key]
    return out


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


def load(path: Path, options: BackendOptions) -> OpenVinoBackend:
    if path.suffix.lower() not in (".onnx", ".xml"):
        raise BackendUnavailableError(f"OpenVINO reads .onnx or .xml files, not {path.suffix or 'this file'}")
    return OpenVinoBackend(path, options)
