"""Things that were put down and stay: per-pixel static evidence from a long and a short background.

Two running backgrounds per camera on a small colour frame (``work_width`` px wide): a *long* one that
follows the scene over about ``long_s`` and a *short* one over ``short_s``. A pixel that differs from the
long background but no longer from the short one has changed and then kept still: static evidence grows
there by the seconds it lasts and decays ``decay`` times faster where it does not. "Differs" is relative to
the pixel's own noise (``noise_factor`` times it, never under ``diff_threshold``), learnt where the
background shows, so that leaves, shimmer or a grainy night picture do not count while a quiet floor keeps
the low threshold. Pixels with at least ``static_s`` of evidence form blobs; blobs in the size range are
static objects, tracked by overlap; the object's box is the part of its blob that had already changed when
it was confirmed (parts hidden under its owner then join it; what changed later beside it does not).

No shadow labelling (it erases dark bags on grey pavement). A global brightness change (clouds, lamps, the
IR switch) is compensated by a per-channel gain before comparing; one that gain cannot explain (most of
the frame differs) resets both backgrounds and the evidence. Under a confirmed object the long background
is frozen, so that the object is not absorbed after a minute or two; a *ghost* (something that was there
from the start and was taken away, so the background remembers it and the picture does not) is told apart
by its edges, which are in the background and not in the picture, and is absorbed at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
from numpy.typing import NDArray

from detection.frame import Image

FloatImage = NDArray[np.float32]
# A pixel's noise is the 80th percentile of its deviation from the short background while it shows the long
# one, tracked sigma-delta fashion: up this many grey levels a second while the deviation is above it, a
# quarter of that down while below.
NOISE_STEP_PER_S = 1.0
NOISE_QUANTILE = 0.8
Mask = NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class StaticConfig:
    """``littering.*`` parameters of the static-object model."""

    work_width: int = 384
    long_s: float = 60.0
    short_s: float = 3.0
    diff_threshold: float = 24.0  # least colour change that counts (0-255), on a quiet pixel
    noise_factor: float = 4.0  # a change counts above this many times the pixel's own noise
    static_s: float = 3.0
    decay: float = 2.0
    min_area_frac: float = 0.0004
    max_area_frac: float = 0.05
    global_change: float = 0.5
    ghost_edge_ratio: float = 1.2
    object_edge_ratio: float = 1.3


@dataclass
class StaticBlob:
    """A static object as the model sees it: box in source pixels, times in frame seconds."""

    blob_id: int
    box: tuple[float, float, float, float]
    area_frac: float
    first_static_t_s: float
    last_seen_t_s: float
    ghost: bool = False
    frozen: bool = False


@dataclass
class StaticObjectModel:
    config: StaticConfig = field(default_factory=StaticConfig)
    fps: float = 5.0
    _long: FloatImage | None = None
    _short: FloatImage | None = None
    _evidence: FloatImage | None = None
    _exclude: Mask | None = None
    _polygons: list[list[tuple[float, float]]] = field(default_factory=list)  # fixture masks (fractions)
    _size: tuple[int, int] = (0, 0)
    _work: tuple[int, int] = (0, 0)
    _last_t_s: float | None = None
    _blobs: dict[int, StaticBlob] = field(default_factory=dict)
    _next_id: int = 1
    _masks: dict[int, Mask] = field(default_factory=dict)  # blob id -> its pixels in the last frame
    _frame: FloatImage | None = None
    _noise: FloatImage | None = None  # per pixel: high percentile of its deviation (see _learn)
    _changed_since: NDArray[np.float64] = field(default_factory=lambda: np.zeros((1, 1), np.float64))
    _held_since: NDArray[np.float64] = field(default_factory=lambda: np.zeros((1, 1), np.float64))
    resets: int = 0

    def set_exclusions(self, polygons: list[list[tuple[float, float]]]) -> None:
        """Areas (frame fractions) where nothing counts: fixtures such as bins, benches, planters."""
        self._polygons = polygons
        self._exclude = None

    def restart(self) -> None:
        """Learn the scene afresh from the next frame: both backgrounds, the noise, the static evidence and
        the blobs (a stream discontinuity: the picture may not continue the last one). Blob ids go on."""
        self._size = (0, 0)
        self._masks = {}
        self._frame = None

    def update(
        self,
        image: Image,
        t_s: float,
        frozen_boxes: list[tuple[float, float, float, float]],
        people: Sequence[tuple[float, float, float, float]] = (),
    ) -> list[StaticBlob]:
        """Feed one frame; ``frozen_boxes`` (source pixels) are confirmed objects whose background must not
        learn; ``people`` are person boxes: people are not objects, and what they cover keeps its evidence
        (neither grows nor decays) and its long background (it does not learn them). Returns the static
        blobs seen in this frame."""
        height, width = image.shape[:2]
        if (width, height) != self._size:
            self._start(width, height)
        work_w, work_h = self._work
        small = cv2.resize(image, (work_w, work_h), interpolation=cv2.INTER_AREA)
        frame = cv2.GaussianBlur(small, (3, 3), 0).astype(np.float32)
        if self._long is None or self._short is None or self._evidence is None or self._noise is None:
            self._long, self._short = frame.copy(), frame.copy()
            self._evidence = np.zeros((work_h, work_w), np.float32)
            self._noise = np.zeros((work_h, work_w), np.float32)
            self._changed_since = np.full((work_h, work_w), t_s, np.float64)
            self._held_since = np.full((work_h, work_w), t_s, np.float64)
            self._last_t_s = t_s
            return []
        dt = min(max(t_s - (self._last_t_s if self._last_t_s is not None else t_s), 0.0), 2.0)
        self._last_t_s = t_s
        threshold = np.maximum(self.config.diff_threshold, self.config.noise_factor * self._noise)
        diff_long = self._difference(frame, self._long)
        diff_short = self._difference(frame, self._short)
        fg_long, fg_short = diff_long > threshold, diff_short > threshold
        if float(fg_long.mean()) > self.config.global_change:
            self._long, self._short = frame.copy(), frame.copy()
            self._evidence[:] = 0
            self._changed_since[:] = t_s
            self._held_since[:] = t_s
            self.resets += 1
            return []
        covered = self._box_mask(list(people), grow=0.1)
        candidate = fg_long & ~fg_short & ~self._exclusion() & ~covered
        # Evidence grows where something new keeps still, decays only where the long background shows
        # again (the thing is gone), and holds where a person or something passing covers it.
        restored = ~fg_long & ~covered
        evidence = np.where(candidate, self._evidence + dt, self._evidence)
        evidence = np.where(restored, np.maximum(evidence - self.config.decay * dt, 0.0), evidence)
        self._evidence = np.minimum(evidence, self.config.static_s * 4).astype(np.float32)
        # Since when each pixel differs from the long background: without a break (the put-down time), and
        # with hysteresis (a change ends only once the pixel is back under half the threshold, so that the
        # edge of a low-contrast object flickering around the threshold still counts as one change).
        self._changed_since = np.where(fg_long | covered, self._changed_since, t_s)
        self._held_since = np.where((diff_long < threshold / 2) & ~covered, t_s, self._held_since)
        freeze = self._box_mask(frozen_boxes) | covered
        self._learn(frame, dt, freeze, ~fg_long, diff_short)
        return self._track_blobs(frame, t_s)

    def appeared_t_s(self, blob: StaticBlob) -> float:
        """When the blob's pixels began to differ from the long background without a break (median): when
        the thing was put down, or when the person who put it down arrived and covered the spot."""
        mask = self._masks.get(blob.blob_id)
        if mask is None or not mask.any():
            return blob.first_static_t_s - self.config.static_s
        return float(np.median(self._changed_since[mask]))

    def object_box(self, blob: StaticBlob, since_t_s: float) -> tuple[float, float, float, float] | None:
        """The box (source pixels) of the blob's pixels that already differed from the long background at
        ``since_t_s``: the parts of one object that were hidden (under its owner) or still settling when it
        was first seen belong to it; pixels that changed later are something else that touched it (another
        thing put down beside it). None when fewer than half of the blob's pixels are such (then the
        object's last box stands)."""
        mask = self._masks.get(blob.blob_id)
        if mask is None:
            return None
        old = mask & (self._held_since <= since_t_s + 1.0)
        if 2 * int(old.sum()) < int(mask.sum()):
            return None  # mostly new: what is left of the object is too little to say where it is
        ys, xs = np.nonzero(old)
        sx, sy = self._size[0] / self._work[0], self._size[1] / self._work[1]
        return (
            float(xs.min()) * sx,
            float(ys.min()) * sy,
            float(xs.max() + 1) * sx,
            float(ys.max() + 1) * sy,
        )

    # internals -------------------------------------------------------------------------------------

    def _start(self, width: int, height: int) -> None:
        self._size = (width, height)
        work_w = min(self.config.work_width, width)
        self._work = (work_w, max(8, round(height * work_w / width)))
        self._long = self._short = self._evidence = self._noise = None
        self._exclude = None
        self._blobs.clear()

    def _exclusion(self) -> Mask:
        if self._exclude is None:
            work_w, work_h = self._work
            mask = np.zeros((work_h, work_w), np.uint8)
            for polygon in self._polygons:
                points = np.asarray([(x * work_w, y * work_h) for x, y in polygon], np.int32)
                cv2.fillPoly(mask, [points], 1)
            self._exclude = mask.astype(bool)
        return self._exclude

    def _difference(self, frame: FloatImage, background: FloatImage) -> FloatImage:
        """How much each pixel differs from ``background`` (largest channel) once a per-channel gain (global
        light) is taken out."""
        now, before = cv2.mean(frame)[:3], cv2.mean(background)[:3]
        gain = tuple(min(max(a / max(b, 1.0), 0.3), 3.0) for a, b in zip(now, before, strict=True))
        scaled = background * np.asarray(gain, np.float32)
        diff = cv2.absdiff(frame, scaled)
        blue, green, red = cv2.split(diff)
        return np.asarray(cv2.max(cv2.max(blue, green), red), np.float32)

    def _box_mask(self, boxes: list[tuple[float, float, float, float]], grow: float = 0.0) -> Mask:
        work_w, work_h = self._work
        mask = np.zeros((work_h, work_w), bool)
        sx, sy = work_w / self._size[0], work_h / self._size[1]
        for bx1, by1, bx2, by2 in boxes:
            dx, dy = (bx2 - bx1) * grow, (by2 - by1) * grow
            x1, y1, x2, y2 = bx1 - dx, by1 - dy, bx2 + dx, by2 + dy
            mask[max(0, int(y1 * sy) - 1) : int(y2 * sy) + 2, max(0, int(x1 * sx) - 1) : int(x2 * sx) + 2] = (
                True
            )
        return mask

    def _learn(
        self, frame: FloatImage, dt: float, freeze: Mask, background: Mask, deviation: FloatImage
    ) -> None:
        """Both backgrounds follow the picture, the long one not under ``freeze``. So does each pixel's
        noise where it shows the long background (``background``): a sigma-delta estimate of a high
        percentile of its ``deviation`` from the short background (steps of ``NOISE_STEP_PER_S``). Swaying
        leaves, shimmer, water or a grainy night picture raise their own threshold; a thing put down does
        not raise it under itself (it differs from the long background), and a quiet floor keeps
        ``diff_threshold``."""
        assert self._long is not None and self._short is not None and self._noise is not None
        alpha_long = min(1.0, dt / self.config.long_s)
        alpha_short = min(1.0, dt / self.config.short_s)
        up = NOISE_STEP_PER_S * dt
        step = np.where(deviation > self._noise, up, -up * (1 - NOISE_QUANTILE) / NOISE_QUANTILE)
        learn_noise = background & ~freeze
        self._noise = np.where(learn_noise, np.maximum(self._noise + step, 0.0), self._noise).astype(
            np.float32
        )
        cv2.accumulateWeighted(frame, self._short, alpha_short)
        learn = (~freeze).astype(np.uint8)
        cv2.accumulateWeighted(frame, self._long, alpha_long, mask=learn)

    def _track_blobs(self, frame: FloatImage, t_s: float) -> list[StaticBlob]:
        assert self._evidence is not None and self._long is not None
        work_w, work_h = self._work
        static = (self._evidence >= self.config.static_s).astype(np.uint8)
        static = np.asarray(cv2.morphologyEx(static, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8)), np.uint8)
        count, labels, stats, _ = cv2.connectedComponentsWithStats(static, connectivity=8)
        total = float(work_w * work_h)
        sx, sy = self._size[0] / work_w, self._size[1] / work_h
        seen: list[StaticBlob] = []
        self._masks = {}
        self._frame = frame
        for label in range(1, count):
            x, y, w, h, area = (int(v) for v in stats[label])
            frac = area / total
            if not self.config.min_area_frac <= frac <= self.config.max_area_frac:
                continue
            box = (x * sx, y * sy, (x + w) * sx, (y + h) * sy)
            blob = self._match(box, frac, t_s)
            mask = self._masks[blob.blob_id] = labels == label
            if blob.first_static_t_s == t_s and self._is_ghost(frame, mask):
                blob.ghost = True
                self._absorb(frame, mask)
            seen.append(blob)
        # An absorbed ghost is forgotten: were it kept, whatever becomes static where it was (a thing put down
        # there later) would be matched to it by overlap, inherit "ghost" and never be looked at.
        for ghost in [b for b in seen if b.ghost]:
            self._blobs.pop(ghost.blob_id, None)
        for blob_id in [b for b, blob in self._blobs.items() if blob.last_seen_t_s < t_s - 3.0]:
            del self._blobs[blob_id]
        return [b for b in seen if not b.ghost]

    def check_ghost(self, blob: StaticBlob) -> bool:
        """Is ``blob`` (seen in the last frame) not a thing put down? Checked when a blob appears and again
        when the rule is about to count it as an object. Its outline decides (:meth:`edge_ratio`): a
        *ghost* (something taken away: a person who stood still and left with their bag leaves a ghost of
        both) has its edges in the background and not in the picture; a *change* of light or exposure on a
        wall or the floor has none in either. Both are absorbed into the background at once and never
        reported again; an object brings edges of its own."""
        mask = self._masks.get(blob.blob_id)
        frame = self._frame
        if mask is None or frame is None or blob.ghost:
            return blob.ghost
        ratio = self.edge_ratio(frame, mask)
        if ratio < self.config.object_edge_ratio:
            blob.ghost = True
            self._absorb(frame, mask)
            self._blobs.pop(blob.blob_id, None)  # forgotten, as in _track_blobs
        return blob.ghost

    def edge_ratio(self, frame: FloatImage, mask: Mask) -> float:
        """Edge strength along the blob's outline in the picture over the same in the long background."""
        edges = self._outline_edges(frame, mask)
        if edges is None:
            return 1.0
        now, before = edges
        return (now + 1.0) / (before + 1.0)

    def _match(self, box: tuple[float, float, float, float], frac: float, t_s: float) -> StaticBlob:
        best, best_iou = None, 0.3
        for blob in self._blobs.values():
            iou = _iou(box, blob.box)
            if iou > best_iou:
                best, best_iou = blob, iou
        if best is None:
            best = StaticBlob(self._next_id, box, frac, t_s, t_s)
            self._blobs[best.blob_id] = best
            self._next_id += 1
        best.box, best.area_frac, best.last_seen_t_s = box, frac, t_s
        return best

    def _is_ghost(self, frame: FloatImage, mask: Mask) -> bool:
        """A removed object: the background has edges along the blob's outline that the picture lacks."""
        edges = self._outline_edges(frame, mask)
        return edges is not None and edges[1] > edges[0] * self.config.ghost_edge_ratio

    def _outline_edges(self, frame: FloatImage, mask: Mask) -> tuple[float, float] | None:
        """Mean edge strength along the blob's outline: (in the picture, in the long background)."""
        assert self._long is not None
        ring = cv2.dilate(mask.astype(np.uint8), np.ones((5, 5), np.uint8)) - cv2.erode(
            mask.astype(np.uint8), np.ones((3, 3), np.uint8)
        )
        if not ring.any():
            return None
        return float(_edges(frame)[ring > 0].mean()), float(_edges(self._long)[ring > 0].mean())

    def _absorb(self, frame: FloatImage, mask: Mask) -> None:
        assert self._long is not None and self._evidence is not None
        self._long[mask] = frame[mask]
        self._evidence[mask] = 0


def _edges(image: FloatImage) -> FloatImage:
    grey = cv2.cvtColor(image.astype(np.uint8), cv2.COLOR_BGR2GRAY)
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)
    return np.asarray(cv2.magnitude(gx, gy), np.float32)


def _iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0
