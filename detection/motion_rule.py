"""Motion in a zone: the event kind that works without any detector model.

Motion must last ``min_s`` (dropouts shorter than ``end_after_s`` allowed) before it is an event; the event
ends at the last moving frame once nothing has moved for ``end_after_s``. Global changes (lights, IR switch)
never reach this rule: the motion gate recalibrates on them and reports no motion.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np

from detection.motion import MotionConfig
from detection.param import apply_params
from detection.rule import Episode, Observation, RuleOutput
from detection.schedule import is_scheduled
from detection.track import as_xyxy
from detection.zone import ZoneSpec


@dataclass(frozen=True, slots=True)
class MotionRuleConfig:
    """``motion.*`` rule parameters (the gate's own are ``motion.threshold`` etc., see MotionConfig)."""

    min_s: float = 1.0
    end_after_s: float = 5.0
    min_area_px: float = 400.0  # smallest union of moving boxes in the zone, source pixels


@dataclass
class _State:
    spec: ZoneSpec
    config: MotionRuleConfig
    first_t_s: float | None = None
    last_t_s: float = 0.0
    episode: Episode | None = None
    best_area: float = 0.0


class MotionRule:
    kind = "motion"

    def __init__(
        self, zones: list[ZoneSpec], timezone: ZoneInfo, *, params: Mapping[str, object] | None = None
    ) -> None:
        self._timezone = timezone
        base = apply_params(MotionRuleConfig(), "motion", _rule_only(params or {}))
        self._zones = [
            _State(z, apply_params(base, "motion", _rule_only(z.params)))
            for z in zones
            if z.watches("motion")
        ]

    def update(self, observation: Observation) -> RuleOutput:
        out = RuleOutput()
        for state in self._zones:
            self._update_zone(state, observation, out)
        return out

    def finish(self, t_s: float) -> RuleOutput:
        out = RuleOutput()
        for state in self._zones:
            if state.episode is not None:
                self._close(state, out)
            state.first_t_s = None
        return out

    def _update_zone(self, state: _State, obs: Observation, out: RuleOutput) -> None:
        config = state.config
        boxes = [as_xyxy(b) for b in obs.motion.boxes if state.spec.touches(as_xyxy(b), obs.frame_size)]
        area = float(sum((b[2] - b[0]) * (b[3] - b[1]) for b in boxes))
        moving = area >= config.min_area_px and is_scheduled(state.spec.schedule, obs.ts_utc, self._timezone)
        if moving:
            if state.first_t_s is None or obs.t_s - state.last_t_s > config.end_after_s:
                state.first_t_s = obs.t_s
            state.last_t_s = obs.t_s
            union = np.asarray(boxes, np.float32)
            box = (
                float(union[:, 0].min()),
                float(union[:, 1].min()),
                float(union[:, 2].max()),
                float(union[:, 3].max()),
            )
            if state.episode is None and obs.t_s - state.first_t_s >= config.min_s:
                state.episode = Episode(
                    "motion", state.spec.name, state.first_t_s, obs.t_s, box, 1.0, None, obs.t_s
                )
                state.best_area = area
                out.opened.append(state.episode)
                out.improved.append(state.episode)
            elif state.episode is not None:
                state.episode.end_t_s = obs.t_s
                if area > state.best_area * 1.2:
                    state.best_area = area
                    state.episode.box, state.episode.best_t_s = box, obs.t_s
                    out.improved.append(state.episode)
        elif state.episode is not None and obs.t_s - state.episode.end_t_s > config.end_after_s:
            self._close(state, out)
        elif (
            state.episode is None
            and state.first_t_s is not None
            and obs.t_s - state.last_t_s > config.end_after_s
        ):
            state.first_t_s = None

    def _close(self, state: _State, out: RuleOutput) -> None:
        assert state.episode is not None
        state.episode.closed = True
        out.closed.append(state.episode)
        state.episode = None


GATE_PARAMS = frozenset(f.name for f in dataclasses.fields(MotionConfig))  # the gate's, not the rule's


def _rule_only(params: Mapping[str, object]) -> dict[str, object]:
    """``motion.*`` params minus the motion gate's own (both share the ``motion.`` prefix)."""
    return {
        k: v for k, v in params.items() if not (k.startswith("motion.") and k.split(".", 1)[1] in GATE_PARAMS)
    }
