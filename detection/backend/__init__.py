"""Inference backends behind one small protocol, with an explicit registry (the shape of aiortc's codecs).

A backend only runs a tensor through a model; letterbox, decode and NMS happen once, in
:mod:`detection.detector`. To add one: write ``detection/backend/<name>.py`` with a class that satisfies
:class:`detection.backend.base.InferenceBackend` and a ``load(path, options)`` factory taking
:class:`detection.backend.base.BackendOptions` (threads per inference, threads calling at once, precision),
and add it to ``_FACTORIES`` below.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from pathlib import Path

from detection.backend.base import BackendOptions, InferenceBackend
from detection.error import BackendUnavailableError

BackendFactory = Callable[[Path, BackendOptions], InferenceBackend]

# name -> module under detection.backend that defines ``load(path, options)``; imported on first use so a
# missing runtime only matters to the backend that needs it.
_FACTORIES: dict[str, str] = {"onnxruntime": "onnxruntime_backend", "openvino": "openvino_backend"}

# The backend preferred for each file kind when the user asks for "auto" (measured: docs/benchmarks.md).
_PREFERRED = {".onnx": ("openvino", "onnxruntime"), ".xml": ("openvino",)}


def backend_names() -> list[str]:
    return list(_FACTORIES)


def load_backend(name: str, path: Path, options: BackendOptions) -> InferenceBackend:
    """Load ``path`` with the named backend ("auto" picks the fastest available for the file kind)."""
    if name == "auto":
        errors: list[str] = []
        for candidate in _PREFERRED.get(path.suffix.lower(), ("onnxruntime",)):
            try:
                return load_backend(candidate, path, options)
            except BackendUnavailableError as exc:
                errors.append(str(exc))
        raise BackendUnavailableError("; ".join(errors) or f"no backend reads {path.suffix} files")
    module_name = _FACTORIES.get(name)
    if module_name is None:
        raise BackendUnavailableError(f"unknown detector backend {name!r} (known: {', '.join(_FACTORIES)})")
    try:
        module = import_module(f"detection.backend.{module_name}")
    except ImportError as exc:
        raise BackendUnavailableError(f"backend {name!r} is not installed: {exc}") from exc
    factory: BackendFactory = module.load
    return factory(path, options)
