"""Synthetic key-point tracks for the smoking rule: a person in a box, where the hand is, moment by moment.

The body is laid out in proportions of the box height ``H`` (shoulders 0.24 H apart, mouth 0.1 H below the
top), as MediaPipe's pose model reports a standing adult facing the camera. A *script* says where the hand's
fingertips are at each time: ``"down"`` (by the hip), ``"mouth"``, ``"chin"``, ``"ear"`` (a phone),
``"shoulder"`` (a cigarette held at shoulder height), or an explicit hand-to-mouth distance over shoulder
width. The same scripts drive the rule's tests; no footage is needed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from detection.frame import Image
from detection.keypoints import BodyKeypoints, FaceFinding, HandKeypoints
from detection.motion import Motion
from detection.rule import Observation
from detection.track import Track

EPOCH = 1_764_000_000.0
SHOULDER = 0.24  # shoulder width over box height
Script = Callable[[float], "str | float"]  # seconds from the start → where the hand is


def _layout(xyxy: tuple[float, float, float, float], facing: float) -> dict[str, tuple[float, float]]:
    x1, y1, x2, y2 = xyxy
    h = y2 - y1
    cx = (x1 + x2) / 2

    def at(dx: float, dy: float) -> tuple[float, float]:
        return cx + dx * h, y1 + dy * h

    side = facing  # the person's left appears on the image's right when they face the camera
    return {
        "nose": at(0, 0.07),
        "eye_l": at(0.02 * side, 0.055),
        "eye_r": at(-0.02 * side, 0.055),
        "ear_l": at(0.05 * side, 0.065),
        "ear_r": at(-0.05 * side, 0.065),
        "mouth": at(0, 0.1),
        "shoulder_l": at(SHOULDER / 2 * side, 0.19),
        "shoulder_r": at(-SHOULDER / 2 * side, 0.19),
        "elbow_l": at(0.14 * side, 0.33),
        "elbow_r": at(-0.14 * side, 0.33),
        "hip_l": at(0.08 * side, 0.5),
        "hip_r": at(-0.08 * side, 0.5),
        "knee_l": at(0.07 * side, 0.72),
        "knee_r": at(-0.07 * side, 0.72),
        "ankle_l": at(0.07 * side, 0.95),
        "ankle_r": at(-0.07 * side, 0.95),
        "chin": at(0, 0.125),
        "down_r": at(-0.17 * side, 0.5),
        "down_l": at(0.17 * side, 0.5),
        "shoulder_hold": at(-0.13 * side, 0.16),
    }


def _fingertips(where: str | float, parts: dict[str, tuple[float, float]], h: float) -> tuple[float, float]:
    """Where the right hand's fingertips are."""
    if isinstance(where, float | int):
        mouth = parts["mouth"]
        return mouth[0] - float(where) * SHOULDER * h, mouth[1]  # straight to the side of the mouth
    named = {"down": "down_r", "mouth": "mouth", "chin": "chin", "ear": "ear_r", "shoulder": "shoulder_hold"}
    return parts[named[where]]


def body(
    xyxy: tuple[float, float, float, float],
    where: str | float = "down",
    *,
    facing: float = 1.0,
    face_score: float = 0.9,
    pose_score: float = 0.99,
    pose_hand_visible: bool = True,
    hand_model: bool = False,
) -> BodyKeypoints:
    """One person's key points with the right hand's fingertips ``where``; the left hand hangs down.
    ``pose_hand_visible=False`` is the pose losing the hand at the mouth (only ``hand_model`` sees it)."""
    h = xyxy[3] - xyxy[1]
    parts = _layout(xyxy, facing)
    tip = np.asarray(_fingertips(where, parts, h), np.float32)
    wrist_r = tip + np.asarray([0.0, 0.08 * h], np.float32)
    left_tip = np.asarray(parts["down_l"], np.float32)
    points = np.zeros((33, 2), np.float32)
    order = [
        ("nose", 0), ("eye_l", 1), ("eye_l", 2), ("eye_l", 3), ("eye_r", 4), ("eye_r", 5), ("eye_r", 6),
        ("ear_l", 7), ("ear_r", 8), ("shoulder_l", 11), ("shoulder_r", 12), ("elbow_l", 13), ("elbow_r", 14),
        ("hip_l", 23), ("hip_r", 24), ("knee_l", 25), ("knee_r", 26), ("ankle_l", 27), ("ankle_r", 28),
        ("ankle_l", 29), ("ankle_r", 30), ("ankle_l", 31), ("ankle_r", 32),
    ]  # fmt: skip
    for name, index in order:
        points[index] = parts[name]
    mouth = np.asarray(parts["mouth"], np.float32)
    points[9] = mouth + np.asarray([0.015 * h * facing, 0], np.float32)
    points[10] = mouth - np.asarray([0.015 * h * facing, 0], np.float32)
    points[15] = left_tip + np.asarray([0, 0.06 * h], np.float32)
    points[16] = wrist_r
    for index, offset in ((17, (0.01, 0.0)), (19, (-0.01, 0.0)), (21, (0.0, 0.01))):
        points[index] = left_tip + np.asarray(offset, np.float32) * h
    for index, offset in ((18, (0.01, 0.0)), (20, (-0.01, 0.0)), (22, (0.0, 0.01))):
        points[index] = tip + np.asarray(offset, np.float32) * h
    visibility = np.full((33,), 0.95, np.float32)
    if not pose_hand_visible:
        visibility[[16, 18, 20, 22]] = 0.1
    face = None
    if face_score > 0:
        fx, fy = parts["nose"]
        box = (fx - 0.05 * h, fy - 0.05 * h, fx + 0.05 * h, fy + 0.07 * h)
        face = FaceFinding(face_score, box, (float(mouth[0]), float(mouth[1])))
    hands: tuple[HandKeypoints, ...] = ()
    if hand_model:
        spread = np.linspace(-0.02, 0.02, 21, dtype=np.float32)[:, None] * h
        hand_points = np.asarray(tip + np.hstack([spread, np.abs(spread)]), np.float32)
        hands = (HandKeypoints(hand_points, 0.9),)
    return BodyKeypoints(points, visibility, pose_score, face, hands)


@dataclass
class ScriptedPerson:
    """A track whose hand follows ``script`` (seconds from the start → where the hand is)."""

    track_id: int
    xyxy: tuple[float, float, float, float]
    script: Script
    facing: float = 1.0
    face_score: float = 0.9
    pose_hand_visible_at_mouth: bool = True
    visible: Callable[[float], bool] = lambda t: True

    def keypoints(self, t: float) -> BodyKeypoints:
        where = self.script(t)
        at_mouth = where == "mouth" or (isinstance(where, float) and where < 0.2)
        hidden = at_mouth and not self.pose_hand_visible_at_mouth
        return body(
            self.xyxy,
            where,
            facing=self.facing,
            face_score=self.face_score,
            pose_hand_visible=not hidden,
            hand_model=hidden,
        )


@dataclass
class ScriptedEstimator:
    """Stands in for the key-point models: each box gets its scripted person's key points at that time."""

    people: list[ScriptedPerson]
    now: float = 0.0
    calls: list[tuple[float, int]] = field(default_factory=list)
    hand_looks: int = 0

    def estimate(
        self, image: Image, xyxy: tuple[float, float, float, float], *, hands_within: float | None = 0.8
    ) -> BodyKeypoints:
        person = next(p for p in self.people if p.xyxy == xyxy)
        self.calls.append((self.now, person.track_id))
        points = person.keypoints(self.now)
        return points if hands_within is not None else dataclasses.replace(points, hands=())

    def with_hands(self, image: Image, body: BodyKeypoints, *, within: float = 0.8) -> BodyKeypoints:
        _, track_id = self.calls[-1]
        person = next(p for p in self.people if p.track_id == track_id)
        self.hand_looks += 1
        return person.keypoints(self.now)


FRAME = np.zeros((720, 1280, 3), np.uint8)


def observation(t: float, people: list[ScriptedPerson]) -> Observation:
    tracks = tuple(Track(p.track_id, p.xyxy, 0.9, "person", EPOCH) for p in people if p.visible(t))
    ts = datetime.fromtimestamp(EPOCH + t, UTC)
    return Observation(EPOCH + t, ts, (1280, 720), tracks, Motion.none(), image=FRAME)


def puffs(*spans: tuple[float, float], rest: str | float = "down", travel_s: float = 0.6) -> Script:
    """The hand at the mouth during each (start, end) span, ``rest`` otherwise; on its way up and down for
    ``travel_s`` around each span (from 1.6 to 0.6 shoulder widths from the mouth, still "away")."""

    def where(t: float) -> str | float:
        for a, b in spans:
            if a <= t < b:
                return "mouth"
            if a - travel_s <= t < a:
                return 0.6 + (a - t) / travel_s
            if b <= t < b + travel_s:
                return 0.6 + (t - b) / travel_s
        return rest

    return where
