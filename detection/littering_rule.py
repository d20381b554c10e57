"""Littering: an object put down and left, with the person who brought it.

Built on :class:`detection.static_object.StaticObjectModel` (static blobs) and the person tracks:

- **Not an object**: a blob mostly covered by a person's box (someone standing still), a ghost (something
  taken away), a blob outside the littering zones or in a fixture mask, or one outside the size range.
- **Owner**: when a blob becomes static, the person tracks of the last ``owner_window_s`` are searched for
  who was at it when it appeared: who stayed longest within ``owner_distance_h`` body heights of it until
  it was static (putting a thing down takes a stop; a passer-by is near it for a moment). The owner is who
  was with the object then, not whoever walks past later.
- **Alarm**: the object has been static for ``dwell_s`` AND its owner has been away (farther than
  ``owner_distance_h`` body heights, or out of view) for ``owner_away_s``. Only the owner counts: a person
  next to their bag is not littering, however long they stand, and someone else standing by it does not
  excuse the owner. When the owner's track breaks (an occlusion) a new track where they were continues it,
  unless it looks unlike them; a person in the owner's clothes near the object is the owner only if their
  track began after the owner's was last seen.
  Without an owner (none seen) there is no alarm unless ``require_owner`` is off.
- **Once**: one place alarms once until its object goes; the event ends when the object is gone.
- **Discontinuity** (:meth:`LitteringRule.restart`: a reconnect, a jump of the stream's clock, a new size;
  or a change of most of the picture that the static model restarts on by itself): the backgrounds, the
  evidence, the objects and the track history start afresh, and open events end there. The new backgrounds
  take in whatever lies in the first frame, so an object that already alarmed and is still there is part
  of the scene and does not alarm again; one that was hidden then (behind a person) and is found at the
  same place within ``dwell_s`` of the restart is taken for the same object and stays silent until it goes.
- **Confirmation**: a detector box of a bag-like class (backpack, handbag, suitcase, bottle...) on the
  object raises the score; shapeless rubbish bags alarm without it.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import cv2
import numpy as np
from numpy.typing import NDArray

from detection.frame import Image
from detection.param import apply_params
from detection.rule import Episode, Observation, RuleOutput
from detection.schedule import is_scheduled
from detection.static_object import StaticBlob, StaticConfig, StaticObjectModel
from detection.track import Track
from detection.zone import ZoneSpec

BAG_CLASSES = frozenset({"backpack", "handbag", "suitcase", "bottle", "umbrella", "cup", "box", "bag"})


@dataclass(frozen=True, slots=True)
class LitteringConfig:
    """``littering.*`` parameters of the rule (the static model's are in :class:`StaticConfig`)."""

    dwell_s: float = 30.0
    owner_away_s: float = 15.0
    owner_distance_h: float = 1.5
    owner_window_s: float = 20.0
    relink_s: float = 3.0
    same_look: float = (
        0.35  # Bhattacharyya distance of clothes' colours under which two tracks are one person
    )
    person_overlap: float = 0.4
    require_owner: bool = True
    gone_s: float = 4.0


@dataclass
class _Sample:
    t_s: float
    track_id: int
    box: tuple[float, float, float, float]


@dataclass
class _Object:
    blob: StaticBlob
    zone: str | None
    owner: int | None = None
    owner_height: float = 0.0
    owner_arrival_t_s: float | None = None
    owner_path: list[tuple[float, float]] = field(default_factory=list)
    confirmed_at_t_s: float | None = None  # when it first counted as an object (not a person, not a ghost)
    box: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    confirmed_box: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    appeared_t_s: float = 0.0
    away_since_t_s: float | None = None
    owner_look: NDArray[np.float32] | None = None
    owner_last_box: tuple[float, float, float, float] | None = None
    owner_last_t_s: float = 0.0
    bag_class: str | None = None
    episode: Episode | None = None
    alarmed: bool = False


@dataclass(frozen=True, slots=True)
class _AlarmedPlace:
    """Where an object had alarmed when the picture broke: one found there again is the same object."""

    box: tuple[float, float, float, float]
    until_t_s: float


@dataclass
class LitteringRule:
    zones: list[ZoneSpec]
    timezone: ZoneInfo
    params: Mapping[str, object] = field(default_factory=dict)
    masks: list[list[tuple[float, float]]] = field(default_factory=list)
    fps: float = 5.0
    kind: str = "littering"

    def __post_init__(self) -> None:
        static_names = {f"littering.{n}" for n in StaticConfig.__dataclass_fields__}
        static = {k: v for k, v in self.params.items() if k in static_names}
        rule = {k: v for k, v in self.params.items() if k.startswith("littering.") and k not in static_names}
        self._model = StaticObjectModel(apply_params(StaticConfig(), "littering", static), fps=self.fps)
        self._model.set_exclusions(self.masks)
        self.config = apply_params(LitteringConfig(), "littering", rule)
        self._zones = [z for z in self.zones if z.watches("littering")]
        self._zone_configs = {
            z.name: apply_params(
                self.config, "littering", {k: v for k, v in z.params.items() if k not in static_names}
            )
            for z in self._zones
        }
        self._history: deque[_Sample] = deque()
        self._first_seen: dict[int, float] = {}
        self._objects: dict[int, _Object] = {}
        self._looks: dict[int, NDArray[np.float32]] = {}  # this frame's people: their clothes' colours
        self._last_look: dict[int, NDArray[np.float32]] = {}
        self._alarmed_places: list[_AlarmedPlace] = []
        self._model_resets = 0
        self.restarts = 0

    def restart(self, t_s: float) -> RuleOutput:
        """The picture may not continue the last frame: start the backgrounds, the evidence, the objects
        and the track history afresh; open events end at ``t_s`` (the last frame before the break). Places
        that had alarmed are remembered for ``dwell_s`` so that their object, found again, stays silent."""
        self._model.restart()
        self._history.clear()
        self._first_seen.clear()
        self._looks, self._last_look = {}, {}
        self.restarts += 1
        return self._drop_objects(t_s)

    def _drop_objects(self, t_s: float) -> RuleOutput:
        out = RuleOutput()
        for blob_id, obj in list(self._objects.items()):
            if obj.alarmed:
                until = t_s + self._config(obj).dwell_s
                self._alarmed_places.append(_AlarmedPlace(obj.box, until))
            self._forget(blob_id, obj, out)
        return out

    def update(self, obs: Observation) -> RuleOutput:
        out = RuleOutput()
        if obs.image is None:
            return out
        people = [t for t in obs.tracks if t.class_name == "person"]
        self._remember(people, obs.t_s)
        self._looks = {
            p.track_id: look for p in people if (look := _appearance(obs.image, p.xyxy)) is not None
        }
        for track_id, look in self._looks.items():
            self._last_look[track_id] = look
        frozen = [o.blob.box for o in self._objects.values() if o.confirmed_at_t_s is not None]
        blobs = self._model.update(obs.image, obs.t_s, frozen, [p.xyxy for p in people])
        if self._model.resets != self._model_resets:
            # Most of the picture changed at once (the model learnt it afresh): its objects go with it.
            self._model_resets = self._model.resets
            out.extend(self._drop_objects(obs.t_s))
        self._alarmed_places = [p for p in self._alarmed_places if p.until_t_s >= obs.t_s]
        seen: set[int] = set()
        for blob in blobs:
            obj = self._objects.get(blob.blob_id) or self._same_place(blob, seen)
            if obj is not None and obj.blob is not blob:
                del self._objects[obj.blob.blob_id]
                obj.blob = blob  # the model split or merged blobs: still the same object at the same place
                self._objects[blob.blob_id] = obj
            if obj is None:
                zone = self._zone_of(blob, obs)
                if zone is False:
                    continue
                obj = _Object(blob, zone if isinstance(zone, str) else None)
                self._objects[blob.blob_id] = obj
            seen.add(blob.blob_id)
            self._observe(obj, obs, people, out)
        for blob_id, obj in list(self._objects.items()):
            if blob_id not in seen and obs.t_s - obj.blob.last_seen_t_s > self._config(obj).gone_s:
                self._forget(blob_id, obj, out)
        return out

    def _same_place(self, blob: StaticBlob, seen: set[int]) -> _Object | None:
        for obj in self._objects.values():
            placed = obj.confirmed_at_t_s is not None and obj.blob.blob_id not in seen
            if placed and (_covered(obj.box, blob.box) >= 0.5 or _iou(obj.box, blob.box) >= 0.3):
                return obj
        return None

    def finish(self, t_s: float) -> RuleOutput:
        out = RuleOutput()
        for blob_id, obj in list(self._objects.items()):
            self._forget(blob_id, obj, out)
        return out

    # --- per object --------------------------------------------------------------------------------

    def _config(self, obj: _Object) -> LitteringConfig:
        return self._zone_configs.get(obj.zone, self.config) if obj.zone is not None else self.config

    def _zone_of(self, blob: StaticBlob, obs: Observation) -> str | bool | None:
        """The littering zone the object lies in (None: the whole frame), or False when outside all."""
        if not self._zones:
            return None
        for zone in self._zones:
            if zone.holds_feet(blob.box, obs.frame_size) and is_scheduled(
                zone.schedule, obs.ts_utc, self.timezone
            ):
                return zone.name
        return False

    def _observe(self, obj: _Object, obs: Observation, people: list[Track], out: RuleOutput) -> None:
        config = self._config(obj)
        covered = max((_covered(obj.blob.box, p.xyxy) for p in people), default=0.0)
        if obj.confirmed_at_t_s is None:
            if covered >= config.person_overlap:
                return  # a person standing still, or someone in front of it: not (yet) an object
            if self._model.check_ghost(obj.blob):
                return  # something taken away, not put down
            obj.confirmed_at_t_s = obs.t_s
            obj.box = obj.confirmed_box = obj.blob.box
            obj.appeared_t_s = self._model.appeared_t_s(obj.blob)
            self._attribute(obj)
            obj.alarmed = self._alarmed_before(obj.box)
        if not obj.alarmed:
            # Still filling in (parts were hidden under the owner): the object is what had changed by the
            # time it was confirmed; what changed later and touches it is something else.
            obj.box = self._model.object_box(obj.blob, obj.confirmed_at_t_s) or obj.box
        obj.bag_class = obj.bag_class or _bag_class(obj.box, obs)
        if obj.alarmed:
            if obj.episode is not None:
                obj.episode.end_t_s = obs.t_s
            return
        if self._attended(obj, people, obs.t_s, config):
            obj.away_since_t_s = None
        elif obj.away_since_t_s is None:
            obj.away_since_t_s = self._last_near(obj, config, default=obs.t_s)
        static_for = obs.t_s - obj.appeared_t_s
        away_for = obs.t_s - obj.away_since_t_s if obj.away_since_t_s is not None else 0.0
        if obj.owner is None and config.require_owner:
            return
        if static_for >= config.dwell_s and away_for >= config.owner_away_s:
            self._alarm(obj, obs, out)

    def _alarmed_before(self, box: tuple[float, float, float, float]) -> bool:
        """Did an object at this place alarm before the picture broke? (Then this is that object.)"""
        for place in self._alarmed_places:
            if _covered(box, place.box) >= 0.5 or _iou(box, place.box) >= 0.3:
                self._alarmed_places.remove(place)
                return True
        return False

    def _attended(self, obj: _Object, people: list[Track], t_s: float, config: LitteringConfig) -> bool:
        """Is the owner with their object? Only the owner counts: someone else standing by it does not make
        it attended. When the owner's track ends and a new track starts where they were within
        ``relink_s`` (an occlusion made the tracker give them a new id), that track is the owner."""
        by_id = {p.track_id: p for p in people}
        owner = by_id.get(obj.owner) if obj.owner is not None else None
        if owner is None and obj.owner_last_box is not None and t_s - obj.owner_last_t_s <= config.relink_s:
            for person in people:
                fresh = self._began_after_owner(obj, person, t_s)
                if fresh and _iou(person.xyxy, obj.owner_last_box) >= 0.3 and self._may_be_owner(obj, person):
                    obj.owner, owner = person.track_id, person
                    break
        if owner is None and obj.owner_look is not None:
            # A tracker loses people in a crowd and gives them new ids: the person near the object who
            # wears the owner's clothes is the owner, if their track began after the owner's was last
            # seen (two tracks seen at the same time are two people, however alike they dress).
            for person in people:
                look = self._looks.get(person.track_id)
                near = _distance_h(obj.box, person.xyxy) <= config.owner_distance_h
                fresh = self._began_after_owner(obj, person, t_s)
                if near and fresh and look is not None and _same_look(look, obj.owner_look, config.same_look):
                    obj.owner, owner = person.track_id, person
                    break
        if owner is None:
            return False
        obj.owner_last_box, obj.owner_last_t_s = owner.xyxy, t_s
        obj.owner_path.append(owner.bottom_centre)
        return _distance_h(obj.box, owner.xyxy) <= config.owner_distance_h

    def _began_after_owner(self, obj: _Object, person: Track, t_s: float) -> bool:
        """Did ``person``'s track begin after the owner's was last seen (half a second's slack)?"""
        return self._first_seen.get(person.track_id, t_s) >= obj.owner_last_t_s - 0.5

    def _may_be_owner(self, obj: _Object, person: Track) -> bool:
        """Someone who takes up the owner's lost track where the owner was last seen (the frame's edge, a
        door) must not look unlike them: whoever comes in where the owner went out is not the owner."""
        look = self._looks.get(person.track_id)
        if look is None or obj.owner_look is None:
            return True
        return _same_look(look, obj.owner_look, self._config(obj).same_look)

    def _attribute(self, obj: _Object) -> None:
        """The owner: who stayed longest with the object (within ``owner_distance_h`` body heights) from
        ``owner_window_s`` before it appeared until it was static. Putting a thing down takes a stop;
        passers-by are near it for a moment (ties: the nearest, then the closest in time)."""
        config = self._config(obj)
        appeared = obj.appeared_t_s
        near: dict[int, list[_Sample]] = {}
        for sample in self._history:
            in_window = appeared - config.owner_window_s <= sample.t_s <= obj.blob.first_static_t_s
            if in_window and _distance_h(obj.box, sample.box) <= config.owner_distance_h:
                near.setdefault(sample.track_id, []).append(sample)
        if not near:
            return

        def rank(samples: list[_Sample]) -> tuple[int, float, float]:
            closest = min(_distance_h(obj.box, s.box) for s in samples)
            return len(samples), -closest, -min(abs(s.t_s - appeared) for s in samples)

        owner = max(near.values(), key=rank)[-1]
        obj.owner = owner.track_id
        obj.owner_look = self._last_look.get(owner.track_id)
        obj.owner_height = owner.box[3] - owner.box[1]
        obj.owner_arrival_t_s = self._first_seen.get(owner.track_id, owner.t_s)
        samples = [s for s in self._history if s.track_id == owner.track_id]
        obj.owner_path = [((s.box[0] + s.box[2]) / 2, s.box[3]) for s in samples]
        obj.owner_last_box, obj.owner_last_t_s = samples[-1].box, samples[-1].t_s

    def _last_near(self, obj: _Object, config: LitteringConfig, *, default: float) -> float:
        """When the owner was last within reach of the object (from the track history): the away clock runs
        from then, not from when the object was noticed."""
        if obj.owner is None:
            return min(default, obj.appeared_t_s)
        last = None
        for sample in self._history:
            if sample.track_id == obj.owner and _distance_h(obj.box, sample.box) <= config.owner_distance_h:
                last = sample.t_s
        return last if last is not None else min(default, obj.appeared_t_s)

    def _alarm(self, obj: _Object, obs: Observation, out: RuleOutput) -> None:
        obj.alarmed = True
        score = 0.6 + (0.3 if obj.bag_class else 0.0) + (0.1 if obj.owner is not None else 0.0)
        episode = Episode(
            kind=self.kind,
            zone=obj.zone,
            start_t_s=obs.t_s,
            end_t_s=obs.t_s,
            box=obj.box,
            score=min(score, 1.0),
            track=obj.owner,
            best_t_s=obs.t_s,
        )
        episode.detail.update(
            {
                "object_appeared_t_s": obj.appeared_t_s,
                "owner_arrival_t_s": obj.owner_arrival_t_s,
                "object_class": obj.bag_class,
                "owner_path": [[round(x, 1), round(y, 1)] for x, y in obj.owner_path[-200:]],
            }
        )
        obj.episode = episode
        out.opened.append(episode)
        out.improved.append(episode)

    def _forget(self, blob_id: int, obj: _Object, out: RuleOutput) -> None:
        del self._objects[blob_id]
        if obj.episode is not None and not obj.episode.closed:
            obj.episode.closed = True
            out.closed.append(obj.episode)

    def _remember(self, people: list[Track], t_s: float) -> None:
        for person in people:
            self._history.append(_Sample(t_s, person.track_id, person.xyxy))
            self._first_seen.setdefault(person.track_id, t_s)
        horizon = t_s - max(self.config.owner_window_s + self._model.config.static_s + 30.0, 60.0)
        while self._history and self._history[0].t_s < horizon:
            self._history.popleft()
        if len(self._first_seen) > 5000:
            live = {s.track_id for s in self._history}
            self._first_seen = {k: v for k, v in self._first_seen.items() if k in live}


def _iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    inter = _covered(a, b) * max((a[2] - a[0]) * (a[3] - a[1]), 1e-6)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _covered(box: tuple[float, float, float, float], person: tuple[float, float, float, float]) -> float:
    """Share of ``box`` inside ``person``."""
    x1, y1 = max(box[0], person[0]), max(box[1], person[1])
    x2, y2 = min(box[2], person[2]), min(box[3], person[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    area = max((box[2] - box[0]) * (box[3] - box[1]), 1e-6)
    return inter / area


def _distance_h(box: tuple[float, float, float, float], person: tuple[float, float, float, float]) -> float:
    """Distance from the object to the person's feet, in the person's body heights (0 when touching)."""
    feet_x, feet_y = (person[0] + person[2]) / 2, person[3]
    dx = max(box[0] - feet_x, 0.0, feet_x - box[2])
    dy = max(box[1] - feet_y, 0.0, feet_y - box[3])
    height = max(person[3] - person[1], 1.0)
    return math.hypot(dx, dy) / height


def _bag_class(box: tuple[float, float, float, float], obs: Observation) -> str | None:
    found = obs.detections
    for index in range(len(found)):
        class_id = int(found.class_id[index])
        name = obs.class_names[class_id] if 0 <= class_id < len(obs.class_names) else ""
        if name in BAG_CLASSES:
            row = found.xyxy[index]
            if _covered(box, (float(row[0]), float(row[1]), float(row[2]), float(row[3]))) > 0.3:
                return name
    return None


def _appearance(image: Image, box: tuple[float, float, float, float]) -> NDArray[np.float32] | None:
    """The colours of a person's clothes (hue-saturation histogram of the torso), to know them again."""
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    if w < 6 or h < 12:
        return None
    crop = image[int(y1 + 0.15 * h) : int(y1 + 0.6 * h), int(x1 + 0.2 * w) : int(x2 - 0.2 * w)]
    if crop.size == 0:
        return None
    hsv = cv2.cvtColor(crop, cv2.COLOR_BGR2HSV)
    hist = cv2.calcHist([hsv], [0, 1], None, [12, 6], [0, 180, 0, 256])
    cv2.normalize(hist, hist)
    return np.asarray(hist, np.float32)


def _same_look(a: NDArray[np.float32], b: NDArray[np.float32], limit: float) -> bool:
    return float(cv2.compareHist(a, b, cv2.HISTCMP_BHATTACHARYYA)) < limit
