"""The smoking rule as a state machine over synthetic key-point tracks (tests/detection/smoking_scenes.py).

Frames come at 5 fps; the rule looks at a person at most ``rate_fps`` (3) times a second, as on a camera.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from zoneinfo import ZoneInfo

import pytest

from detection.param import UnknownParameterError
from detection.rule import Episode
from detection.smoking_rule import (
    TOO_SMALL,
    TURNED_AWAY,
    Confirmer,
    GestureTracker,
    LookBudget,
    SmokingConfig,
    SmokingRule,
)
from detection.zone import ZoneSpec
from tests.detection.smoking_scenes import (
    EPOCH,
    Script,
    ScriptedEstimator,
    ScriptedPerson,
    observation,
    puffs,
)

UTC_ZONE = ZoneInfo("UTC")
NEAR = (500.0, 100.0, 640.0, 500.0)  # 400 px tall: an entrance camera two metres away
FAR = (900.0, 300.0, 940.0, 420.0)  # 120 px tall
FPS = 5.0


RuleFactory = Callable[..., tuple[SmokingRule, ScriptedEstimator]]


@pytest.fixture
def rule_for() -> RuleFactory:
    def build(
        people: list[ScriptedPerson],
        params: dict[str, object] | None = None,
        confirmer: Confirmer | None = None,
    ) -> tuple[SmokingRule, ScriptedEstimator]:
        estimator = ScriptedEstimator(people)
        rule = SmokingRule([ZoneSpec()], UTC_ZONE, estimator=estimator, params=params, confirmer=confirmer)
        return rule, estimator

    return build


def _run(
    rule: SmokingRule, estimator: ScriptedEstimator, people: list[ScriptedPerson], seconds: float
) -> tuple[list[Episode], list[Episode], list[Episode]]:
    """Feed ``seconds`` of frames; returns (opened, improved, closed) episodes."""
    opened: list[Episode] = []
    improved: list[Episode] = []
    closed: list[Episode] = []
    for i in range(round(seconds * FPS) + 1):
        t = i / FPS
        estimator.now = t
        out = rule.update(observation(t, people))
        opened += out.opened
        improved += out.improved
        closed += out.closed
    closed += rule.finish(EPOCH + seconds).closed
    return opened, improved, closed


def _one(script: Script, **person: object) -> list[ScriptedPerson]:
    return [ScriptedPerson(1, NEAR, script, **person)]  # type: ignore[arg-type]


# -- the acceptance cases


@pytest.mark.parametrize(("travel_s", "late_s"), [(0.6, 0.5), (0.0, 1.1)])
def test_two_puffs_in_the_window_are_one_event(rule_for: RuleFactory, travel_s: float, late_s: float) -> None:
    # A hand on its way up gets the full rate at once; one that jumps to the mouth (travel 0) is seen
    # within a second (the idle rate) and the puff still counts.
    people = _one(puffs((5, 7), (25, 27), travel_s=travel_s))
    rule, estimator = rule_for(people)
    opened, improved, closed = _run(rule, estimator, people, 40)
    (event,) = closed
    assert opened == [event] and event in improved
    assert event.kind == "smoking" and event.track == 1 and event.zone is None
    assert 4.9 <= event.start_t_s - EPOCH <= 5 + late_s  # the first puff's start
    assert 26.0 <= event.end_t_s - EPOCH <= 27.0  # the last puff's end
    assert event.detail["puffs"] == 2
    assert event.box == pytest.approx(NEAR)
    assert 0.5 <= event.score <= 0.7


def test_more_puffs_extend_the_one_event(rule_for: RuleFactory) -> None:
    people = _one(puffs((5, 7), (20, 22), (35, 37.5), (50, 52)))
    rule, estimator = rule_for(people)
    _, _, closed = _run(rule, estimator, people, 70)
    (event,) = closed
    assert event.detail["puffs"] == 4
    assert 51.5 <= event.end_t_s - EPOCH <= 52.0
    assert event.score > 0.7


@pytest.mark.parametrize(
    ("name", "script"),
    [
        ("one touch of the face", puffs((10, 11.5))),
        ("drinking from a bottle once", puffs((10, 14))),
        ("a phone call held at the ear", lambda t: "ear" if 5 <= t < 40 else "down"),
        ("a hand resting on the chin", lambda t: "chin" if 5 <= t < 30 else "down"),
        # Scratching: the hand leaves the chin and comes back every second for four seconds.
        ("scratching the chin", lambda t: "chin" if 10 <= t < 14 and (t * 2) % 2 < 1.2 else "down"),
        ("a cigarette held at shoulder height", lambda t: "shoulder" if 5 <= t < 40 else "down"),
        ("talking with a hand that never reaches the mouth", lambda t: 0.6 + 0.3 * ((t * 0.7) % 1.0)),
    ],
)
def test_what_is_not_smoking_gives_no_event(rule_for: RuleFactory, name: str, script: Script) -> None:
    people = _one(script)
    rule, estimator = rule_for(people)
    opened, _, closed = _run(rule, estimator, people, 60)
    assert (opened, closed) == ([], []), name


def test_a_track_lost_mid_gesture_is_no_event(rule_for: RuleFactory) -> None:
    # One puff, then the track ends while the hand is at the mouth; the same person comes back as a new
    # track and puffs once more: puffs of different tracks never add up.
    first = ScriptedPerson(1, NEAR, puffs((5, 7), (20, 30)), visible=lambda t: t < 21)
    second = ScriptedPerson(2, NEAR, puffs((35, 37)), visible=lambda t: t >= 32)
    people = [first, second]
    rule, estimator = rule_for(people)
    opened, _, closed = _run(rule, estimator, people, 60)
    assert (opened, closed) == ([], [])


def test_a_cut_in_the_track_ends_the_stay(rule_for: RuleFactory) -> None:
    # The detector loses the person for 2.5 s while the hand is at the mouth: that stay is no puff.
    person = ScriptedPerson(1, NEAR, puffs((5, 7), (20, 26)), visible=lambda t: not 21 <= t < 23.5)
    rule, estimator = rule_for([person])
    opened, _, closed = _run(rule, estimator, [person], 50)
    assert (opened, closed) == ([], [])


def test_the_hand_model_fills_in_when_the_pose_loses_the_hand_at_the_mouth(rule_for: RuleFactory) -> None:
    people = _one(puffs((5, 7), (25, 27)), pose_hand_visible_at_mouth=False)
    rule, estimator = rule_for(people)
    _, _, closed = _run(rule, estimator, people, 40)
    assert len(closed) == 1


# -- the window, the counts, hysteresis


def test_puffs_further_apart_than_the_window_are_no_event(rule_for: RuleFactory) -> None:
    people = _one(puffs((5, 7), (75, 77)))
    rule, estimator = rule_for(people)
    assert _run(rule, estimator, people, 90)[2] == []
    rule, estimator = rule_for(people, {"smoking.window_s": 90})
    assert len(_run(rule, estimator, people, 90)[2]) == 1


def test_min_puffs_is_a_parameter(rule_for: RuleFactory) -> None:
    people = _one(puffs((5, 7), (25, 27)))
    rule, estimator = rule_for(people, {"smoking.min_puffs": "3"})
    assert _run(rule, estimator, people, 40)[2] == []
    with pytest.raises(UnknownParameterError, match=r"smoking\.min_puffs"):
        rule_for(people, {"smoking.puffs": 3})


def test_the_event_ends_after_end_after_s_without_puffs(rule_for: RuleFactory) -> None:
    people = _one(puffs((5, 7), (15, 17)))
    rule, estimator = rule_for(people, {"smoking.end_after_s": 10})
    opened, _, closed = _run(rule, estimator, people, 60)
    (event,) = closed
    assert opened == [event] and event.closed
    assert 16.0 <= event.end_t_s - EPOCH <= 17.0


def _tracker() -> GestureTracker:
    return GestureTracker(SmokingConfig())


def _feed(
    tracker: GestureTracker, ratios: Sequence[float | None], start: float = 0.0, step: float = 0.4
) -> int:
    done = 0
    for i, ratio in enumerate(ratios):
        done += tracker.step(start + i * step, ratio) is not None
    return done


def test_hysteresis_keeps_a_jittering_hand_in_one_stay() -> None:
    # Between near_ratio (0.35) and far_ratio (0.55) the hand stays "at the mouth": one puff, not three.
    tracker = _tracker()
    ratios = [1.0, 1.0, 0.2, 0.45, 0.3, 0.5, 0.25, 0.45, 0.3, 0.9] + [1.0] * 12
    assert _feed(tracker, ratios) == 1
    (puff,) = tracker.puffs
    assert puff.start_t_s == pytest.approx(0.8) and puff.end_t_s == pytest.approx(3.2)


def test_without_hysteresis_the_same_jitter_would_be_three_touches() -> None:
    # The same hand with far_ratio at near_ratio and no merging: each crossing starts a new stay.
    tracker = GestureTracker(SmokingConfig(far_ratio=0.35, merge_s=0.0, min_puff_s=0.0))
    ratios = [1.0, 0.2, 0.45, 0.3, 0.5, 0.25, 0.45, 1.0, 1.0]
    assert _feed(tracker, ratios) == 3


def test_a_stay_needs_the_hand_seen_away_first_and_a_limited_length() -> None:
    tracker = _tracker()
    # The track begins with the hand already at the mouth: no beginning seen, no puff.
    assert _feed(tracker, [0.1] * 5 + [1.0] * 12) == 0
    # Too short (one look) and too long (8 s) are no puffs either.
    assert _feed(tracker, [0.1] + [1.0] * 12, start=20) == 0
    assert _feed(tracker, [0.1] * 21 + [1.0] * 12, start=40) == 0
    assert _feed(tracker, [0.1] * 5 + [1.0] * 12, start=60) == 1


def test_a_hand_lost_from_sight_at_the_mouth_is_still_there() -> None:
    # Neither the pose nor the hand model sees the hand while it covers the mouth (ratio None, the person
    # still measurable): the stay goes on until the hand is seen away.
    tracker = _tracker()
    assert _feed(tracker, [1.0, 0.2, None, None, None, 1.0] + [1.0] * 10) == 1
    (puff,) = tracker.puffs
    assert puff.end_t_s - puff.start_t_s == pytest.approx(1.2)


def test_a_gap_in_measurement_during_a_stay_loses_it() -> None:
    tracker = _tracker()
    _feed(tracker, [1.0, 0.1, 0.1])
    assert tracker.stay is not None
    assert tracker.tick(0.8 + 1.6) is None and tracker.stay is None


# -- who can be judged


def test_a_small_person_is_not_measurable_and_costs_no_model(rule_for: RuleFactory) -> None:
    people = [ScriptedPerson(1, FAR, puffs((5, 7), (20, 22), (35, 37)))]
    rule, estimator = rule_for(people)
    opened, _, closed = _run(rule, estimator, people, 50)
    assert (opened, closed) == ([], [])
    assert estimator.calls == []
    share = rule.measurable()
    assert (share.tracks, share.measurable_tracks, share.not_measurable_tracks[TOO_SMALL]) == (1, 0, 1)
    assert share.measurable_share == 0.0
    assert share.summary().startswith("1 person tracks, 0 measurable (too small: 1)")


@pytest.mark.parametrize(
    ("name", "person"),
    [
        ("seen from behind", {"facing": -0.9}),
        ("seen side-on", {"facing": 0.1}),
        ("no face found", {"face_score": 0.0}),
        ("a face too faint to trust (the back of a head scores up to ~0.7)", {"face_score": 0.55}),
    ],
)
def test_a_person_turned_away_is_not_measurable(
    rule_for: RuleFactory, name: str, person: dict[str, float]
) -> None:
    people = _one(puffs((5, 7), (20, 22), (35, 37)), **person)
    rule, estimator = rule_for(people)
    opened, _, closed = _run(rule, estimator, people, 50)
    assert (opened, closed) == ([], []), name
    share = rule.measurable()
    assert share.not_measurable_tracks[TURNED_AWAY] == 1, name
    assert share.not_measurable_s[TURNED_AWAY] > 45


def test_the_measurable_share_counts_person_time(rule_for: RuleFactory) -> None:
    near = ScriptedPerson(1, NEAR, lambda t: "down")
    far = ScriptedPerson(2, FAR, lambda t: "down")
    rule, estimator = rule_for([near, far])
    _run(rule, estimator, [near, far], 20)
    share = rule.measurable()
    assert (share.tracks, share.measurable_tracks) == (2, 1)
    assert share.person_s == pytest.approx(40, abs=0.5)
    assert share.measurable_s == pytest.approx(20, abs=1.0)
    assert share.measurable_share == pytest.approx(0.5, abs=0.03)
    assert "2 person tracks, 1 measurable (too small: 1)" in share.summary()


def test_people_outside_a_smoking_zone_are_ignored() -> None:
    stairs = ZoneSpec(name="stairs", points=((0.0, 0.0), (0.3, 0.0), (0.3, 1.0), (0.0, 1.0)), kinds=None)
    people = _one(puffs((5, 7), (25, 27)))
    estimator = ScriptedEstimator(people)
    rule = SmokingRule([stairs], UTC_ZONE, estimator=estimator)
    assert _run(rule, estimator, people, 40)[2] == []
    assert estimator.calls == [] and rule.measurable().tracks == 0


def test_a_zone_that_does_not_watch_smoking_has_no_rule() -> None:
    door = ZoneSpec(name="door", kinds=frozenset({"person"}))
    people = _one(puffs((5, 7), (25, 27)))
    estimator = ScriptedEstimator(people)
    rule = SmokingRule([door], UTC_ZONE, estimator=estimator)
    assert _run(rule, estimator, people, 40)[2] == []


# -- cost


def _looks(rule_for: RuleFactory, script: Script, count: int) -> tuple[float, int, set[int]]:
    """Looks a second per person, most looks in a frame, and who was looked at, over 10 s."""
    people = [
        ScriptedPerson(i, (20.0 + 150 * i, 100.0, 140.0 + 150 * i, 500.0), script) for i in range(count)
    ]
    rule, estimator = rule_for(people)
    _run(rule, estimator, people, 10)
    per_frame: dict[float, int] = {}
    for t, _ in estimator.calls:
        per_frame[t] = per_frame.get(t, 0) + 1
    assert rule.measurable().measurable_tracks == count
    return len(estimator.calls) / count / 10, max(per_frame.values()), {k for _, k in estimator.calls}


def test_looks_are_limited_by_rate_and_people_per_frame(rule_for: RuleFactory) -> None:
    config = SmokingConfig()
    # Hands down: the idle rate. A hand near the face (0.6 shoulder widths): the full rate, for two people.
    idle, _, _ = _looks(rule_for, lambda t: "down", 2)
    assert idle == pytest.approx(config.idle_rate_fps, abs=0.15)
    watching, _, _ = _looks(rule_for, lambda t: 0.6, 2)
    assert watching == pytest.approx(config.rate_fps, abs=0.15)
    # Eight people with a hand near the face: at most max_people looks a frame, and the station's budget of
    # looks a second shared among them, everyone in turn.
    crowded, most, seen = _looks(rule_for, lambda t: 0.6, 8)
    assert most <= config.max_people and seen == set(range(8))
    assert crowded == pytest.approx(config.station_looks_per_s / 8, abs=0.2)


def test_cameras_share_one_budget_of_looks() -> None:
    budget = LookBudget(6.0)
    cameras = []
    for _ in range(2):
        people = [
            ScriptedPerson(i, (20.0 + 150 * i, 100.0, 140.0 + 150 * i, 500.0), lambda t: 0.6)
            for i in range(4)
        ]
        estimator = ScriptedEstimator(people)
        rule = SmokingRule([ZoneSpec()], UTC_ZONE, estimator=estimator, budget=budget)
        cameras.append((rule, estimator, people))
    for i in range(round(20 * FPS) + 1):
        for rule, estimator, people in cameras:
            estimator.now = i / FPS
            rule.update(observation(i / FPS, people))
    looks = [len(estimator.calls) for _, estimator, _ in cameras]
    assert sum(looks) / 20 == pytest.approx(6.0, abs=0.4)  # 6 looks a second for both cameras together
    assert min(looks) > 0.3 * sum(looks)  # neither camera starves


# -- confirmation


class _FixedConfirmer:
    def __init__(self, score: float) -> None:
        self.value = score
        self.crops: list[tuple[float, float, float, float]] = []

    def score(self, image: object, xyxy: tuple[float, float, float, float]) -> float:
        self.crops.append(xyxy)
        return self.value


@pytest.mark.parametrize(("found", "confirmed", "higher"), [(0.9, True, True), (0.05, False, False)])
def test_a_cigarette_detector_raises_or_lowers_the_confidence(
    rule_for: RuleFactory,
    found: float,
    confirmed: bool,
    higher: bool,
) -> None:
    people = _one(puffs((5, 7), (25, 27)))
    plain_rule, plain_estimator = rule_for(people)
    (plain,) = _run(plain_rule, plain_estimator, people, 40)[2]
    confirmer = _FixedConfirmer(found)
    rule, estimator = rule_for(people, confirmer=confirmer)
    (event,) = _run(rule, estimator, people, 40)[2]
    assert event.detail["confirmed"] is confirmed
    assert (event.score > plain.score) is higher
    assert "confirmed" not in plain.detail
    # It looked at the hand and the face only: a crop around the mouth (570, 140), a third of the person.
    assert confirmer.crops
    x1, y1, x2, y2 = confirmer.crops[0]
    assert x1 < 570 < x2 and y1 < 140 < y2
    assert x2 - x1 < 0.35 * (NEAR[3] - NEAR[1])
