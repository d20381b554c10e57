"""Rules: pure state machines over ``(time, tracks, motion)``, driven by frame timestamps only.

A rule never reads the wall clock, so a recorded file and a live camera give the same events. Each call to
``update`` takes one :class:`Observation` and returns what changed: episodes opened, updated (a better
snapshot moment) and closed. The pipeline keeps the snapshot image for an episode's best moment and hands
closed episodes on as events. To add a rule: a class with ``kind``, ``update`` and ``finish`` (see
:class:`Rule`), its parameters in a frozen dataclass (see :mod:`detection.param`), and a line in
:func:`detection.pipeline.build_rules`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from detection.box import Detections
from detection.frame import Image
from detection.motion import Motion
from detection.track import Track


@dataclass(frozen=True, slots=True)
class Observation:
    """Everything a rule may look at for one analysed frame. ``image`` is the frame itself (BGR; rules must
    not change it); ``detections`` every object the detector found in it, of every class (empty when the
    detector did not run on this frame), with ``class_names`` to read their classes."""

    t_s: float
    ts_utc: datetime
    frame_size: tuple[int, int]
    tracks: tuple[Track, ...]
    motion: Motion
    image: Image | None = None
    detections: Detections = field(default_factory=Detections.empty)
    class_names: tuple[str, ...] = ()


@dataclass
class Episode:
    """One event as a rule builds it: open until ``closed``; ``best_*`` is the moment for the snapshot."""

    kind: str
    zone: str | None
    start_t_s: float
    end_t_s: float
    box: tuple[float, float, float, float]
    score: float
    track: int | None = None
    best_t_s: float = 0.0
    closed: bool = False
    detail: dict[str, object] = field(default_factory=dict)


@dataclass
class RuleOutput:
    opened: list[Episode] = field(default_factory=list)
    improved: list[Episode] = field(default_factory=list)  # best moment moved to this frame
    closed: list[Episode] = field(default_factory=list)

    def extend(self, other: RuleOutput) -> None:
        self.opened += other.opened
        self.improved += other.improved
        self.closed += other.closed


class Rule(Protocol):
    kind: str

    def update(self, observation: Observation) -> RuleOutput: ...

    def finish(self, t_s: float) -> RuleOutput:
        """Close every open episode (end of a file, a camera stopped)."""
        ...


@runtime_checkable
class RestartableRule(Protocol):
    """A rule with state that assumes a continuous picture (backgrounds, remembered tracks)."""

    def restart(self, t_s: float) -> RuleOutput:
        """The picture may not continue the last frame (a reconnect, a jump of the stream's clock, a new
        size): forget what assumed continuity. Episodes that can no longer be followed close here."""
        ...
