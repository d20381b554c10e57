"""Is this frame the continuation of the last one? The decision that tells detection the picture jumped.

Detection keeps state that assumes a continuous picture: running backgrounds, static evidence, the motion
gate's reference, tracks. After a break in the stream that state describes a scene that may no longer be
there: a reconnect (the camera rebooted, was moved or re-aimed while it was away), a jump of its clock, a
new resolution. The frame decoder asks :func:`stream_break` for every packet and marks the first frame it
delivers after a break, so detection starts its per-camera state afresh on it instead of reading the jump
as objects that appeared or vanished. Pure: no clock is read here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class StreamBreak(StrEnum):
    START = "start"  # the first frame: nothing before it
    RECONNECT = "reconnect"  # a new connection (or a discontinuity the ingest started a new one for)
    BACKWARDS = "backwards"  # timestamps went back
    GAP = "gap"  # timestamps jumped forwards beyond a few frame intervals
    RESIZE = "resize"  # the picture size changed


@dataclass(frozen=True, slots=True)
class StreamPoint:
    """Where one packet (or decoded picture) of a stream lies: its stamp, connection and picture size."""

    ts_s: float
    connection_id: int
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class ContinuityPolicy:
    """A forward jump is a break beyond ``max_intervals`` frame intervals and never under ``min_gap_s``:
    cameras that lower their frame rate in a still scene (smart codecs) send a frame a second or less and
    stay continuous; a backward step is a break beyond ``max_intervals`` intervals (stamps jitter)."""

    max_intervals: float = 4.0
    min_gap_s: float = 1.0

    def __post_init__(self) -> None:
        if self.max_intervals <= 0 or self.min_gap_s < 0:
            raise ValueError("continuity policy needs max_intervals > 0 and min_gap_s >= 0")


def stream_break(
    previous: StreamPoint | None,
    current: StreamPoint,
    *,
    interval_s: float,
    policy: ContinuityPolicy = ContinuityPolicy(),
) -> StreamBreak | None:
    """The break between ``previous`` and ``current`` (consecutive points of one camera stream), or None
    when ``current`` continues ``previous``. ``interval_s`` is the stream's frame interval."""
    if interval_s <= 0:
        raise ValueError("interval_s must be positive")
    if previous is None:
        return StreamBreak.START
    if current.connection_id != previous.connection_id:
        return StreamBreak.RECONNECT
    if (current.width, current.height) != (previous.width, previous.height):
        return StreamBreak.RESIZE
    step = current.ts_s - previous.ts_s
    if step < -policy.max_intervals * interval_s:
        return StreamBreak.BACKWARDS
    if step > max(policy.max_intervals * interval_s, policy.min_gap_s):
        return StreamBreak.GAP
    return None
