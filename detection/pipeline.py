"""One camera's frame path: motion gate → detector (only where something moves) → tracker → rules → events.

Pure with respect to time: everything runs on the frames' own timestamps, so ``station analyze`` on a file
and a live camera give the same events. Not thread-safe: one pipeline belongs to one worker.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import numpy as np

from detection.box import Detections, iou_matrix
from detection.detector import PERSON, ObjectDetector
from detection.event import DetectionEvent, render_snapshot
from detection.frame import Frame, Image
from detection.littering_rule import LitteringRule
from detection.motion import MotionConfig, MotionDetector
from detection.motion_rule import GATE_PARAMS, MotionRule
from detection.param import apply_params
from detection.presence_rule import PresenceRule
from detection.region import Region, merge_regions, plan_regions, zone_region
from detection.rule import Episode, Observation, RestartableRule, Rule, RuleOutput
from detection.smoking_rule import SmokingModels, SmokingRule
from detection.track import Track
from detection.tracker import ObjectTracker, TrackerConfig
from detection.zone import WHOLE_FRAME, ZoneSpec, zone_bounds

STAGES = ("motion", "detector", "tracker", "rules")
# Detections down to this score reach the tracker: ByteTrack keeps tracks alive through weak detections
# (occlusion, small people) but starts a track only at ``tracker.activation_score``.
CANDIDATE_SCORE = 0.2
KNOWN_RULES = ("motion", "person", "tracker", "pipeline", "littering", "smoking")


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    """``pipeline.*`` parameters."""

    recheck_s: float = 10.0  # stationary objects are looked at again this often
    max_regions: int = 2  # more motion areas than this: the detector sees the whole frame
    track_margin: float = 0.25  # moving tracks' boxes grow by this share when planning regions


@dataclass
class StageTimes:
    """Seconds spent per stage, and counts, since the pipeline started."""

    frames: int = 0
    detector_calls: int = 0
    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    detector_ms: deque[float] = field(default_factory=lambda: deque(maxlen=1000))  # the latest calls


class CameraPipeline:
    def __init__(
        self,
        camera: str,
        *,
        kinds: set[str],
        zones: list[ZoneSpec],
        timezone: ZoneInfo,
        detector: ObjectDetector | None,
        fps: float,
        params: Mapping[str, object] | None = None,
        masks: list[list[tuple[float, float]]] | None = None,
        snapshots: bool = True,
        smoking_models: SmokingModels | None = None,
    ) -> None:
        params = dict(params or {})
        unknown = {key.split(".", 1)[0] for key in params} - set(KNOWN_RULES)
        if unknown:
            raise ValueError(f"unknown rule(s) in parameters: {', '.join(sorted(unknown))}")
        self.camera = camera
        self._detector = detector if kinds & {"person", "littering", "smoking"} else None
        gate = {
            k: v for k, v in params.items() if k.startswith("motion.") and k.split(".", 1)[1] in GATE_PARAMS
        }
        self._motion = MotionDetector(apply_params(MotionConfig(), "motion", gate), masks=list(masks or []))
        self._config = apply_params(PipelineConfig(), "pipeline", params)
        self._tracker = (
            ObjectTracker(
                self._detector.info.class_names, apply_params(TrackerConfig(), "tracker", params), fps=fps
            )
            if self._detector is not None
            else None
        )
        self._person_id = self._detector.info.class_id(PERSON) if self._detector is not None else None
        # Zones that limit where people count: the detector looks only there (at native scale).
        self._person_zones = [z for z in zones if z.points is not None and z.watches("person")]
        if any(z.points is None for z in zones) or len(self._person_zones) != len(
            [z for z in zones if z.watches("person")]
        ):
            self._person_zones = []
        zones = zones or [WHOLE_FRAME]
        self._rules: list[Rule] = []
        if "motion" in kinds:
            self._rules.append(MotionRule(zones, timezone, params=params))
        if "person" in kinds and self._detector is not None:
            self._rules.append(PresenceRule(zones, timezone, params=params))
        self.smoking: SmokingRule | None = None  # its measurable share goes to the health report
        if "smoking" in kinds and self._detector is not None:
            self.smoking = SmokingRule.from_models(zones, timezone, params=params, models=smoking_models)
            self._rules.append(self.smoking)
        if "littering" in kinds and self._detector is not None:
            self._rules.append(
                LitteringRule(zones, timezone, params=params, masks=list(masks or []), fps=fps)
            )
        self._snapshots = snapshots
        self._best_images: dict[int, Image] = {}
        self._last_check_t_s = -1e18
        self.times = StageTimes()
        self.tracks: list[Track] = []
        self.open_episodes: list[Episode] = []
        self.last_opened: list[Episode] = []  # episodes the last processed frame opened
        self.last_t_s: float | None = None
        self.last_detections = Detections.empty()  # every class the detector found in the last frame
        self.restarts = 0  # stream discontinuities this pipeline started afresh on

    @property
    def detects_people(self) -> bool:
        return self._detector is not None

    def process(self, frame: Frame) -> list[DetectionEvent]:
        """Analyse one frame; returns the events that ended with it. A frame marked as a discontinuity
        first starts afresh what assumes a continuous picture (:meth:`restart`)."""
        t_s = frame.t_s
        output = RuleOutput()
        if frame.discontinuity is not None and self.last_t_s is not None:
            output.extend(self.restart(self.last_t_s))
        self.last_t_s = t_s
        clock = time.perf_counter
        t0 = clock()
        motion = self._motion.detect(frame.image)
        t1 = clock()
        tracks = self._track(frame, motion.boxes, t_s)
        t2 = clock()
        observation = Observation(
            t_s,
            frame.ts_utc,
            frame.size,
            tuple(tracks),
            motion,
            image=frame.image,
            detections=self.last_detections,
            class_names=self._detector.info.class_names if self._detector is not None else (),
        )
        for rule in self._rules:
            output.extend(rule.update(observation))
        events = self._collect(output, frame.image)
        t3 = clock()
        self.times.frames += 1
        self.times.seconds["motion"] += t1 - t0
        self.times.seconds["rules"] += t3 - t2
        return events

    def restart(self, last_t_s: float) -> RuleOutput:
        """The next frame may not continue the last one (``last_t_s``): the motion gate calibrates again,
        tracks end (new ones get new ids) and rules with continuity state start afresh."""
        self.restarts += 1
        self._motion.restart()
        if self._tracker is not None:
            self._tracker.restart()
        self.tracks = []
        self._last_check_t_s = -1e18
        output = RuleOutput()
        for rule in self._rules:
            if isinstance(rule, RestartableRule):
                output.extend(rule.restart(last_t_s))
        return output

    def finish(self, t_s: float) -> list[DetectionEvent]:
        """End of input: close every open event."""
        output = RuleOutput()
        for rule in self._rules:
            output.extend(rule.finish(t_s))
        return self._collect(output, None)

    def _track(self, frame: Frame, motion_boxes: np.ndarray, t_s: float) -> list[Track]:
        self.last_detections = Detections.empty()
        if self._detector is None or self._tracker is None:
            return []
        clock = time.perf_counter
        moving = [t for t in self._tracker.tracks if not t.stationary]
        stationary = [t for t in self._tracker.tracks if t.stationary]
        recheck = bool(stationary) and t_s - self._last_check_t_s >= self._config.recheck_s
        look = [motion_boxes.reshape(-1, 4)]
        margin = self._config.track_margin
        for track in moving + (stationary if recheck else []):
            x1, y1, x2, y2 = track.xyxy
            dx, dy = (x2 - x1) * margin, (y2 - y1) * margin
            look.append(np.asarray([[x1 - dx, y1 - dy, x2 + dx, y2 + dy]], np.float32))
        boxes = np.concatenate(look).astype(np.float32)
        regions = self._plan(boxes, frame.size)
        t0 = clock()
        found = Detections.empty()
        if regions:
            found = self._detector.detect(frame.image, regions)
            self.times.detector_calls += len(regions)
            self.times.detector_ms.append((clock() - t0) * 1000)
            if recheck:
                self._last_check_t_s = t_s
        t1 = clock()
        self.last_detections = found
        if self._person_id is not None:
            found = found.of_class(self._person_id)
        found = self._carry(found, stationary, recheck=recheck)
        tracks = self._tracker.update(found, t_s)
        self.tracks = tracks
        self.times.seconds["detector"] += t1 - t0
        self.times.seconds["tracker"] += clock() - t1
        return tracks

    def _plan(self, boxes: np.ndarray, frame_size: tuple[int, int]) -> list[Region]:
        """Where the detector looks this frame. With person zones, the zones touched by motion or moving
        objects, each at the model's native scale (a far doorway is not shrunk with the whole frame);
        without, crops around what moves. Too many or too large: the whole frame."""
        assert self._detector is not None
        side = min(self._detector.info.input_size)
        width, height = frame_size
        if not self._person_zones or boxes.shape[0] == 0:
            return plan_regions(boxes, frame_size, model_side=side, max_regions=self._config.max_regions)
        touched = []
        for zone in self._person_zones:
            assert zone.points is not None
            region = zone_region(zone_bounds(zone.points), frame_size, model_side=side)
            hit = (
                (boxes[:, 0] < region.x2)
                & (boxes[:, 2] > region.x1)
                & (boxes[:, 1] < region.y2)
                & (boxes[:, 3] > region.y1)
            )
            if hit.any():
                touched.append(region)
        regions = merge_regions(touched)
        if len(regions) > self._config.max_regions or sum(r.area for r in regions) > 0.6 * width * height:
            return [Region(0, 0, width, height)]
        return regions

    def _carry(self, found: Detections, stationary: list[Track], *, recheck: bool) -> Detections:
        """Stationary objects the detector did not look at stay as they were (they cost no detector call);
        on a re-check, one the detector no longer finds is let go."""
        if not stationary or recheck:
            return found
        boxes = np.asarray([t.xyxy for t in stationary], np.float32)
        if len(found):
            overlap = iou_matrix(boxes, found.xyxy).max(axis=1)
            keep = overlap < 0.3
            boxes = boxes[keep]
            stationary = [t for t, k in zip(stationary, keep, strict=True) if k]
        if not len(stationary):
            return found
        carried = Detections(
            boxes,
            np.asarray([t.score for t in stationary], np.float32),
            np.full((len(stationary),), self._person_id or 0, np.int32),
        )
        return Detections.concat([found, carried])

    def _collect(self, output: RuleOutput, image: Image | None) -> list[DetectionEvent]:
        self.last_opened = list(output.opened)
        if self._snapshots and image is not None:
            for episode in output.improved:
                self._best_images[id(episode)] = image
        for episode in output.opened:
            self.open_episodes.append(episode)
        events = []
        for episode in output.closed:
            picture = self._best_images.pop(id(episode), None)
            self.open_episodes = [e for e in self.open_episodes if e is not episode]
            path = episode.detail.get("owner_path")
            jpeg = render_snapshot(picture, episode.box, path=path) if picture is not None else None
            events.append(
                DetectionEvent(
                    camera=self.camera,
                    kind=episode.kind,
                    zone=episode.zone,
                    start_t_s=episode.start_t_s,
                    end_t_s=episode.end_t_s,
                    box=episode.box,
                    score=episode.score,
                    track=episode.track,
                    best_t_s=episode.best_t_s,
                    snapshot_jpeg=jpeg,
                    detail=tuple(sorted(episode.detail.items())),
                )
            )
        return events
