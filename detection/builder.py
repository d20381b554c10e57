"""Build a camera's pipeline from the station config (used by ``station run`` and ``station analyze``)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from zoneinfo import ZoneInfo

from config.schema import CameraConfig, DetectionKind, Zone
from detection.detector import ObjectDetector
from detection.pipeline import CameraPipeline
from detection.smoking_rule import SmokingModels, plan_smoking
from detection.zone import ZoneSpec

log = logging.getLogger(__name__)

BUILT_KINDS = frozenset(
    {
        DetectionKind.MOTION.value,
        DetectionKind.PERSON.value,
        DetectionKind.LITTERING.value,
        DetectionKind.SMOKING.value,
    }
)
NEEDS_DETECTOR = frozenset(
    {DetectionKind.PERSON.value, DetectionKind.LITTERING.value, DetectionKind.SMOKING.value}
)
ALL_KINDS = frozenset(k.value for k in DetectionKind)


def zone_spec(zone: Zone) -> ZoneSpec:
    return ZoneSpec(
        name=zone.name,
        points=tuple(zone.points),
        kinds=frozenset(k.value for k in zone.kinds) if zone.kinds else None,
        schedule=tuple(zone.schedule),
        min_dwell_s=zone.min_dwell_s,
        min_height_px=zone.min_height_px,
        params=dict(zone.params),
    )


def plan_kinds(requested: set[str], *, has_detector: bool) -> tuple[set[str], list[str]]:
    """The kinds that can run, and a reason for each that cannot. Pure."""
    notes = []
    kinds = set(requested)
    for kind in sorted(kinds - BUILT_KINDS):
        notes.append(f"{kind} detection is not available in this version")
        kinds.discard(kind)
    for kind in sorted(kinds & NEEDS_DETECTOR):
        if not has_detector:
            what = "people" if kind == "person" else kind
            notes.append(f"{what} detection is off: no detector model is configured (detection.model_path)")
            kinds.discard(kind)
    return kinds, notes


def build_camera_pipeline(
    camera_id: str,
    camera: CameraConfig | None,
    *,
    timezone: ZoneInfo,
    detector: ObjectDetector | None,
    fps: float,
    params: Mapping[str, object],
    snapshots: bool = True,
    kinds: set[str] | None = None,
    smoking_models: SmokingModels | None = None,
) -> tuple[CameraPipeline, list[str]]:
    """The pipeline for one camera and the notes on what it will not do (shown to the user). Without a
    ``camera`` config (a bare video file): every available kind on the whole frame."""
    if camera is None:
        requested = set(kinds) if kinds is not None else set(ALL_KINDS)
        zones: list[ZoneSpec] = []
        masks: list[list[tuple[float, float]]] = []
    else:
        requested = set(kinds) if kinds is not None else {k.value for k in camera.detection.kinds}
        zones = [zone_spec(z) for z in camera.detection.zones]
        masks = [list(m.points) for m in camera.detection.masks]
    runnable, notes = plan_kinds(requested, has_detector=detector is not None)
    runnable, smoking_notes = plan_smoking(runnable, smoking_models)
    notes += smoking_notes
    pipeline = CameraPipeline(
        camera_id,
        kinds=runnable,
        zones=zones,
        timezone=timezone,
        detector=detector,
        fps=fps,
        params=params,
        masks=masks,
        snapshots=snapshots,
        smoking_models=smoking_models,
    )
    return pipeline, notes
