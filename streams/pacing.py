"""Read batching: an unwatched camera connection is read in bursts instead of packet by packet.

A camera thread that is caught up with its camera blocks in the demuxer until the next frame arrives, and
wakes once or twice for every frame: 25 to 50 wake-ups a second per camera, each one a context switch, a
return into Python and the interpreter lock taken again. Nothing needs a recorded stream's packets the
moment they arrive: the disk writer syncs once a second anyway. So while nobody watches the stream live,
the thread, once it has had to wait for data, pauses ``pause_s`` and then reads everything that arrived
meanwhile from the socket in one run. The kernel keeps the bytes (RTSP over TCP: the socket's receive
buffer, and flow control back to the camera beyond it), so nothing is lost; what changes is that footage
reaches the recorder up to ``pause_s`` later, and the thread wakes a few times a second.

Rules (``pause_after_read_s``, pure):

- never while a live viewer is subscribed: the first viewer's subscription also ends a pause under way
  (the ingest worker waits on an event the fan-out sets), so live view never waits for a batch;
- only after a read that had to wait (``idle_read_s`` or more): a read that returned at once means data is
  waiting, and the thread reads on;
- only while the thread is caught up with the camera: a read can also look slow because the thread waited
  for the interpreter lock, not for the camera. So the decision also takes how far behind the packet is:
  its delivery lag (arrival minus the stream clock's time for it, :mod:`streams.clock`) above the lowest lag
  seen at such reads (``lag_floor``; it rises by ``floor_drift`` per second so a camera clock that runs
  slow is followed). A thread more than ``max_behind_s`` behind reads on until it has caught up, so
  batching can never make a connection fall behind;
- never for UDP (a datagram socket's buffer overflows and drops, it does not push back) nor for a file
  source (it paces itself to real time).

The read timeout is unaffected: a pause is followed by a read, and a stalled stream is reported by that
read's timeout, at most ``pause_s`` later than without batching.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PacingPolicy:
    pause_s: float = 0.2  # 0: read every packet as it arrives
    idle_read_s: float = 0.010  # a read that waited this long found the socket empty
    max_behind_s: float = 0.1  # a packet this much later than the earliest seen: behind, read on
    floor_drift: float = 0.001  # s per s the lag floor may rise (a camera clock 1000 ppm slow)

    def __post_init__(self) -> None:
        if not 0 <= self.pause_s <= 1.0:
            raise ValueError("pause_s must be between 0 and 1 s")
        if self.idle_read_s <= 0 or self.max_behind_s <= 0 or not 0 <= self.floor_drift < 1:
            raise ValueError("pacing needs idle_read_s > 0, max_behind_s > 0 and 0 <= floor_drift < 1")

    @property
    def enabled(self) -> bool:
        return self.pause_s > 0


NO_PACING = PacingPolicy(pause_s=0.0)
NO_FLOOR = math.inf  # the lag floor before the first decision of a connection


def pacing_applies(*, is_file: bool, transport: str) -> bool:
    """Whether a connection may be read in batches at all (RTSP over TCP only); pure."""
    return not is_file and transport == "tcp"


def lag_floor(policy: PacingPolicy, floor_s: float, lag_s: float, elapsed_s: float) -> float:
    """The lowest delivery lag of a connection, updated with ``lag_s`` seen ``elapsed_s`` after the last
    update; it rises by ``floor_drift`` per second, so a slowly drifting camera clock is followed; pure."""
    return min(floor_s + policy.floor_drift * max(0.0, elapsed_s), lag_s)


def pause_after_read_s(policy: PacingPolicy, *, watched: bool, waited_s: float, behind_s: float) -> float:
    """How long to pause before the next read; pure.

    ``watched``: a live viewer is subscribed. ``waited_s``: how long the read that just returned blocked.
    ``behind_s``: the packet's lag above the connection's lag floor."""
    if not policy.enabled or watched:
        return 0.0
    if waited_s < policy.idle_read_s or behind_s > policy.max_behind_s:
        return 0.0
    return policy.pause_s
