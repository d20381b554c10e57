"""Where the detector looks: square-ish crops around motion and moving objects (Frigate's regions).

Pure planning functions; the detector only crops what they return.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detection.box import FloatArray


@dataclass(frozen=True, slots=True)
class Region:
    """A crop of the frame in source pixels, ``x2``/``y2`` exclusive."""

    x1: int
    y1: int
    x2: int
    y2: int

    @property
    def width(self) -> int:
        return self.x2 - self.x1

    @property
    def height(self) -> int:
        return self.y2 - self.y1

    @property
    def area(self) -> int:
        return self.width * self.height


def _square_around(box: tuple[float, float, float, float], side: int, frame: tuple[int, int]) -> Region:
    width, height = frame
    side = min(side, width, height)
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    x1 = int(min(max(cx - side / 2, 0), width - side))
    y1 = int(min(max(cy - side / 2, 0), height - side))
    return Region(x1, y1, x1 + side, y1 + side)


def plan_regions(
    boxes: FloatArray,
    frame_size: tuple[int, int],
    *,
    model_side: int,
    max_regions: int = 2,
    full_frame_share: float = 0.5,
) -> list[Region]:
    """Square regions that cover ``boxes`` (motion boxes and moving tracks, source pixels).

    Each region is at least ``model_side`` (so small people are seen at native resolution) and grows to
    hold its boxes with a margin. Boxes are merged greedily into the region that would grow least. When
    more than ``max_regions`` are needed, or they would cover more than ``full_frame_share`` of the frame,
    the whole frame is one region. No boxes: no regions (the caller skips the detector).
    """
    width, height = frame_size
    if boxes.shape[0] == 0:
        return []
    whole = [Region(0, 0, width, height)]
    order = np.argsort(-(boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]))
    groups: list[list[float]] = []
    for index in order:
        x1, y1, x2, y2 = (float(v) for v in boxes[index])
        best, best_cost = -1, float("inf")
        for gi, g in enumerate(groups):
            ux1, uy1, ux2, uy2 = min(g[0], x1), min(g[1], y1), max(g[2], x2), max(g[3], y2)
            side = max(ux2 - ux1, uy2 - uy1) * 1.2
            cost = max(side, model_side) ** 2 - max(max(g[2] - g[0], g[3] - g[1]) * 1.2, model_side) ** 2
            fits = side <= model_side or cost < model_side**2 * 0.5
            if fits and cost < best_cost:
                best, best_cost = gi, cost
        if best >= 0:
            g = groups[best]
            groups[best] = [min(g[0], x1), min(g[1], y1), max(g[2], x2), max(g[3], y2)]
        else:
            groups.append([x1, y1, x2, y2])
    if len(groups) > max_regions:
        return whole
    regions = []
    for g in groups:
        side = int(max(g[2] - g[0], g[3] - g[1]) * 1.2)
        regions.append(_square_around((g[0], g[1], g[2], g[3]), max(side, model_side), frame_size))
    if sum(r.area for r in regions) > full_frame_share * width * height:
        return whole
    return regions


def zone_region(
    bounds: tuple[float, float, float, float], frame_size: tuple[int, int], *, model_side: int
) -> Region:
    """The crop that shows everyone whose feet are in a zone: the zone's bounds (fractions) grown upwards
    by their own height (bodies stand above their feet), as a square of at least ``model_side``."""
    width, height = frame_size
    x1, y1, x2, y2 = bounds[0] * width, bounds[1] * height, bounds[2] * width, bounds[3] * height
    top = max(0.0, y1 - max(y2 - y1, 0.15 * height))
    side = int(max(x2 - x1, y2 - top, model_side))
    region = _square_around((x1, top, x2, y2), side, frame_size)
    return region


def merge_regions(regions: list[Region]) -> list[Region]:
    """Drop regions that lie inside another."""
    out: list[Region] = []
    for region in sorted(regions, key=lambda r: -r.area):
        if not any(
            r.x1 <= region.x1 and r.y1 <= region.y1 and r.x2 >= region.x2 and r.y2 >= region.y2 for r in out
        ):
            out.append(region)
    return out
