"""The object detector: a backend plus the model's metadata, letterbox, decode and NMS, done once here."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from detection.backend import load_backend
from detection.backend.base import BackendOptions, InferenceBackend, Precision
from detection.box import Detections
from detection.dequantize import fp32_copy
from detection.error import ModelError, ModelNotFoundError
from detection.frame import Image
from detection.letterbox import letterbox, to_tensor
from detection.nms import plan_nms
from detection.region import Region
from detection.yolo import decode_yolo

PERSON = "person"


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What a model file says about itself."""

    path: Path
    runs_from: Path  # the FP32 copy of an INT8 file, else ``path``
    backend: str
    class_names: tuple[str, ...]
    input_size: tuple[int, int]  # (width, height)
    license: str
    precision: str = "f32"  # what the backend computes in: "f32" or "bf16"

    def class_id(self, name: str) -> int | None:
        try:
            return self.class_names.index(name)
        except ValueError:
            return None


def parse_class_names(raw: str | None, path: Path) -> tuple[str, ...]:
    """Ultralytics writes ``names`` as a Python dict literal ``{0: 'person', ...}``."""
    if not raw:
        raise ModelError(f"{path}: the model has no class names in its metadata ('names')")
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError) as exc:
        raise ModelError(f"{path}: the model's class names cannot be read: {raw[:80]!r}") from exc
    if isinstance(value, dict) and all(isinstance(k, int) for k in value):
        return tuple(str(value[i]) for i in sorted(value))
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value)
    raise ModelError(f"{path}: the model's class names are neither a dict nor a list")


def parse_input_size(backend: InferenceBackend, path: Path) -> tuple[int, int]:
    shape = backend.input_shape
    if len(shape) == 4 and shape[2] > 0 and shape[3] > 0:
        if shape[1] != 3:
            raise ModelError(f"{path}: expected a 3-channel image input, found shape {shape}")
        return int(shape[3]), int(shape[2])
    raw = backend.metadata.get("imgsz")
    if raw:
        value = ast.literal_eval(raw)
        if isinstance(value, list | tuple) and len(value) == 2:
            return int(value[1]), int(value[0])
    raise ModelError(f"{path}: the model's input size is dynamic and its metadata has no 'imgsz'")


class ObjectDetector:
    """Finds objects in a BGR image, optionally only inside given regions (crops of the frame)."""

    def __init__(self, backend: InferenceBackend, info: ModelInfo, *, min_score: float, iou: float) -> None:
        self._backend = backend
        self.info = info
        self.min_score = min_score
        self.iou = iou

    def detect(self, image: Image, regions: list[Region] | None = None) -> Detections:
        """Objects in source pixels; with ``regions``, the model looks only at those crops."""
        height, width = image.shape[:2]
        crops = regions or [Region(0, 0, width, height)]
        parts = [self._detect_crop(image, region) for region in crops]
        merged = Detections.concat(parts)
        if len(crops) > 1 and len(merged):
            merged = merged.select(
                plan_nms(merged.xyxy, merged.score, merged.class_id, iou_threshold=self.iou)
            )
        return merged

    def _detect_crop(self, image: Image, region: Region) -> Detections:
        crop = image[region.y1 : region.y2, region.x1 : region.x2]
        canvas, placement = letterbox(crop, self.info.input_size)
        raw = self._backend.run(to_tensor(canvas))
        found = decode_yolo(raw, num_classes=len(self.info.class_names), min_score=self.min_score)
        if not len(found):
            return found
        found = found.select(plan_nms(found.xyxy, found.score, found.class_id, iou_threshold=self.iou))
        xyxy = placement.to_source(found.xyxy, (region.width, region.height))
        xyxy[:, [0, 2]] += region.x1
        xyxy[:, [1, 3]] += region.y1
        return Detections(xyxy.astype(np.float32), found.score, found.class_id)


def load_detector(
    path: Path,
    *,
    backend: str = "auto",
    threads: int = 2,
    parallel: int = 1,
    precision: Precision = "f32",
    min_score: float = 0.4,
    iou: float = 0.45,
    require_classes: tuple[str, ...] = (PERSON,),
    fp32_cache_dir: Path | None = None,
) -> ObjectDetector:
    """Load a YOLO-format detector from ``path`` only (never downloaded). Raises :class:`ModelError` with
    the reason when the file is missing, is not a model, or lacks a class in ``require_classes``.
    ``parallel``: how many threads may call :meth:`ObjectDetector.detect` at once; ``precision``: see
    :class:`detection.backend.base.BackendOptions`.

    With ``fp32_cache_dir``, a dynamically quantised (INT8) ONNX file runs from an FP32 copy made there
    once: about twice as fast on a desktop CPU with the same boxes (docs/benchmarks.md)."""
    if not path.exists():
        raise ModelNotFoundError(f"{path}: detector model file does not exist")
    if not path.is_file():
        raise ModelError(f"{path}: detector model path is not a file")
    runnable = fp32_copy(path, fp32_cache_dir) if fp32_cache_dir is not None else path
    loaded = load_backend(
        backend, runnable, BackendOptions(threads=threads, parallel=parallel, precision=precision)
    )
    names = parse_class_names(loaded.metadata.get("names"), path)
    missing = [name for name in require_classes if name not in names]
    if missing:
        shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
        raise ModelError(f"{path}: the model has no class {', '.join(missing)} (its classes: {shown})")
    info = ModelInfo(
        path=path,
        runs_from=runnable,
        backend=loaded.name,
        class_names=names,
        input_size=parse_input_size(loaded, path),
        license=loaded.metadata.get("license", "unknown"),
        precision=loaded.precision,
    )
    return ObjectDetector(loaded, info, min_score=min_score, iou=iou)
