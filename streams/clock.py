"""Wall-clock time for stream timestamps: anchor a connection's pts to UTC and watch the two clocks drift.

Pure: ``plan_stamp(clock, ...)`` returns the new clock state and a reading; nothing here reads the time.

How the anchor works. A packet cannot arrive before it was captured, so ``arrival - (pts - anchor_pts)`` over
all packets bounds the anchor from above, and its minimum is the best estimate (a one-way "minimum delay"
filter). The anchor starts at the first packet's arrival and only moves earlier while that bound goes down:
the burst of buffered packets after connecting collapses onto its arrival time instead of being stamped in the
future. Stamps never go backwards and are never later than the arrival.

What is reported, never silently absorbed:
- ``TIMESTAMPS_BACKWARDS`` / ``TIMESTAMPS_JUMP``: the decoding timestamp went back, or forward by more than
  ``max_jump_s`` -> re-anchored at that packet (a discontinuity: the ingest starts a new logical connection).
- ``CLOCK_SLOW``: stream time stayed behind the wall clock by more than ``max_drift_s`` for ``slow_hold_s``
  of arrival time (camera clock slow, or delivery slower than the stream) -> re-anchored at the arrival.
  A lag that does not last is a late delivery, not a slow clock: the packet keeps its capture time. That is
  the frame FFmpeg's parser holds and lets go when a read times out (on every stall and link outage), and
  the backlog a connection that survived a short outage delivers at once; re-anchored at their arrival, the
  last frame before an outage was stamped half a read timeout late, and the lost span was split into a
  "frames missing" row and the outage's row (issue 26, network faults).
- ``CLOCK_FAST``: after the settling period the anchor had to be pulled earlier by more than ``max_drift_s``
  in total (camera clock fast) -> reported (the stamps were already clamped to the arrival).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from fractions import Fraction


class ClockEvent(StrEnum):
    TIMESTAMPS_BACKWARDS = "timestamps_backwards"
    TIMESTAMPS_JUMP = "timestamps_jump"
    CLOCK_SLOW = "clock_slow"
    CLOCK_FAST = "clock_fast"

    @property
    def is_discontinuity(self) -> bool:
        return self in (ClockEvent.TIMESTAMPS_BACKWARDS, ClockEvent.TIMESTAMPS_JUMP)


@dataclass(frozen=True, slots=True)
class ClockPolicy:
    max_drift_s: float = 2.0
    max_jump_s: float = 10.0
    # the first seconds after anchoring absorb the connect burst and a slow first read without reporting:
    # a station busy starting 64 cameras read some sessions' first seconds up to 2 s late, and the anchor
    # pulled back once reads caught up was reported as a fast camera clock (a real one keeps drifting)
    settle_s: float = 10.0
    # a lag above max_drift_s is a slow clock only once it has lasted this long (see the module docstring)
    slow_hold_s: float = 3.0

    def __post_init__(self) -> None:
        if self.max_drift_s <= 0 or self.max_jump_s <= 0 or self.settle_s < 0 or self.slow_hold_s < 0:
            raise ValueError(
                "clock policy needs max_drift_s > 0, max_jump_s > 0, settle_s >= 0 and slow_hold_s >= 0"
            )


@dataclass(frozen=True, slots=True)
class StreamClock:
    time_base: Fraction
    anchor_pts: int
    anchor_utc: datetime
    anchored_at_utc: datetime  # arrival time when this anchor was set (settling starts here)
    last_order: int  # last dts (or pts) seen, for order checks
    last_ts_utc: datetime
    pulled_s: float = 0.0  # how far the anchor was moved earlier since settling
    tick_s: float = 0.0  # float(time_base): Fraction arithmetic per packet was a measurable share of ingest
    late_since_utc: datetime | None = None  # arrival since which every packet lagged more than max_drift_s


@dataclass(frozen=True, slots=True)
class ClockReading:
    ts_utc: datetime
    lag_s: float  # arrival - ts_utc: >= 0, the delivery delay as far as we can tell
    event: ClockEvent | None = None


def _seconds(ticks: int, clock: StreamClock) -> float:
    return ticks * clock.tick_s


def start_clock(*, pts: int, dts: int | None, time_base: Fraction, arrival_utc: datetime) -> StreamClock:
    """Anchor a new connection at its first packet."""
    if arrival_utc.tzinfo is None:
        raise ValueError("arrival_utc must be timezone-aware")
    if time_base <= 0:
        raise ValueError("time_base must be positive")
    return StreamClock(
        time_base=time_base,
        anchor_pts=pts,
        anchor_utc=arrival_utc,
        anchored_at_utc=arrival_utc,
        last_order=dts if dts is not None else pts,
        last_ts_utc=arrival_utc,
        tick_s=float(time_base),
    )


def _reanchor(clock: StreamClock, pts: int, order: int, arrival_utc: datetime) -> StreamClock:
    ts = max(arrival_utc, clock.last_ts_utc)
    return replace(
        clock,
        anchor_pts=pts,
        anchor_utc=ts,
        anchored_at_utc=arrival_utc,
        last_order=order,
        last_ts_utc=ts,
        pulled_s=0.0,
        late_since_utc=None,
    )


def plan_stamp(
    clock: StreamClock,
    *,
    pts: int,
    dts: int | None,
    arrival_utc: datetime,
    policy: ClockPolicy,
) -> tuple[StreamClock, ClockReading]:
    """Stamp one packet: its UTC presentation time, and any clock event it revealed."""
    order = dts if dts is not None else pts
    step_s = _seconds(order - clock.last_order, clock)
    if step_s < 0 or step_s > policy.max_jump_s:
        event = ClockEvent.TIMESTAMPS_BACKWARDS if step_s < 0 else ClockEvent.TIMESTAMPS_JUMP
        clock = _reanchor(clock, pts, order, arrival_utc)
        return clock, ClockReading(
            clock.last_ts_utc, (arrival_utc - clock.last_ts_utc).total_seconds(), event
        )

    offset = timedelta(seconds=_seconds(pts - clock.anchor_pts, clock))
    ts = clock.anchor_utc + offset
    lag_s = (arrival_utc - ts).total_seconds()
    found: ClockEvent | None = None
    settled = (arrival_utc - clock.anchored_at_utc).total_seconds() >= policy.settle_s
    late_since = None
    if lag_s < 0:  # stamped in the future: move the anchor earlier (connect burst, jitter or a fast clock)
        pulled = clock.pulled_s - lag_s if settled else 0.0
        clock = replace(clock, anchor_utc=arrival_utc - offset, pulled_s=pulled)
        ts, lag_s = arrival_utc, 0.0
        if pulled > policy.max_drift_s:
            found = ClockEvent.CLOCK_FAST
            clock = replace(clock, pulled_s=0.0)
    elif lag_s > policy.max_drift_s:
        late_since = clock.late_since_utc or arrival_utc
        if (arrival_utc - late_since).total_seconds() >= policy.slow_hold_s:
            event = ClockEvent.CLOCK_SLOW
            clock = _reanchor(clock, pts, order, arrival_utc)
            return clock, ClockReading(
                clock.last_ts_utc, (arrival_utc - clock.last_ts_utc).total_seconds(), event
            )
    ts = max(ts, clock.last_ts_utc)
    clock = replace(clock, last_order=max(order, clock.last_order), last_ts_utc=ts, late_since_utc=late_since)
    return clock, ClockReading(ts, lag_s, found)


class Stamper:
    """``plan_stamp`` for one connection, in float UTC seconds, with a fast path for the usual packet.

    A packet in order (``0 <= step <= max_jump_s``) whose stamp lags its arrival by
    ``0 <= lag <= max_drift_s``, while no late spell is being timed, changes nothing but the clock's last
    order and stamp; this is what almost
    every packet of a healthy camera does, and it costs a few float operations here. Every other packet
    goes through :func:`plan_stamp` on the equivalent :class:`StreamClock`, so the decisions (and their
    tests) stay there.
    """

    __slots__ = (
        "_anchor_pts",
        "_anchor_s",
        "_clock",
        "_last_order",
        "_last_ts_s",
        "_late",
        "_max_drift_s",
        "_max_jump_s",
        "_policy",
        "_tick_s",
    )

    def __init__(self, clock: StreamClock, policy: ClockPolicy) -> None:
        self._policy = policy
        self._max_drift_s = policy.max_drift_s
        self._max_jump_s = policy.max_jump_s
        self._load(clock)

    def _load(self, clock: StreamClock) -> None:
        self._clock = clock
        self._anchor_pts = clock.anchor_pts
        self._anchor_s = clock.anchor_utc.timestamp()
        self._tick_s = clock.tick_s
        self._last_order = clock.last_order
        self._last_ts_s = clock.last_ts_utc.timestamp()
        self._late = clock.late_since_utc is not None

    @property
    def clock(self) -> StreamClock:
        """The equivalent :class:`StreamClock` now."""
        return replace(
            self._clock,
            last_order=self._last_order,
            last_ts_utc=datetime.fromtimestamp(self._last_ts_s, self._clock.last_ts_utc.tzinfo),
        )

    def stamp(self, pts: int, dts: int | None, arrival_s: float) -> tuple[float, float, ClockEvent | None]:
        """(UTC seconds of ``pts``, lag behind the arrival, clock event or None) -- as ``plan_stamp``."""
        order = dts if dts is not None else pts
        step_s = (order - self._last_order) * self._tick_s
        if 0 <= step_s <= self._max_jump_s and not self._late:
            ts = self._anchor_s + (pts - self._anchor_pts) * self._tick_s
            lag = arrival_s - ts
            if 0 <= lag <= self._max_drift_s:
                if ts < self._last_ts_s:
                    ts = self._last_ts_s
                if order > self._last_order:
                    self._last_order = order
                self._last_ts_s = ts
                return ts, lag, None
        arrival = datetime.fromtimestamp(arrival_s, self._clock.anchor_utc.tzinfo)
        clock, reading = plan_stamp(self.clock, pts=pts, dts=dts, arrival_utc=arrival, policy=self._policy)
        self._load(clock)
        return reading.ts_utc.timestamp(), reading.lag_s, reading.event
