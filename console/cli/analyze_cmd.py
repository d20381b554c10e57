"""``station analyze VIDEO [--config FILE] [--camera ID] [--fps N] [--param RULE.NAME=VALUE]... --json``.

Runs exactly the station's detection pipeline and rules on a video file, with no database and no server,
and prints one event per line. With ``--json`` each line is one JSON object::

    {"kind", "camera", "zone", "start_s", "end_s", "box": [x, y, w, h], "score", "track"}

(seconds from the file's start, box in source pixels at the event's best moment). What the pipeline will
not do (no model, a kind not available) and a summary go to stderr. Exit 0 when the file was analysed,
2 when it cannot be read, 78 for a bad config, model or parameter.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from config.error import EXIT_CONFIG, ConfigError
from config.loader import load_config
from config.schema import CameraConfig, StationConfig
from console.model_path import default_model_path, model_cache_dir
from detection.builder import NEEDS_DETECTOR, build_camera_pipeline
from detection.detector import ObjectDetector, load_detector
from detection.error import DetectionError
from detection.event import DetectionEvent
from detection.frame import Frame
from detection.param import UnknownParameterError, parse_param
from detection.pipeline import CANDIDATE_SCORE, CameraPipeline
from detection.smoking_rule import SmokingModels
from streams.error import StreamError
from streams.frame_sampler import iter_file_frames

EXIT_UNREADABLE = 2


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "analyze",
        help="run detection on a video file and print its events",
        description="Run the station's detection pipeline and rules on a video file (no database, no "
        "server) and print one event per line.",
    )
    parser.add_argument("video", type=Path, help="the video file")
    parser.add_argument(
        "--config", "-c", type=Path, help="station config: zones, kinds and model of a camera"
    )
    parser.add_argument(
        "--camera", help="which camera's settings to use (needed when the config has several)"
    )
    parser.add_argument("--fps", type=float, default=None, help="analysed frames per second (default 5)")
    parser.add_argument("--model", type=Path, help="detector model (default: the config's, or a local one)")
    parser.add_argument("--backend", default=None, choices=["auto", "onnxruntime", "openvino"])
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for the detector (default 2)")
    parser.add_argument(
        "--precision",
        default=None,
        choices=["auto", "f32"],
        help="detector precision (default: the config's detection.precision, else f32)",
    )
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="RULE.NAME=VALUE",
        help="override a rule parameter, e.g. person.min_dwell_s=2 (repeatable)",
    )
    parser.add_argument("--kinds", help="comma-separated kinds to run (default: the camera's, or all)")
    parser.add_argument(
        "--start", help="wall-clock time of the file's first frame, ISO 8601 (for zone schedules)"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per event and line")
    parser.set_defaults(func=_analyze)


def _analyze(args: argparse.Namespace) -> int:
    try:
        setup = _setup(args)
    except (ConfigError, DetectionError, UnknownParameterError, ValueError) as exc:
        message = exc.report() if isinstance(exc, ConfigError) else str(exc)
        print(f"station analyze: {message}", file=sys.stderr)
        return EXIT_CONFIG
    pipeline, origin, notes = setup
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    started = time.perf_counter()
    count = 0
    last_t = origin.timestamp()
    try:
        for sampled in iter_file_frames(args.video, args.fps or _fps(args)):
            frame = Frame(pipeline.camera, _at(origin, sampled.ts_s), sampled.image)
            last_t = frame.t_s
            count += 1
            for event in pipeline.process(frame):
                _print(event, origin, json_lines=args.json)
    except StreamError as exc:
        print(f"station analyze: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    for event in pipeline.finish(last_t):
        _print(event, origin, json_lines=args.json)
    _summary(pipeline, count, time.perf_counter() - started)
    return 0


def _setup(args: argparse.Namespace) -> tuple[CameraPipeline, datetime, list[str]]:
    params: dict[str, object] = {}
    config: StationConfig | None = load_config(args.config) if args.config else None
    camera = _camera(config, args.camera) if config is not None else None
    if config is not None:
        params.update(config.detection.params)
    for text in args.param:
        name, value = parse_param(text)
        params[name] = value
    model = (
        default_model_path(config.detection.model_path if config else None) if not args.model else args.model
    )
    kinds = set(args.kinds.split(",")) if args.kinds else None
    requested = (
        kinds if kinds is not None else ({k.value for k in camera.detection.kinds} if camera else None)
    )
    wants_people = requested is None or bool(requested & NEEDS_DETECTOR)
    detector: ObjectDetector | None = None
    if model is not None and wants_people:
        detector = load_detector(
            model,
            backend=args.backend or (config.detection.backend if config else "auto"),
            threads=args.threads,
            precision=args.precision or (config.detection.precision if config else "f32"),
            min_score=CANDIDATE_SCORE,
            fp32_cache_dir=model_cache_dir(),
        )
    if config is not None:
        params.setdefault("tracker.activation_score", config.detection.confidence)
    timezone = ZoneInfo(config.station.timezone) if config else ZoneInfo("UTC")
    pipeline, notes = build_camera_pipeline(
        camera.id if camera else "video",
        camera,
        timezone=timezone,
        detector=detector,
        fps=args.fps or _fps(args, camera),
        params=params,
        snapshots=False,
        kinds=kinds,
        smoking_models=SmokingModels(
            config.detection.keypoint_models_dir, config.detection.smoking_model_path
        )
        if config is not None
        else None,
    )
    origin = datetime.fromisoformat(args.start) if args.start else datetime(2000, 1, 1, tzinfo=UTC)
    if origin.tzinfo is None:
        raise ValueError("--start needs a time zone offset, e.g. 2026-12-01T22:00:00+05:00")
    return pipeline, origin.astimezone(UTC), notes


def _camera(config: StationConfig, camera_id: str | None) -> CameraConfig:
    if camera_id is not None:
        try:
            return config.camera(camera_id)
        except KeyError:
            known = ", ".join(c.id for c in config.cameras) or "none"
            raise ValueError(f"no camera {camera_id!r} in the config (cameras: {known})") from None
    if len(config.cameras) != 1:
        raise ValueError("the config has several cameras (or none): choose one with --camera ID")
    return config.cameras[0]


def _fps(args: argparse.Namespace, camera: CameraConfig | None = None) -> float:
    return float(args.fps) if args.fps else (camera.detection.fps if camera is not None else 5.0)


def _at(origin: datetime, ts_s: float) -> datetime:
    return datetime.fromtimestamp(origin.timestamp() + ts_s, UTC)


def _print(event: DetectionEvent, origin: datetime, *, json_lines: bool) -> None:
    line = event.as_json(origin.timestamp())
    if json_lines:
        print(json.dumps(line, ensure_ascii=False), flush=True)
        return
    box = line["box"]
    print(
        f"{event.kind:<10} zone={event.zone or '-':<12} {line['start_s']:>8.2f}–{line['end_s']:<8.2f} "
        f"score={event.score:.2f} track={event.track if event.track is not None else '-'} box={box}",
        flush=True,
    )


def _summary(pipeline: CameraPipeline, frames: int, seconds: float) -> None:
    times = pipeline.times
    per_frame = {k: 1000 * v / max(frames, 1) for k, v in times.seconds.items()}
    detector = np.percentile(times.detector_ms, [50, 95]) if times.detector_ms else [0.0, 0.0]
    stages = ", ".join(f"{k} {v:.1f}" for k, v in per_frame.items())
    print(
        f"analysed {frames} frames in {seconds:.1f} s; detector calls {times.detector_calls} "
        f"(p50 {detector[0]:.1f} ms, p95 {detector[1]:.1f} ms); ms per frame: {stages}",
        file=sys.stderr,
    )
    if pipeline.smoking is not None:
        print(f"smoking: {pipeline.smoking.measurable().summary()}", file=sys.stderr)
