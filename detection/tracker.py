"""Multi-object tracking: Roboflow's ByteTrack (``trackers``, Apache-2.0) plus stationary-object logic.

An object whose box has kept its place (IoU ≥ ``still_iou`` with its anchor box) for ``stationary_s``
becomes *stationary* (Frigate's rule); it stays so while its box keeps IoU ≥ ``release_iou`` with the
anchor. The pipeline stops spending detector calls on stationary objects until motion touches them again
and re-checks them every ``recheck_s``; between checks they are carried into the tracker as they were.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import supervision as sv
from trackers import ByteTrackTracker

from detection.box import Detections, iou_matrix
from detection.track import Track, as_xyxy


@dataclass(frozen=True, slots=True)
class TrackerConfig:
    """Tracker parameters (``station analyze --param tracker.NAME=VALUE``)."""

    lost_s: float = 2.0  # a track unseen this long ends
    activation_score: float = 0.5  # a new track needs a detection this confident
    high_score: float = 0.5  # ByteTrack's first-stage threshold
    min_hits: int = (
        2  # frames before a track is reported (ByteTrack reports a track at its first re-match: 1 = 2)
    )
    match_iou: float = 0.1
    stationary_s: float = 10.0
    still_iou: float = 0.9
    release_iou: float = 0.6


@dataclass
class _Still:
    anchor: tuple[float, float, float, float]
    since_t_s: float
    stationary: bool = False
    first_t_s: float = 0.0
    score: float = 0.0


@dataclass
class ObjectTracker:
    """Tracks one class group for one camera; ``update`` is called once per analysed frame."""

    class_names: tuple[str, ...]
    config: TrackerConfig = field(default_factory=TrackerConfig)
    fps: float = 5.0
    _byte: ByteTrackTracker | None = None
    _still: dict[int, _Still] = field(default_factory=dict)
    _last: list[Track] = field(default_factory=list)
    _id_offset: int = 0  # ids of tracks begun after a restart go on from the last id given before it
    _max_id: int = -1  # the highest id given so far

    def __post_init__(self) -> None:
        self._byte = self._new_byte()

    def restart(self) -> None:
        """Drop every track (the picture may not continue the last frame: a stream discontinuity). New
        tracks get ids never given before, so rules that remember ids cannot take a new person for an old."""
        self._byte = self._new_byte()
        self._id_offset = self._max_id + 1
        self._still.clear()
        self._last = []

    def _new_byte(self) -> ByteTrackTracker:
        return ByteTrackTracker(
            lost_track_buffer=max(1, round(self.config.lost_s * 30)),
            frame_rate=self.fps,
            track_activation_threshold=self.config.activation_score,
            minimum_consecutive_frames=self.config.min_hits,
            minimum_iou_threshold=self.config.match_iou,
            high_conf_det_threshold=self.config.high_score,
        )

    @property
    def tracks(self) -> list[Track]:
        """The tracks of the last update."""
        return list(self._last)

    def update(self, detections: Detections, t_s: float) -> list[Track]:
        """Feed one frame's detections (source pixels) at time ``t_s``; returns the confirmed tracks."""
        assert self._byte is not None
        sv_dets = sv.Detections(
            xyxy=detections.xyxy.astype(np.float32),
            confidence=detections.score.astype(np.float32),
            class_id=detections.class_id.astype(int),
        )
        out = self._byte.update(sv_dets, timestamp=t_s)
        tracks: list[Track] = []
        ids = out.tracker_id if out.tracker_id is not None else np.zeros((0,), int)
        for index, track_id in enumerate(ids):
            if track_id < 0:
                continue
            track_id = int(track_id) + self._id_offset
            self._max_id = max(self._max_id, track_id)
            box = as_xyxy(out.xyxy[index])
            score = float(out.confidence[index]) if out.confidence is not None else 1.0
            class_id = int(out.class_id[index]) if out.class_id is not None else 0
            state = self._observe(int(track_id), box, t_s)
            state.score = score
            name = self.class_names[class_id] if 0 <= class_id < len(self.class_names) else str(class_id)
            tracks.append(Track(int(track_id), box, score, name, state.first_t_s, state.stationary))
        alive = {t.track_id for t in tracks} | {
            int(t.tracker_id) + self._id_offset for t in self._byte.tracks
        }
        self._still = {k: v for k, v in self._still.items() if k in alive}
        self._last = tracks
        return tracks

    def _observe(self, track_id: int, box: tuple[float, float, float, float], t_s: float) -> _Still:
        state = self._still.get(track_id)
        if state is None:
            state = _Still(anchor=box, since_t_s=t_s, first_t_s=t_s)
            self._still[track_id] = state
            return state
        overlap = float(
            iou_matrix(np.asarray([box], np.float32), np.asarray([state.anchor], np.float32))[0, 0]
        )
        if state.stationary:
            if overlap < self.config.release_iou:
                state.stationary = False
                state.anchor, state.since_t_s = box, t_s
            return state
        if overlap >= self.config.still_iou:
            # Follow slow drift of the box (breathing, detector jitter) with a running mean anchor.
            state.anchor = tuple(0.8 * a + 0.2 * b for a, b in zip(state.anchor, box, strict=True))  # type: ignore[assignment]
            if t_s - state.since_t_s >= self.config.stationary_s:
                state.stationary = True
        else:
            state.anchor, state.since_t_s = box, t_s
        return state
