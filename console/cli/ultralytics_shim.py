"""Loading Ultralytics for ``station model export``, offline, also where torchvision's operators cannot load.

Used only by the export of an Ultralytics ``.pt`` (:mod:`console.cli.model_cmd`); nothing on the station's
running path imports torch.

Every torchvision wheel on PyPI is a CUDA build. With the CPU build of torch that the project installs
(``torch==2.13.0``, see ``.ci/requirements.txt``), torchvision's compiled extension does not load, and
``import torchvision`` fails with "operator torchvision::nms does not exist": its Python side registers
fake kernels for operators that only the extension defines. Ultralytics cannot be imported without
torchvision. So, only when the extension does not load, :func:`load_yolo` defines ``torchvision::nms`` and
``torchvision::qnms`` with :mod:`torch.library` before torchvision is imported, backed by a pure-torch
NMS (:func:`cpu_nms`), and then lets torchvision's ``_has_ops()`` say True so that
``torchvision.ops.nms`` (Ultralytics' ``predict``) runs it. Other torchvision operators stay missing;
exporting to ONNX needs none of them. Where the extension loads (a matching torchvision), nothing is
changed.

Ultralytics reaches the network for settings sync, fonts and missing packages unless told not to:
:func:`offline_environment` sets ``YOLO_OFFLINE=1``, ``YOLO_AUTOINSTALL=0`` and a private
``YOLO_CONFIG_DIR`` with a local TTF as its ``Arial.ttf``, before Ultralytics is imported.

torch and Ultralytics are imported with :func:`importlib.import_module` so that type checking does not
follow them (each ships type information and torch alone takes mypy minutes).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import shutil
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

#: The operator library that keeps the two definitions registered for the life of the process.
_LIBRARY: Any = None

#: What the export needs besides torch and Ultralytics (pip names), for the error message.
EXPORT_PACKAGES = ("torch", "torchvision", "ultralytics", "onnx", "onnxslim")


class UltralyticsUnavailableError(ImportError):
    """Ultralytics (or torch, torchvision) is not installed or cannot be imported here."""


def cpu_nms(boxes: Any, scores: Any, iou_threshold: float) -> Any:
    """Greedy non-maximum suppression in plain torch: indices of the kept ``boxes`` (``[N, 4]`` as x1, y1,
    x2, y2), highest score first, as torchvision's ``nms`` returns them."""
    torch = importlib.import_module("torch")
    order = torch.argsort(scores, descending=True)
    if boxes.numel() == 0:
        return order
    ordered = boxes[order].float()
    x1, y1, x2, y2 = ordered.unbind(1)
    areas = (x2 - x1).clamp(min=0) * (y2 - y1).clamp(min=0)
    removed = torch.zeros(len(order), dtype=torch.bool)
    keep = []
    for i in range(len(order)):
        if removed[i]:
            continue
        keep.append(i)
        width = (torch.minimum(x2[i], x2) - torch.maximum(x1[i], x1)).clamp(min=0)
        height = (torch.minimum(y2[i], y2) - torch.maximum(y1[i], y1)).clamp(min=0)
        inter = width * height
        iou = inter / (areas[i] + areas - inter).clamp(min=1e-12)
        removed |= iou > iou_threshold
    return order[torch.tensor(keep, dtype=torch.long)]


def _quantized_nms(boxes: Any, scores: Any, iou_threshold: float) -> Any:
    return cpu_nms(boxes.dequantize(), scores.dequantize(), iou_threshold)


def torchvision_ops_load() -> bool:
    """Whether torchvision's compiled operators load with the installed torch (what torchvision itself
    tries on import); False also when torchvision is not installed."""
    torch = importlib.import_module("torch")
    spec = importlib.util.find_spec("torchvision")
    if spec is None or spec.origin is None:
        return False
    for library in Path(spec.origin).parent.glob("_C*.so"):
        try:
            torch.ops.load_library(str(library))
        except (OSError, RuntimeError):
            return False
        return True
    return False


def register_cpu_nms() -> None:
    """Define ``torchvision::nms`` and ``torchvision::qnms`` backed by :func:`cpu_nms` (once)."""
    global _LIBRARY
    if _LIBRARY is not None:
        return
    torch = importlib.import_module("torch")
    library = torch.library.Library("torchvision", "DEF")
    for name, kernel in (("nms", cpu_nms), ("qnms", _quantized_nms)):
        library.define(f"{name}(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        library.impl(name, kernel, "CPU")
    _LIBRARY = library


def offline_environment(config_dir: Path, environ: MutableMapping[str, str] = os.environ) -> None:
    """Keep Ultralytics off the network: no settings sync, no auto-install, settings in ``config_dir``
    with a local TTF as the ``Arial.ttf`` its label drawing would otherwise download."""
    environ.update({"YOLO_OFFLINE": "1", "YOLO_AUTOINSTALL": "0", "YOLO_CONFIG_DIR": str(config_dir)})
    fonts = config_dir / "Ultralytics"
    fonts.mkdir(parents=True, exist_ok=True)
    font = _local_ttf()
    if font is not None and not (fonts / "Arial.ttf").exists():
        shutil.copyfile(font, fonts / "Arial.ttf")


def _local_ttf() -> Path | None:
    """A TTF that is already installed: matplotlib's DejaVu Sans, else Debian's."""
    spec = importlib.util.find_spec("matplotlib")
    candidates = []
    if spec is not None and spec.origin is not None:
        candidates.append(Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf")
    candidates.append(Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"))
    return next((path for path in candidates if path.is_file()), None)


def load_yolo(config_dir: Path) -> Any:
    """Ultralytics' ``YOLO`` class, imported offline (:func:`offline_environment`) and, where torchvision's
    operators do not load, with :func:`register_cpu_nms`. Raises :class:`UltralyticsUnavailableError`."""
    offline_environment(config_dir)
    try:
        importlib.import_module("torch")
        if importlib.util.find_spec("torchvision") is None or importlib.util.find_spec("ultralytics") is None:
            raise ImportError("torchvision or ultralytics is not installed")
        shimmed = not torchvision_ops_load()
        if shimmed:
            register_cpu_nms()
        torchvision = importlib.import_module("torchvision")
        if shimmed:
            torchvision.extension._has_ops = lambda: True
        return importlib.import_module("ultralytics").YOLO
    except (ImportError, RuntimeError) as exc:
        raise UltralyticsUnavailableError(
            f"converting a .pt needs {', '.join(EXPORT_PACKAGES)} ({exc})"
        ) from exc
