"""Smoking in a no-smoking zone: one person's hand goes to the mouth and back, again and again.

For every tracked person whose feet are in a zone that watches ``smoking`` (while its schedule allows),
``rate_fps`` times a second while a hand is within ``watch_ratio`` body scales of the mouth, else
``idle_rate_fps`` times (a hand on its way up is caught within a second), at most ``max_people`` people a
frame, and at most ``station_looks_per_s`` looks a second for all cameras together (:class:`LookBudget`):

1. **Can the person be judged at all?** Smaller than ``min_height_px`` (source pixels): *too small*, no
   model is run. Otherwise the key-point models (:mod:`detection.keypoints`) look at the person's crop, and
   the person counts as *measurable* only when the pose is confident, the shoulders say the person faces the
   camera (``min_facing``) and a face detector has found a face where the pose puts the head
   (``min_face_score``) in ``min_face_looks`` looks within the last ``face_memory_s`` (a hand at the mouth
   hides the face for a moment). Pose models return confident skeletons for people seen from behind and for
   far too small people: a skeleton is no evidence that the rule can see a gesture, so everyone else is
   *not measurable* and is counted as such, never analysed. The share of person-time that was measurable is
   kept per camera (:class:`MeasurableShare`).
2. **Hand at the mouth**: the nearest hand point (pose fingers, or the hand model's 21 points where the pose
   put a hand near the face) over the body scale (shoulder width), with hysteresis: a *stay* at the mouth
   starts below ``near_ratio`` and ends above ``far_ratio``. Returns within ``merge_s`` belong to the same
   stay (scratching, fiddling). A stay is a *puff* when it lasted ``min_puff_s``..``max_puff_s`` and began
   after the hand had been seen away from the mouth; a longer one (a phone at the ear, a chin on a hand) is
   not. Without a measurable look for ``max_gap_s`` during a stay, or when the track ends, the stay is lost.
3. **Smoking**: ``min_puffs`` puffs of the same track within ``window_s`` open an event; further puffs
   extend it; it ends ``end_after_s`` after the last puff, or when the person is gone. A single touch of
   the face, a drink or a call is not smoking.

Optionally a cigarette/smoke detector (YOLO-format ONNX trained elsewhere, by path) looks at the hand and
face during each stay; its best score raises or lowers the event's confidence. The rule works without it.

:class:`GestureTracker` is the pure state machine of step 2 and of the puffs' window, for one track, driven
by frame times; :func:`read_keypoints` is the pure judgement of one look.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections import Counter, defaultdict, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

import numpy as np

from detection.box import FloatArray
from detection.detector import ObjectDetector, load_detector
from detection.error import DetectionError
from detection.frame import Image
from detection.keypoints import (
    HAND_POINTS,
    LEFT_SHOULDER,
    RIGHT_SHOULDER,
    BodyKeypoints,
    body_scale,
    find_keypoint_models_dir,
    load_keypoint_models,
    mouth_point,
)
from detection.param import apply_params
from detection.region import Region
from detection.rule import Episode, Observation, RuleOutput
from detection.schedule import is_scheduled
from detection.zone import ZoneSpec

log = logging.getLogger(__name__)

KIND = "smoking"
TOO_SMALL, TURNED_AWAY, NO_POSE, MEASURABLE = "too_small", "turned_away", "no_pose", "measurable"
REASONS = (TOO_SMALL, TURNED_AWAY, NO_POSE)
REASON_WORDS = {TOO_SMALL: "too small", TURNED_AWAY: "turned away", NO_POSE: "no body seen"}
GONE_AFTER_S = 2.0  # a track absent this long has ended (the tracker's own ``lost_s``)
MAX_FRAME_GAP_S = 1.0  # person-time counts at most this much between two frames (a stalled camera)
CONFIRM_WORDS = ("cigar", "smok")


@dataclass(frozen=True, slots=True)
class SmokingConfig:
    """``smoking.*`` parameters (``station analyze --param smoking.NAME=VALUE``)."""

    min_height_px: int = 150  # smaller people are "not measurable: too small" (no model is run)
    rate_fps: float = 2.5  # looks a second at a person whose hand is near the face (every 2nd frame at 5 fps)
    idle_rate_fps: float = 1.0  # ... and at anyone else large enough
    watch_ratio: float = 1.0  # a hand this close to the mouth (body scales) asks for the full rate
    max_people: int = 4  # people looked at per frame at most (the longest-waiting first)
    station_looks_per_s: float = 8.0  # looks a second for all cameras together (the CPU it may take)
    min_pose_score: float = 0.5
    min_facing: float = 0.3  # shoulders' left-right order over body scale: 1 faces the camera, -1 away
    min_face_score: float = 0.6  # face detector in the head crop (backs of heads score up to ~0.7 alone)
    face_memory_s: float = 5.0  # faces seen within this long ago count (a hand at the mouth hides it)
    min_face_looks: int = 2  # faces needed within face_memory_s: one lucky look is not a view of a face
    min_visibility: float = 0.5  # pose hand points less visible than this are not used
    hands_within: float = 0.8  # the hand model looks at a hand the pose puts this near the mouth
    min_hand_score: float = 0.5  # hand model's own confidence
    near_ratio: float = 0.35  # hand-to-mouth distance over body scale that starts a stay at the mouth
    far_ratio: float = 0.55  # ... and that ends it
    merge_s: float = 3.0  # a return to the mouth sooner than this continues the same stay
    min_puff_s: float = 0.5
    max_puff_s: float = 6.0
    max_gap_s: float = 1.5  # a stay without a measurable look this long is lost
    min_puffs: int = 2
    window_s: float = 60.0
    end_after_s: float = 60.0  # the event ends this long after its last puff
    confirm_score: float = 0.5  # the optional cigarette detector confirms at this score


# --------------------------------------------------------------------------------------------------------
# One look at one person


@dataclass(frozen=True, slots=True)
class Reading:
    """What one look at a person says: ``status`` (measurable or why not), the hand-to-mouth distance over
    the body scale (None: no hand point seen), whether a face was seen now, and how clear the view is."""

    status: str
    ratio: float | None = None
    face_seen: bool = False
    clarity: float = 0.0
    mouth_box: tuple[float, float, float, float] | None = None  # hand and face, for the confirmation crop


def read_keypoints(points: BodyKeypoints, height_px: float, config: SmokingConfig) -> Reading:
    """Judge one person from their key points. Pure. ``face_seen`` says a face was found now; whether the
    person is measurable also depends on faces seen a moment ago (:class:`GestureTracker` has no say in it:
    the rule keeps that memory)."""
    if points.score < config.min_pose_score:
        return Reading(NO_POSE)
    scale = body_scale(points.points)
    facing = float(points.points[LEFT_SHOULDER, 0] - points.points[RIGHT_SHOULDER, 0]) / scale
    if facing < config.min_facing:
        return Reading(TURNED_AWAY)
    face = points.face if points.face is not None and points.face.score >= config.min_face_score else None
    mouth = np.asarray(face.mouth if face is not None else mouth_point(points.points), np.float32)
    hand = _hand_points(points, config)
    ratio = None
    box = None
    if len(hand):
        distances = np.linalg.norm(hand - mouth, axis=1)
        ratio = float(distances.min()) / scale
        near = hand[distances <= config.far_ratio * scale]
        around = np.vstack([near, mouth[None]]) if len(near) else mouth[None]
        if face is not None:
            around = np.vstack([around, np.asarray(face.xyxy, np.float32).reshape(2, 2)])
        box = _square(around, min_side=0.8 * scale)
    clarity = height_px * (face.score if face is not None else 0.3)
    return Reading(MEASURABLE, ratio, face is not None, clarity, box)


def _hand_points(points: BodyKeypoints, config: SmokingConfig) -> FloatArray:
    """The pose's finger points (pinky, index, thumb) seen well enough, and every confident hand point."""
    fingers = [i for side in HAND_POINTS for i in side[1:] if points.visibility[i] >= config.min_visibility]
    parts = [points.points[fingers]]
    parts += [hand.points for hand in points.hands if hand.score >= config.min_hand_score]
    return np.asarray(np.concatenate(parts), np.float32).reshape(-1, 2)


def _square(points: FloatArray, *, min_side: float) -> tuple[float, float, float, float]:
    x1, y1 = points.min(axis=0)
    x2, y2 = points.max(axis=0)
    side = max(float(x2 - x1), float(y2 - y1), min_side) * 1.5
    cx, cy = float(x1 + x2) / 2, float(y1 + y2) / 2
    return cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2


# --------------------------------------------------------------------------------------------------------
# The gesture over time, for one track


@dataclass(frozen=True, slots=True)
class Puff:
    start_t_s: float
    end_t_s: float
    confirm: float | None = None  # the cigarette detector's best score during it, if it ran


@dataclass
class _Stay:
    start_t_s: float
    end_t_s: float  # the last moment the hand was still near
    left_t_s: float | None = None  # when the hand went away (None: still at the mouth)
    confirm: float | None = None


@dataclass
class GestureTracker:
    """Hand-to-mouth stays and puffs of one track, from one :class:`Reading`'s ratio at a time. Pure: time
    comes only from the calls."""

    config: SmokingConfig
    seen_away: bool = False  # the hand has been seen away from the mouth (a stay needs a beginning)
    stay: _Stay | None = None
    puffs: deque[Puff] = field(default_factory=deque)
    last_look_t_s: float | None = None

    def step(self, t_s: float, ratio: float | None) -> Puff | None:
        """One measurable look at ``t_s``; ``ratio`` None when no hand point was seen. Returns the puff that
        this look completed, if any."""
        config = self.config
        self.last_look_t_s = t_s
        stay = self.stay
        if ratio is not None and ratio >= config.far_ratio:
            self.seen_away = True
            if stay is not None and stay.left_t_s is None:
                stay.left_t_s = t_s
        elif ratio is not None and ratio <= config.near_ratio:
            if stay is None:
                if self.seen_away:
                    self.stay = _Stay(t_s, t_s)
            elif stay.left_t_s is not None:  # back within merge_s: the same stay goes on
                stay.left_t_s = None
                stay.end_t_s = t_s
            else:
                stay.end_t_s = t_s
        elif stay is not None and stay.left_t_s is None:
            # Between the two thresholds, or no hand seen at all (the hand covering the mouth is exactly
            # where the pose loses it): still at the mouth, for at most max_puff_s.
            stay.end_t_s = t_s
        return self.tick(t_s)

    def tick(self, t_s: float) -> Puff | None:
        """Time passes without a measurable look: a stay whose hand left ``merge_s`` ago is judged, one
        without a look for ``max_gap_s`` is lost. Returns a completed puff, if any."""
        config = self.config
        stay = self.stay
        self._forget(t_s)
        if stay is None:
            return None
        if stay.left_t_s is None:
            last = self.last_look_t_s if self.last_look_t_s is not None else stay.end_t_s
            if t_s - last > config.max_gap_s:
                self.stay = None
            return None
        if t_s - stay.left_t_s < config.merge_s:
            return None
        self.stay = None
        duration = stay.end_t_s - stay.start_t_s
        if not config.min_puff_s <= duration <= config.max_puff_s:
            return None
        puff = Puff(stay.start_t_s, stay.end_t_s, stay.confirm)
        self.puffs.append(puff)
        return puff

    def cut(self) -> None:
        """The track was interrupted: a stay in progress is not a puff, and a new one needs the hand away."""
        self.stay = None
        self.seen_away = False

    def recent_puffs(self, t_s: float) -> list[Puff]:
        return [p for p in self.puffs if p.end_t_s >= t_s - self.config.window_s]

    def note_confirmation(self, score: float) -> None:
        if self.stay is not None:
            self.stay.confirm = max(score, self.stay.confirm or 0.0)

    def _forget(self, t_s: float) -> None:
        while self.puffs and self.puffs[0].end_t_s < t_s - self.config.window_s:
            self.puffs.popleft()


# --------------------------------------------------------------------------------------------------------
# Models, optional confirmation, and the measurable share


class KeypointEstimator(Protocol):
    """What the rule needs of :class:`detection.keypoints.KeypointModels` (tests script it)."""

    def estimate(
        self, image: Image, xyxy: tuple[float, float, float, float], *, hands_within: float | None = 0.8
    ) -> BodyKeypoints: ...

    def with_hands(self, image: Image, body: BodyKeypoints, *, within: float = 0.8) -> BodyKeypoints: ...


class Confirmer(Protocol):
    def score(self, image: Image, xyxy: tuple[float, float, float, float]) -> float:
        """0..1: how sure the model is that a cigarette or smoke is in ``xyxy`` (source pixels)."""
        ...


class DetectorConfirmer:
    """A YOLO-format cigarette/smoke detector run on the hand-and-face crop: the best score of its classes
    whose names say cigarette or smoke (of every class when none does)."""

    def __init__(self, detector: ObjectDetector) -> None:
        self._detector = detector
        names = detector.info.class_names
        wanted = [i for i, n in enumerate(names) if any(w in n.lower() for w in CONFIRM_WORDS)]
        self._classes = np.asarray(wanted or range(len(names)), np.int32)

    def score(self, image: Image, xyxy: tuple[float, float, float, float]) -> float:
        height, width = image.shape[:2]
        x1, y1 = max(0, int(xyxy[0])), max(0, int(xyxy[1]))
        x2, y2 = min(width, int(np.ceil(xyxy[2]))), min(height, int(np.ceil(xyxy[3])))
        if x2 - x1 < 8 or y2 - y1 < 8:
            return 0.0
        found = self._detector.detect(image, [Region(x1, y1, x2, y2)])
        hits = found.score[np.isin(found.class_id, self._classes)]
        return float(hits.max()) if len(hits) else 0.0


class LookBudget:
    """Looks (key-point estimates) a second, shared by every camera's rule in a process, so that the smoking
    rule's CPU stays bounded however many people stand in front of the cameras: ``looks_per_s`` in all,
    split evenly among the cameras that asked for looks within the last ``active_s`` (each its own token
    bucket, up to ``burst_s`` of its share at once). Driven by frame times; frames of different cameras
    carry nearly the same wall-clock times."""

    def __init__(self, looks_per_s: float, *, burst_s: float = 1.0, active_s: float = 2.0) -> None:
        self.looks_per_s = looks_per_s
        self._burst_s = burst_s
        self._active_s = active_s
        self._owners: dict[int, list[float]] = {}  # owner → [tokens, last time, last time it wanted looks]
        self._lock = threading.Lock()

    def take(self, owner: int, t_s: float, wanted: int) -> int:
        """How many of ``wanted`` looks ``owner`` (a rule) may run at ``t_s`` (and spends them)."""
        with self._lock:
            state = self._owners.setdefault(owner, [1.0, t_s, t_s])
            if wanted > 0:
                state[2] = max(state[2], t_s)
            active = sum(1 for s in self._owners.values() if s[2] >= t_s - self._active_s) or 1
            share = self.looks_per_s / active
            if t_s > state[1]:
                state[0] = min(max(share * self._burst_s, 1.0), state[0] + (t_s - state[1]) * share)
                state[1] = t_s
            granted = min(wanted, int(state[0]))
            state[0] -= granted
            return granted


@functools.lru_cache(maxsize=8)
def shared_look_budget(looks_per_s: float) -> LookBudget:
    """One budget per rate for the whole process: every camera's smoking rule draws on it."""
    return LookBudget(looks_per_s)


@dataclass(frozen=True, slots=True)
class SmokingModels:
    """Where the smoking rule's models are: the key-point folder (None: the default folders, see
    :func:`detection.keypoints.find_keypoint_models_dir`) and an optional cigarette/smoke detector."""

    keypoints_dir: Path | None = None
    confirm_model: Path | None = None


@functools.lru_cache(maxsize=4)
def load_confirmer(path: Path) -> DetectorConfirmer:
    return DetectorConfirmer(load_detector(path, threads=1, min_score=0.1, require_classes=()))


def load_estimator(models: SmokingModels | None) -> KeypointEstimator:
    """The key-point models (loaded once per process and folder). Raises :class:`DetectionError` with the
    reason when they cannot be used."""
    directory = find_keypoint_models_dir(models.keypoints_dir if models else None)
    if directory is None:
        raise _missing_models()
    return load_keypoint_models(directory)


def plan_smoking(kinds: set[str], models: SmokingModels | None) -> tuple[set[str], list[str]]:
    """``kinds`` without ``smoking`` when its key-point models cannot be loaded, with a note saying why; a
    note too when the optional confirmation model cannot be loaded (the rule then runs without it)."""
    if KIND not in kinds:
        return kinds, []
    try:
        load_estimator(models)
    except (DetectionError, OSError) as exc:
        return kinds - {KIND}, [f"smoking detection is off: {exc}"]
    if models is not None and models.confirm_model is not None:
        try:
            load_confirmer(models.confirm_model)
        except (DetectionError, OSError) as exc:
            return kinds, [f"smoking confirmation is off (the rule runs without it): {exc}"]
    return kinds, []


def _missing_models() -> DetectionError:
    return DetectionError(
        "key-point models not found (install them with .ci/setup, or set detection.keypoint_models_dir)"
    )


@dataclass(frozen=True, slots=True)
class MeasurableShare:
    """How much of what the camera saw the smoking rule could judge: people (tracks) in its zones and
    their time, measurable or not and why."""

    tracks: int = 0
    measurable_tracks: int = 0
    not_measurable_tracks: dict[str, int] = field(default_factory=dict)  # reason → tracks never measurable
    person_s: float = 0.0
    measurable_s: float = 0.0
    not_measurable_s: dict[str, float] = field(default_factory=dict)  # reason → seconds
    looks: int = 0  # key-point estimates run

    @property
    def measurable_share(self) -> float | None:
        return self.measurable_s / self.person_s if self.person_s > 0 else None

    def summary(self) -> str:
        """``12 person tracks, 0 measurable (too small: 12); measurable 0 % of 340 s person-time``."""
        why = ", ".join(f"{REASON_WORDS[r]}: {n}" for r, n in sorted(self.not_measurable_tracks.items()) if n)
        share = self.measurable_share
        text = f"{self.tracks} person tracks, {self.measurable_tracks} measurable"
        text += f" ({why})" if why else ""
        if share is not None:
            text += f"; measurable {100 * share:.0f} % of {self.person_s:.0f} s person-time"
        return text


# --------------------------------------------------------------------------------------------------------
# The rule


@dataclass
class _Person:
    track_id: int
    zone: str | None
    first_t_s: float
    last_seen_t_s: float
    gesture: GestureTracker
    last_look_t_s: float = -1e18
    face_t_s: deque[float] = field(default_factory=deque)  # looks that found a face, recent ones
    status: str = TOO_SMALL
    ever_measurable: bool = False
    seconds: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    boxes: deque[tuple[float, tuple[float, float, float, float]]] = field(default_factory=deque)
    episode: Episode | None = None
    best_clarity: float = 0.0
    confirm_looks: int = 0  # cigarette-detector looks during the current stay
    confirm_best: float | None = None  # its best score over the event's puffs
    last_ratio: float | None = None  # the hand-to-mouth ratio of the last measurable look


@dataclass
class _Zone:
    spec: ZoneSpec
    config: SmokingConfig


class SmokingRule:
    """Smoking events for one camera; see the module docstring."""

    kind = KIND

    def __init__(
        self,
        zones: list[ZoneSpec],
        timezone: ZoneInfo,
        *,
        estimator: KeypointEstimator,
        params: Mapping[str, object] | None = None,
        confirmer: Confirmer | None = None,
        budget: LookBudget | None = None,
    ) -> None:
        """``budget``: the looks this rule may take, shared with the other cameras' rules (default: its
        own, at ``station_looks_per_s``)."""
        base = apply_params(SmokingConfig(), KIND, params or {})
        self._zones = [_Zone(z, apply_params(base, KIND, z.params)) for z in zones if z.watches(KIND)]
        self._timezone = timezone
        self._estimator = estimator
        self._confirmer = confirmer
        self._budget = budget if budget is not None else LookBudget(base.station_looks_per_s)
        self._people: dict[int, _Person] = {}
        # Tracks that ended, by "measurable" or their main reason, and their time. Every key exists from the
        # start, so the health report (another thread) can copy them while they grow.
        self._ended: Counter[str] = Counter(dict.fromkeys((MEASURABLE, *REASONS), 0))
        self._ended_seconds: defaultdict[str, float] = defaultdict(
            float, dict.fromkeys((MEASURABLE, *REASONS), 0.0)
        )
        self._looks = 0

    @classmethod
    def from_models(
        cls,
        zones: list[ZoneSpec],
        timezone: ZoneInfo,
        *,
        params: Mapping[str, object] | None = None,
        models: SmokingModels | None = None,
    ) -> SmokingRule:
        """The rule with the installed models (see :func:`plan_smoking`, which reports when they are not)."""
        confirm = models.confirm_model if models is not None else None
        confirmer: Confirmer | None = None
        if confirm is not None:
            try:
                confirmer = load_confirmer(confirm)
            except (DetectionError, OSError) as exc:
                log.warning("smoking confirmation is off: %s", exc)
        rate = apply_params(SmokingConfig(), KIND, params or {}).station_looks_per_s
        return cls(
            zones,
            timezone,
            estimator=load_estimator(models),
            params=params,
            confirmer=confirmer,
            budget=shared_look_budget(rate),
        )

    def measurable(self) -> MeasurableShare:
        """The camera's measurable share so far (tracks that ended and those still followed). May be called
        from another thread than :meth:`update`'s: it only copies."""
        tracks = Counter(dict(self._ended))
        seconds = defaultdict(float, dict(self._ended_seconds))
        for person in list(self._people.values()):
            tracks[_track_class(person)] += 1
            for status, value in dict(person.seconds).items():
                seconds[status] += value
        not_tracks = {r: tracks[r] for r in REASONS}
        return MeasurableShare(
            tracks=sum(tracks.values()),
            measurable_tracks=tracks[MEASURABLE],
            not_measurable_tracks=not_tracks,
            person_s=round(sum(seconds.values()), 1),
            measurable_s=round(seconds[MEASURABLE], 1),
            not_measurable_s={r: round(seconds[r], 1) for r in REASONS},
            looks=self._looks,
        )

    def update(self, observation: Observation) -> RuleOutput:
        out = RuleOutput()
        t_s = observation.t_s
        present = self._present(observation)
        due: list[tuple[_Person, _Zone, tuple[float, float, float, float]]] = []
        for track_id, (zone, xyxy) in present.items():
            person = self._people.get(track_id)
            if person is None:
                person = _Person(track_id, zone.spec.name, t_s, t_s, GestureTracker(zone.config))
                self._people[track_id] = person
            person.seconds[person.status] += min(t_s - person.last_seen_t_s, MAX_FRAME_GAP_S)
            person.last_seen_t_s = t_s
            person.boxes.append((t_s, xyxy))
            while person.boxes and person.boxes[0][0] < t_s - zone.config.window_s - zone.config.max_puff_s:
                person.boxes.popleft()
            if self._is_due(person, zone.config, xyxy, t_s):
                due.append((person, zone, xyxy))
        per_frame = min((z.config.max_people for z in self._zones), default=0)
        budget = self._budget.take(id(self), t_s, min(per_frame, len(due)))
        due.sort(key=lambda item: item[0].last_look_t_s)
        looked = {p.track_id for p, _, _ in due[:budget]}
        for person, zone, xyxy in due[:budget]:
            self._look(person, zone.config, observation, xyxy, out)
        for track_id, person in list(self._people.items()):
            if track_id not in looked:
                self._wait(person, t_s, out)
            if t_s - person.last_seen_t_s > GONE_AFTER_S:
                self._end(person, out)
        return out

    def finish(self, t_s: float) -> RuleOutput:
        out = RuleOutput()
        for person in list(self._people.values()):
            self._end(person, out)
        return out

    # -- which people, and when to look

    def _present(self, obs: Observation) -> dict[int, tuple[_Zone, tuple[float, float, float, float]]]:
        """People whose feet are in a watching zone that is scheduled now (the first such zone)."""
        present: dict[int, tuple[_Zone, tuple[float, float, float, float]]] = {}
        active = [z for z in self._zones if is_scheduled(z.spec.schedule, obs.ts_utc, self._timezone)]
        for track in obs.tracks:
            if track.class_name != "person" or track.track_id in present:
                continue
            for zone in active:
                if zone.spec.holds_feet(track.xyxy, obs.frame_size):
                    present[track.track_id] = (zone, track.xyxy)
                    break
        return present

    def _is_due(
        self, person: _Person, config: SmokingConfig, xyxy: tuple[float, float, float, float], t_s: float
    ) -> bool:
        height = xyxy[3] - xyxy[1]
        # Hysteresis on size: a measurable person stays so down to 90 % of the minimum height.
        small = height < config.min_height_px * (0.9 if person.status == MEASURABLE else 1.0)
        if small:
            person.status = TOO_SMALL
            return False
        watching = person.gesture.stay is not None or (
            person.last_ratio is not None and person.last_ratio < config.watch_ratio
        )
        rate = config.rate_fps if watching else config.idle_rate_fps
        return t_s - person.last_look_t_s >= 0.9 / max(rate, 0.01)

    def _look(
        self,
        person: _Person,
        config: SmokingConfig,
        obs: Observation,
        xyxy: tuple[float, float, float, float],
        out: RuleOutput,
    ) -> None:
        if obs.image is None:
            return
        t_s = obs.t_s
        person.last_look_t_s = t_s
        self._looks += 1
        # Pose and face first; the hand model (the dearer part) only for someone the rule can judge.
        points = self._estimator.estimate(obs.image, xyxy, hands_within=None)
        reading = read_keypoints(points, xyxy[3] - xyxy[1], config)
        if reading.face_seen:
            person.face_t_s.append(t_s)
        while person.face_t_s and person.face_t_s[0] < t_s - config.face_memory_s:
            person.face_t_s.popleft()
        if reading.status == MEASURABLE and len(person.face_t_s) < config.min_face_looks:
            reading = Reading(TURNED_AWAY)
        if reading.status == MEASURABLE:
            points = self._estimator.with_hands(obs.image, points, within=config.hands_within)
            reading = read_keypoints(points, xyxy[3] - xyxy[1], config)
        person.status = reading.status
        person.last_ratio = reading.ratio if reading.status == MEASURABLE else None
        if reading.status != MEASURABLE:
            self._wait(person, t_s, out)
            return
        person.ever_measurable = True
        near = reading.ratio is not None and reading.ratio <= config.far_ratio
        if (
            near
            and self._confirmer is not None
            and reading.mouth_box is not None
            and person.confirm_looks < 3
        ):
            person.confirm_looks += 1
            person.gesture.note_confirmation(self._confirmer.score(obs.image, reading.mouth_box))
        puff = person.gesture.step(t_s, reading.ratio)
        if person.gesture.stay is None:
            person.confirm_looks = 0
        self._after_step(person, config, t_s, puff, out)
        if near and person.episode is not None and reading.clarity > person.best_clarity * 1.05:
            person.best_clarity = reading.clarity
            person.episode.best_t_s = t_s
            out.improved.append(person.episode)

    def _wait(self, person: _Person, t_s: float, out: RuleOutput) -> None:
        """No measurable look at this person now: time still passes for the gesture and the event."""
        self._after_step(person, person.gesture.config, t_s, person.gesture.tick(t_s), out)

    # -- events

    def _after_step(
        self, person: _Person, config: SmokingConfig, t_s: float, puff: Puff | None, out: RuleOutput
    ) -> None:
        episode = person.episode
        if puff is not None:
            recent = person.gesture.recent_puffs(t_s)
            if episode is None and len(recent) >= config.min_puffs:
                self._open(person, config, recent, t_s, out)
            elif episode is not None:
                episode.end_t_s = puff.end_t_s
                self._describe(person, config, episode, [puff])
        elif episode is not None and t_s - episode.end_t_s > config.end_after_s:
            self._close(person, out)

    def _open(
        self, person: _Person, config: SmokingConfig, puffs: list[Puff], t_s: float, out: RuleOutput
    ) -> None:
        episode = Episode(
            kind=KIND,
            zone=person.zone,
            start_t_s=puffs[0].start_t_s,
            end_t_s=puffs[-1].end_t_s,
            box=(0.0, 0.0, 0.0, 0.0),
            score=0.0,
            track=person.track_id,
            best_t_s=t_s,
        )
        person.episode = episode
        person.best_clarity = 0.0
        person.confirm_best = None
        self._describe(person, config, episode, puffs)
        out.opened.append(episode)
        out.improved.append(episode)

    def _describe(
        self, person: _Person, config: SmokingConfig, episode: Episode, new_puffs: list[Puff]
    ) -> None:
        """Box (the person over the whole episode), puff count, score and confirmation, after new puffs."""
        boxes = np.asarray([b for t, b in person.boxes if t >= episode.start_t_s] or [person.boxes[-1][1]])
        episode.box = (
            float(boxes[:, 0].min()),
            float(boxes[:, 1].min()),
            float(boxes[:, 2].max()),
            float(boxes[:, 3].max()),
        )
        total = int(str(episode.detail.get("puffs", 0))) + len(new_puffs)
        episode.detail["puffs"] = total
        score = min(0.6 + 0.1 * (total - config.min_puffs), 0.9)
        for puff in new_puffs:
            if puff.confirm is not None:
                person.confirm_best = max(person.confirm_best or 0.0, puff.confirm)
        if person.confirm_best is not None:
            # The detector's best look: 0 halves the confidence, 0.5 leaves it, 1 raises it by half.
            score = min(score * (0.5 + person.confirm_best), 0.99)
            episode.detail["confirmed"] = person.confirm_best >= config.confirm_score
        episode.score = round(score, 3)

    def _close(self, person: _Person, out: RuleOutput) -> None:
        assert person.episode is not None
        person.episode.closed = True
        out.closed.append(person.episode)
        person.episode = None

    def _end(self, person: _Person, out: RuleOutput) -> None:
        """The track has ended: a stay in progress is lost, an open event ends."""
        person.gesture.cut()
        if person.episode is not None:
            self._close(person, out)
        self._ended[_track_class(person)] += 1
        for status, value in person.seconds.items():
            self._ended_seconds[status] += value
        del self._people[person.track_id]


def _track_class(person: _Person) -> str:
    """A track counts as measurable when it ever was; else under the reason it spent most time with."""
    if person.ever_measurable:
        return MEASURABLE
    reasons = {r: person.seconds[r] for r in REASONS}
    if not any(reasons.values()):
        return person.status if person.status in REASONS else TOO_SMALL
    return max(reasons, key=lambda r: reasons[r])
