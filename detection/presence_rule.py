"""People in a zone: one event per stretch of presence, however many people come and go in it.

A person counts once their feet have been in the zone for ``min_dwell_s`` with a median detector score of
at least ``min_score`` and a box at least ``min_height_px`` tall; the event starts when the first of them
stepped in and ends at the last moment one was seen inside, once nobody has been for ``end_after_s``. The
zone's schedule (station time) gates it: outside its windows an open event ends.
"""

from __future__ import annotations

import statistics
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from detection.param import apply_params
from detection.rule import Episode, Observation, RuleOutput
from detection.schedule import is_scheduled
from detection.track import Track
from detection.zone import ZoneSpec


@dataclass(frozen=True, slots=True)
class PresenceConfig:
    """``person.*`` parameters."""

    min_dwell_s: float = 1.0
    min_score: float = 0.55
    min_height_px: int = 0
    end_after_s: float = 3.0


@dataclass
class _Inside:
    first_t_s: float
    last_t_s: float
    scores: deque[float] = field(default_factory=lambda: deque(maxlen=15))


@dataclass
class _ZoneState:
    spec: ZoneSpec
    config: PresenceConfig
    inside: dict[int, _Inside] = field(default_factory=dict)
    episode: Episode | None = None
    best_value: float = 0.0


class PresenceRule:
    """Person-in-zone events for one camera."""

    def __init__(
        self,
        zones: list[ZoneSpec],
        timezone: ZoneInfo,
        *,
        kind: str = "person",
        class_name: str = "person",
        params: Mapping[str, object] | None = None,
    ) -> None:
        self.kind = kind
        self.class_name = class_name
        self._timezone = timezone
        base = apply_params(PresenceConfig(), kind, params or {})
        self._zones = [_ZoneState(z, self._zone_config(base, z)) for z in zones if z.watches(kind)]

    def _zone_config(self, base: PresenceConfig, zone: ZoneSpec) -> PresenceConfig:
        config = apply_params(base, self.kind, zone.params)
        if zone.min_dwell_s is not None:
            config = apply_params(config, self.kind, {f"{self.kind}.min_dwell_s": zone.min_dwell_s})
        if zone.min_height_px is not None:
            config = apply_params(config, self.kind, {f"{self.kind}.min_height_px": zone.min_height_px})
        return config

    def update(self, observation: Observation) -> RuleOutput:
        out = RuleOutput()
        people = [t for t in observation.tracks if t.class_name == self.class_name]
        for state in self._zones:
            self._update_zone(state, observation, people, out)
        return out

    def finish(self, t_s: float) -> RuleOutput:
        out = RuleOutput()
        for state in self._zones:
            if state.episode is not None:
                self._close(state, out)
            state.inside.clear()
        return out

    def _update_zone(self, state: _ZoneState, obs: Observation, people: list[Track], out: RuleOutput) -> None:
        config = state.config
        if not is_scheduled(state.spec.schedule, obs.ts_utc, self._timezone):
            state.inside.clear()
            if state.episode is not None:
                self._close(state, out)
            return
        seen: set[int] = set()
        qualifying: list[Track] = []
        for track in people:
            if track.height < config.min_height_px or not state.spec.holds_feet(track.xyxy, obs.frame_size):
                continue
            seen.add(track.track_id)
            inside = state.inside.setdefault(track.track_id, _Inside(obs.t_s, obs.t_s))
            inside.last_t_s = obs.t_s
            inside.scores.append(track.score)
            dwell = obs.t_s - inside.first_t_s
            if dwell >= config.min_dwell_s and statistics.median(inside.scores) >= config.min_score:
                qualifying.append(track)
        for track_id in [k for k in state.inside if k not in seen]:
            del state.inside[track_id]
        episode = state.episode
        if episode is None:
            if qualifying:
                self._open(state, obs, qualifying, out)
            return
        if qualifying:
            episode.end_t_s = obs.t_s
            self._consider_best(state, obs, qualifying, out)
        elif seen:
            # Once an event is open, anyone the tracker follows in the zone keeps it open: a second person
            # still building up dwell or score does not split one stretch of presence into two events.
            episode.end_t_s = obs.t_s
        elif obs.t_s - episode.end_t_s > config.end_after_s:
            self._close(state, out)

    def _open(self, state: _ZoneState, obs: Observation, people: list[Track], out: RuleOutput) -> None:
        start = min(state.inside[t.track_id].first_t_s for t in people)
        best = max(people, key=_value)
        state.episode = Episode(
            kind=self.kind,
            zone=state.spec.name,
            start_t_s=start,
            end_t_s=obs.t_s,
            box=best.xyxy,
            score=best.score,
            track=best.track_id,
            best_t_s=obs.t_s,
        )
        state.best_value = _value(best)
        out.opened.append(state.episode)
        out.improved.append(state.episode)

    def _consider_best(
        self, state: _ZoneState, obs: Observation, people: list[Track], out: RuleOutput
    ) -> None:
        assert state.episode is not None
        episode = state.episode
        episode.detail["people"] = max(int(str(episode.detail.get("people", 0))), len(people))
        best = max(people, key=_value)
        if _value(best) > state.best_value * 1.05:
            state.best_value = _value(best)
            episode.box, episode.score, episode.best_t_s = best.xyxy, best.score, obs.t_s
            episode.track = best.track_id
            out.improved.append(episode)

    def _close(self, state: _ZoneState, out: RuleOutput) -> None:
        assert state.episode is not None
        state.episode.closed = True
        out.closed.append(state.episode)
        state.episode = None
        state.best_value = 0.0


def _value(track: Track) -> float:
    """How good a moment is for the snapshot: a confident, large view of the person."""
    return track.score * max(track.height, 1.0)
