"""The motion gate and the motion rule on synthetic frames."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np

from detection.motion import MotionDetector
from detection.motion_rule import MotionRule
from detection.rule import Observation
from detection.zone import WHOLE_FRAME


def _scene(seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.integers(60, 190, (36, 48, 3), dtype=np.uint8)
    return np.kron(base, np.ones((16, 16, 1), np.uint8))  # 576 x 768, textured like a yard


def _with_square(scene: np.ndarray, x: int, y: int, size: int = 60) -> np.ndarray:
    out = scene.copy()
    out[y : y + size, x : x + size] = (20, 20, 220)
    return out


def test_a_still_scene_has_no_motion() -> None:
    gate = MotionDetector()
    scene = _scene()
    results = [gate.detect(scene) for _ in range(20)]
    assert not any(results)


def test_a_moving_object_gives_a_box_where_it_is() -> None:
    gate = MotionDetector()
    scene = _scene()
    for _ in range(10):
        gate.detect(scene)
    motion = gate.detect(_with_square(scene, 400, 300))
    assert motion
    x1, y1, x2, y2 = motion.boxes.max(axis=0)
    assert motion.boxes[:, 0].min() <= 410 and motion.boxes[:, 2].max() >= 450
    assert 0 < motion.share < 0.05
    assert x2 <= 768 and y2 <= 576 and x1 >= 0 and y1 >= 0


def test_motion_under_a_mask_is_ignored() -> None:
    gate = MotionDetector(masks=[[(0.5, 0.5), (1.0, 0.5), (1.0, 1.0), (0.5, 1.0)]])
    scene = _scene()
    for _ in range(10):
        gate.detect(scene)
    assert not gate.detect(_with_square(scene, 500, 400))


def _ramp(scene: np.ndarray, factor: float) -> np.ndarray:
    return np.asarray(np.clip(scene.astype(np.float32) * factor, 0, 255), np.uint8)


def test_an_ir_switch_or_lights_recalibrate_instead_of_moving() -> None:
    """A global brightness change of ±40 % over 2 s at 5 fps: no motion event."""
    gate = MotionDetector()
    rule = MotionRule([WHOLE_FRAME], ZoneInfo("UTC"))
    scene = _scene()
    factors = [1.0] * 10 + list(np.linspace(1.0, 1.4, 10)) + [1.4] * 20 + list(np.linspace(1.4, 0.6, 10))
    factors += [0.6] * 30
    events = []
    for index, factor in enumerate(factors):
        t_s = 1_764_000_000 + index * 0.2
        motion = gate.detect(_ramp(scene, float(factor)))
        obs = Observation(t_s, datetime.fromtimestamp(t_s, UTC), (768, 576), (), motion)
        out = rule.update(obs)
        events += out.opened
    events += rule.finish(0).closed
    assert events == []


def test_a_resolution_change_restarts_the_gate() -> None:
    gate = MotionDetector()
    for _ in range(5):
        gate.detect(_scene())
    small = _scene()[:288, :384]
    first = gate.detect(small)
    assert not first and first.calibrating  # first frame at the new size: no bogus motion
    assert not any(gate.detect(small) for _ in range(5))


def test_motion_that_lasts_is_one_event() -> None:
    gate = MotionDetector()
    rule = MotionRule([WHOLE_FRAME], ZoneInfo("UTC"))
    scene = _scene()
    closed = []
    for index in range(80):
        t_s = 1_764_000_000 + index * 0.2
        moving = 10 <= index < 40
        image = _with_square(scene, 100 + (index % 30) * 15, 200) if moving else scene
        obs = Observation(t_s, datetime.fromtimestamp(t_s, UTC), (768, 576), (), gate.detect(image))
        closed += rule.update(obs).closed
    closed += rule.finish(0).closed
    assert len(closed) == 1
    assert 1.9 <= closed[0].start_t_s - 1_764_000_000 <= 2.2
