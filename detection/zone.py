"""Zones: polygons in frame fractions; an object is in a zone when its box's bottom centre (its feet) is."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

Polygon = Sequence[tuple[float, float]]


def polygon_pixels(points: Polygon, frame_size: tuple[int, int]) -> list[tuple[float, float]]:
    width, height = frame_size
    return [(x * width, y * height) for x, y in points]


def is_point_in_polygon(point: tuple[float, float], polygon: Sequence[tuple[float, float]]) -> bool:
    """Even-odd ray casting; a point on the left/bottom edge counts as inside."""
    x, y = point
    inside = False
    count = len(polygon)
    for i in range(count):
        x1, y1 = polygon[i]
        x2, y2 = polygon[(i + 1) % count]
        if (y1 > y) != (y2 > y):
            cross = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
            if x < cross:
                inside = not inside
    return inside


def feet_in_zone(xyxy: tuple[float, float, float, float], zone: Polygon, frame_size: tuple[int, int]) -> bool:
    """Is the bottom centre of ``xyxy`` (source pixels) inside ``zone`` (fractions)?"""
    feet = ((xyxy[0] + xyxy[2]) / 2, xyxy[3])
    return is_point_in_polygon(feet, polygon_pixels(zone, frame_size))


def box_touches_zone(
    xyxy: tuple[float, float, float, float], zone: Polygon, frame_size: tuple[int, int]
) -> bool:
    """Does any corner or the centre of ``xyxy`` lie in ``zone``? (Motion blobs have no feet.)"""
    x1, y1, x2, y2 = xyxy
    probes = [((x1 + x2) / 2, (y1 + y2) / 2), (x1, y1), (x2, y1), (x1, y2), (x2, y2)]
    pixels = polygon_pixels(zone, frame_size)
    return any(is_point_in_polygon(p, pixels) for p in probes)


def zone_bounds(zone: Polygon) -> tuple[float, float, float, float]:
    xs = np.asarray([p[0] for p in zone])
    ys = np.asarray([p[1] for p in zone])
    return float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max())


@dataclass(frozen=True, slots=True)
class ZoneSpec:
    """A zone as rules use it; ``name`` None and ``points`` None mean the whole frame."""

    name: str | None = None
    points: tuple[tuple[float, float], ...] | None = None
    kinds: frozenset[str] | None = None  # None: every kind the camera runs
    schedule: tuple[str, ...] = ()
    min_dwell_s: float | None = None
    min_height_px: int | None = None
    params: Mapping[str, float] = field(default_factory=dict)

    def watches(self, kind: str) -> bool:
        return self.kinds is None or kind in self.kinds

    def holds_feet(self, xyxy: tuple[float, float, float, float], frame_size: tuple[int, int]) -> bool:
        return self.points is None or feet_in_zone(xyxy, self.points, frame_size)

    def touches(self, xyxy: tuple[float, float, float, float], frame_size: tuple[int, int]) -> bool:
        return self.points is None or box_touches_zone(xyxy, self.points, frame_size)


WHOLE_FRAME = ZoneSpec()
