"""``station model check PATH`` and ``station model export SOURCE --out PATH``.

``check`` loads a detector exactly as the station would and prints its classes, input size, backend and
milliseconds per frame measured on this machine. ``export`` writes a faster FP32 copy of a dynamically
quantised ONNX model, or converts an Ultralytics ``.pt`` to ONNX offline (torch, torchvision and ultralytics
installed; :mod:`console.cli.ultralytics_shim`).
Exit 0 on success, 78 when the file is not a usable model.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from pickle import UnpicklingError
from typing import Any

import numpy as np

from config.error import EXIT_CONFIG
from detection.backend import backend_names
from detection.dequantize import dequantize_onnx
from detection.detector import load_detector
from detection.error import DetectionError


def register(subparsers: Any) -> None:
    model = subparsers.add_parser("model", help="check or convert a detector model")
    commands = model.add_subparsers(dest="model_command", metavar="SUBCOMMAND", required=True)
    check = commands.add_parser("check", help="print a model's classes, input size, backend and speed")
    check.add_argument("path", type=Path)
    check.add_argument("--backend", default="auto", choices=["auto", *backend_names()])
    check.add_argument("--threads", type=int, default=2)
    check.add_argument("--precision", default="f32", choices=["f32", "auto"])
    check.add_argument("--runs", type=int, default=30, help="timed inferences (default 30)")
    check.set_defaults(func=_check)
    export = commands.add_parser(
        "export", help="write an FP32 ONNX copy of an INT8 model, or convert an Ultralytics .pt to ONNX"
    )
    export.add_argument("source", type=Path)
    export.add_argument("--out", type=Path, required=True)
    export.add_argument("--imgsz", type=int, default=320, help="input size for a .pt export (default 320)")
    export.set_defaults(func=_export)


def _check(args: argparse.Namespace) -> int:
    try:
        detector = load_detector(
            args.path,
            backend=args.backend,
            threads=args.threads,
            precision=args.precision,
            require_classes=(),
        )
    except DetectionError as exc:
        print(f"station model check: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    info = detector.info
    width, height = info.input_size
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 255, (576, 768, 3), dtype=np.uint8)
    detector.detect(frame)
    timings = []
    for _ in range(max(1, args.runs)):
        started = time.perf_counter()
        detector.detect(frame)
        timings.append((time.perf_counter() - started) * 1000)
    shown = ", ".join(f"{i} {name}" for i, name in enumerate(info.class_names[:12]))
    more = f", ... ({len(info.class_names)} in all)" if len(info.class_names) > 12 else ""
    print(f"model:      {info.path}")
    print(f"backend:    {info.backend} ({args.threads} threads, {info.precision})")
    print(f"input:      {width}x{height}")
    print(f"classes:    {shown}{more}")
    people = "yes" if info.class_id("person") is not None else "NO: people detection cannot use it"
    print(f"person:     {people}")
    print(f"licence:    {info.license}")
    print(
        f"speed:      {statistics.median(timings):.1f} ms per 768x576 frame (median of {len(timings)}, "
        f"p95 {float(np.percentile(timings, 95)):.1f} ms), letterbox, decode and NMS included"
    )
    return 0


def _export(args: argparse.Namespace) -> int:
    suffix = args.source.suffix.lower()
    try:
        if suffix == ".onnx":
            replaced = dequantize_onnx(args.source, args.out)
            what = f"{replaced} INT8 convolutions turned into FP32" if replaced else "no INT8 layers: copied"
            print(f"{args.out}: {what}")
            return 0
        if suffix == ".pt":
            return _export_pt(args.source, args.out, args.imgsz)
    except DetectionError as exc:
        print(f"station model export: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    print(
        f"station model export: {args.source}: expected a .onnx or an Ultralytics .pt file", file=sys.stderr
    )
    return EXIT_CONFIG


#: What a .pt that Ultralytics cannot read or export raises (torch.load, Ultralytics' checks, the exporter).
EXPORT_ERRORS = (RuntimeError, ValueError, TypeError, KeyError, AttributeError, OSError, UnpicklingError)


def _export_pt(source: Path, out: Path, imgsz: int) -> int:
    """An Ultralytics ``.pt`` to ONNX at ``imgsz`` px, offline (:mod:`console.cli.ultralytics_shim`)."""
    from console.cli.ultralytics_shim import UltralyticsUnavailableError, load_yolo

    if not source.is_file():
        print(f"station model export: {source}: file does not exist", file=sys.stderr)
        return EXIT_CONFIG
    with tempfile.TemporaryDirectory(prefix="station-export-") as work:
        try:
            yolo = load_yolo(Path(work) / "config")
        except UltralyticsUnavailableError as exc:
            print(f"station model export: {exc}", file=sys.stderr)
            return EXIT_CONFIG
        # Ultralytics writes the export beside its source: work on a copy, so nothing lands beside the user's
        # file and a read-only folder works.
        copy = Path(work) / source.name
        shutil.copyfile(source, copy)
        try:
            model = yolo(str(copy))
            exported = Path(model.export(format="onnx", imgsz=imgsz, simplify=True))
        except EXPORT_ERRORS as exc:
            print(
                f"station model export: {source}: not an Ultralytics model it can export: {exc}",
                file=sys.stderr,
            )
            return EXIT_CONFIG
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(exported, out)
    print(f"{out}: exported from {source} at {imgsz} px")
    return 0
