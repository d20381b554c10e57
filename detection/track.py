"""A tracked object as rules see it."""

from __future__ import annotations

from dataclasses import dataclass

from detection.box import FloatArray


@dataclass(frozen=True, slots=True)
class Track:
    """One object followed over frames. ``xyxy`` in source pixels; ``first_t_s`` is when the tracker first
    confirmed it; ``stationary`` once it has kept its place for the tracker's stationary time."""

    track_id: int
    xyxy: tuple[float, float, float, float]
    score: float
    class_name: str
    first_t_s: float
    stationary: bool = False

    @property
    def height(self) -> float:
        return self.xyxy[3] - self.xyxy[1]

    @property
    def width(self) -> float:
        return self.xyxy[2] - self.xyxy[0]

    @property
    def bottom_centre(self) -> tuple[float, float]:
        return (self.xyxy[0] + self.xyxy[2]) / 2, self.xyxy[3]


def as_xyxy(row: FloatArray) -> tuple[float, float, float, float]:
    return float(row[0]), float(row[1]), float(row[2]), float(row[3])
