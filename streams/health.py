"""Health of one camera stream: state machine (pure), quality assessment (pure), and a thread-safe tracker.

States: ``connecting`` (first connect, or reconnecting right after losing a working stream), ``online``,
``degraded`` (connected, but low frame rate, corrupt packets or timestamp trouble), ``offline`` (a connect
attempt failed, wrong credentials, or the worker is stopped). ``since_utc`` changes only with the state.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from config.secret import redact_text
from streams.clock import ClockEvent
from streams.packet import StreamFormat


class HealthState(StrEnum):
    CONNECTING = "connecting"
    ONLINE = "online"
    DEGRADED = "degraded"
    OFFLINE = "offline"


class HealthEvent(StrEnum):
    STARTED = "started"  # worker started, first connect attempt
    CONNECTED = "connected"  # stream opened and delivering
    QUALITY_BAD = "quality_bad"
    QUALITY_OK = "quality_ok"
    LOST = "lost"  # a working stream broke (stall, end, error): reconnecting
    FAILED = "failed"  # a connect attempt failed
    STOPPED = "stopped"


_LIVE = (HealthState.ONLINE, HealthState.DEGRADED)
ASSESS_EVERY = timedelta(seconds=0.5)  # of arrival time, between two quality assessments of a live stream


def next_state(state: HealthState, event: HealthEvent) -> HealthState:
    """Pure transition function."""
    if event is HealthEvent.STARTED:
        return HealthState.CONNECTING
    if event is HealthEvent.CONNECTED:
        return HealthState.ONLINE if state is not HealthState.DEGRADED else state
    if event is HealthEvent.QUALITY_BAD:
        return HealthState.DEGRADED if state in _LIVE else state
    if event is HealthEvent.QUALITY_OK:
        return HealthState.ONLINE if state is HealthState.DEGRADED else state
    if event is HealthEvent.LOST:
        return HealthState.CONNECTING if state in _LIVE else state
    return HealthState.OFFLINE  # FAILED, STOPPED


@dataclass(frozen=True, slots=True)
class QualityPolicy:
    window_s: float = 5.0  # stream-time window for fps and bitrate
    min_fps_ratio: float = 0.5  # degraded below this share of the expected frame rate
    anomaly_hold_s: float = 10.0  # a corrupt packet or clock event keeps the stream degraded this long


def assess_quality(
    *,
    measured_fps: float | None,
    expected_fps: float | None,
    window_full: bool,
    last_corrupt_utc: datetime | None,
    last_clock_event: tuple[datetime, ClockEvent] | None,
    now_utc: datetime,
    policy: QualityPolicy,
) -> str | None:
    """Why the stream is degraded right now, or None when it is fine."""
    hold = timedelta(seconds=policy.anomaly_hold_s)
    if last_clock_event is not None and now_utc - last_clock_event[0] < hold:
        return str(last_clock_event[1])
    if last_corrupt_utc is not None and now_utc - last_corrupt_utc < hold:
        return "corrupt_packets"
    if (
        window_full
        and measured_fps is not None
        and expected_fps
        and measured_fps < expected_fps * policy.min_fps_ratio
    ):
        return "low_fps"
    return None


@dataclass(frozen=True, slots=True)
class StreamHealth:
    """What ``/api/health`` shows for one camera stream. Never contains a password."""

    camera_id: str
    stream: str
    url: str  # redacted
    transport: str
    state: HealthState
    since_utc: datetime
    running: bool
    degraded_reason: str | None
    last_error: str | None  # short reason first: "unauthorized: Server returned 401 ..."
    last_error_utc: datetime | None
    next_retry_utc: datetime | None
    connected_since_utc: datetime | None
    last_packet_utc: datetime | None
    reconnects: int  # successful connections after the first
    connect_attempts: int
    connection_id: int
    codec: str | None
    width: int | None
    height: int | None
    expected_fps: float | None
    fps: float | None  # measured over the last window of stream time
    bitrate_bps: float | None
    keyframe_interval_s: float | None
    keyframe_interval_frames: int | None
    packets: int
    bytes: int
    corrupt_packets: int
    skipped_packets: int  # before the first keyframe of a connection, or without timestamps
    clock_lag_s: float | None  # arrival - ts_utc of the last packet
    clock_events: int
    last_clock_event: str | None


class RateMeter:
    """Frame rate, bitrate and keyframe interval over a sliding window of stream time.

    A packet only moves counters (this runs 25 times a second for every camera); the window is kept as
    checkpoints of the running totals every tenth of it, and the rates are the totals' change since the
    oldest checkpoint in the window."""

    CHECKPOINTS = 10  # per window

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self._step_s = window_s / self.CHECKPOINTS
        self._checkpoints: deque[tuple[float, int, int]] = deque()  # (stream time, frames, bytes)
        self._next_checkpoint_s = float("-inf")
        self._frames = 0  # running totals since the meter was made
        self._bytes = 0
        self._last_s = 0.0  # stream time of the newest packet
        self._key_frames = 0  # ``_frames`` at the last keyframe
        self._last_key_s: float | None = None
        self.keyframe_interval_s: float | None = None
        self.keyframe_interval_frames: int | None = None

    def reset(self) -> None:
        self._checkpoints.clear()
        self._next_checkpoint_s = float("-inf")
        self._last_key_s = None

    def add(self, t_s: float, size: int, keyframe: bool) -> None:
        if keyframe:
            self._keyframe(t_s)
        self._frames += 1
        self._bytes += size
        self._last_s = t_s
        if t_s >= self._next_checkpoint_s:
            self._checkpoint(t_s)

    def _keyframe(self, t_s: float) -> None:
        if self._last_key_s is not None and t_s > self._last_key_s:
            self.keyframe_interval_s = t_s - self._last_key_s
            self.keyframe_interval_frames = self._frames - self._key_frames
        self._last_key_s = t_s
        self._key_frames = self._frames

    def _checkpoint(self, t_s: float) -> None:
        checkpoints = self._checkpoints
        checkpoints.append((t_s, self._frames, self._bytes))
        self._next_checkpoint_s = t_s + self._step_s
        while len(checkpoints) > 1 and t_s - checkpoints[0][0] > self.window_s:
            checkpoints.popleft()

    @property
    def span_s(self) -> float:
        return self._last_s - self._checkpoints[0][0] if self._checkpoints else 0.0

    @property
    def window_full(self) -> bool:
        return self.span_s >= self.window_s * 0.8

    @property
    def fps(self) -> float | None:
        span = self.span_s
        return (self._frames - self._checkpoints[0][1]) / span if span > 0 else None

    @property
    def bitrate_bps(self) -> float | None:
        span = self.span_s
        if span <= 0:
            return None
        return 8 * (self._bytes - self._checkpoints[0][2]) / span


class HealthTracker:
    """Mutable health of one camera stream; the ingest thread writes, any thread reads ``snapshot()``."""

    def __init__(
        self,
        *,
        camera_id: str,
        stream: str,
        url: str,
        transport: str,
        now_utc: datetime,
        policy: QualityPolicy | None = None,
    ) -> None:
        self.policy = policy or QualityPolicy()
        self._lock = threading.Lock()
        self._meter = RateMeter(self.policy.window_s)
        self._last_corrupt_utc: datetime | None = None
        self._last_clock: tuple[datetime, ClockEvent] | None = None
        # per-packet counters, folded into the snapshot (building a frozen record per packet cost ~15 % of
        # the ingest thread's time at 32 cameras)
        self._tick_s = 0.0  # seconds per pts tick of the connected stream
        self._packets = 0
        self._bytes = 0
        self._corrupt = 0
        self._skipped = 0
        self._clock_events = 0
        self._last_packet_s: float | None = None  # UTC epoch seconds
        self._lag_s: float | None = None
        self._next_assessment_s = 0.0  # quality is assessed at most every ASSESS_EVERY (epoch seconds)
        # what the last assessment measured, also folded in at snapshot: rebuilding the 31-field record at
        # every assessment (twice a second per camera) was a third of the tracker's cost; it is now rebuilt
        # only when the state or the degraded reason changes
        self._fps: float | None = None
        self._bitrate_bps: float | None = None
        self._keyframe_interval_s: float | None = None
        self._keyframe_interval_frames: int | None = None
        self._health = StreamHealth(
            camera_id=camera_id,
            stream=stream,
            url=redact_text(url),
            transport=transport,
            state=HealthState.OFFLINE,
            since_utc=now_utc,
            running=False,
            degraded_reason=None,
            last_error=None,
            last_error_utc=None,
            next_retry_utc=None,
            connected_since_utc=None,
            last_packet_utc=None,
            reconnects=0,
            connect_attempts=0,
            connection_id=0,
            codec=None,
            width=None,
            height=None,
            expected_fps=None,
            fps=None,
            bitrate_bps=None,
            keyframe_interval_s=None,
            keyframe_interval_frames=None,
            packets=0,
            bytes=0,
            corrupt_packets=0,
            skipped_packets=0,
            clock_lag_s=None,
            clock_events=0,
            last_clock_event=None,
        )

    def snapshot(self) -> StreamHealth:
        with self._lock:
            return replace(
                self._health,
                packets=self._packets,
                bytes=self._bytes,
                corrupt_packets=self._corrupt,
                skipped_packets=self._skipped,
                clock_events=self._clock_events,
                last_packet_utc=(
                    None if self._last_packet_s is None else datetime.fromtimestamp(self._last_packet_s, UTC)
                ),
                clock_lag_s=self._lag_s,
                fps=self._fps,
                bitrate_bps=self._bitrate_bps,
                keyframe_interval_s=self._keyframe_interval_s,
                keyframe_interval_frames=self._keyframe_interval_frames,
                last_clock_event=None if self._last_clock is None else str(self._last_clock[1]),
            )

    def _apply(self, event: HealthEvent, now_utc: datetime, **changes: object) -> None:
        health = self._health
        state = next_state(health.state, event)
        if state is not health.state:
            changes["since_utc"] = now_utc
        self._health = replace(health, state=state, **changes)  # type: ignore[arg-type]

    def started(self, now_utc: datetime) -> None:
        with self._lock:
            self._apply(HealthEvent.STARTED, now_utc, running=True, next_retry_utc=None)

    def attempt(self) -> None:
        with self._lock:
            h = self._health
            self._health = replace(h, connect_attempts=h.connect_attempts + 1, next_retry_utc=None)

    def connected(self, fmt: StreamFormat, now_utc: datetime, *, reconnect: bool) -> None:
        with self._lock:
            self._meter.reset()
            self._tick_s = float(fmt.time_base)
            self._next_assessment_s = 0.0
            h = self._health
            self._apply(
                HealthEvent.CONNECTED,
                now_utc,
                connected_since_utc=now_utc,
                reconnects=h.reconnects + int(reconnect),
                connection_id=fmt.connection_id,
                codec=fmt.codec,
                width=fmt.width,
                height=fmt.height,
                expected_fps=fmt.average_fps,
                next_retry_utc=None,
            )

    def skipped(self) -> None:
        with self._lock:
            self._skipped += 1

    def packet(self, pts: int, size: int, keyframe: bool, arrival_s: float, lag_s: float) -> None:
        """Count one packet of the connected stream (``pts`` in its time base, ``arrival_s`` UTC epoch
        seconds, ``lag_s`` behind its arrival); the quality (and with it the state) is re-assessed at most
        every ``ASSESS_EVERY`` of arrival time. Runs for every packet of every camera: a corrupt packet or
        a clock event is reported with :meth:`anomaly` before it instead."""
        with self._lock:
            self._meter.add(pts * self._tick_s, size, keyframe)
            self._packets += 1
            self._bytes += size
            self._last_packet_s = arrival_s
            self._lag_s = lag_s
            if arrival_s >= self._next_assessment_s:
                self._assess(datetime.fromtimestamp(arrival_s, UTC))

    def anomaly(self, arrival_s: float, *, corrupt: bool, clock_event: ClockEvent | None) -> None:
        """A corrupt packet or a clock event arrived at ``arrival_s``: counted, and the quality is
        re-assessed at that packet (:meth:`packet`, called next) instead of at the next due time."""
        now = datetime.fromtimestamp(arrival_s, UTC)
        with self._lock:
            if corrupt:
                self._corrupt += 1
                self._last_corrupt_utc = now
            if clock_event is not None:
                self._clock_events += 1
                self._last_clock = (now, clock_event)
            self._next_assessment_s = 0.0

    def _assess(self, now: datetime) -> None:
        meter = self._meter
        fps = meter.fps
        self._fps, self._bitrate_bps = fps, meter.bitrate_bps
        self._keyframe_interval_s = meter.keyframe_interval_s
        self._keyframe_interval_frames = meter.keyframe_interval_frames
        h = self._health
        reason = assess_quality(
            measured_fps=fps,
            expected_fps=h.expected_fps,
            window_full=meter.window_full,
            last_corrupt_utc=self._last_corrupt_utc,
            last_clock_event=self._last_clock,
            now_utc=now,
            policy=self.policy,
        )
        self._next_assessment_s = now.timestamp() + ASSESS_EVERY.total_seconds()
        event = HealthEvent.QUALITY_BAD if reason else HealthEvent.QUALITY_OK
        if reason != h.degraded_reason or next_state(h.state, event) is not h.state:
            self._apply(event, now, degraded_reason=reason)

    def failed(self, error: str, now_utc: datetime, *, lost: bool, next_retry_utc: datetime | None) -> None:
        """A connect attempt failed (``lost=False``) or a working stream broke (``lost=True``)."""
        with self._lock:
            self._fps = self._bitrate_bps = None
            self._apply(
                HealthEvent.LOST if lost else HealthEvent.FAILED,
                now_utc,
                last_error=redact_text(error),
                last_error_utc=now_utc,
                next_retry_utc=next_retry_utc,
                connected_since_utc=None,
                degraded_reason=None,
            )

    def stopped(self, now_utc: datetime) -> None:
        with self._lock:
            self._apply(
                HealthEvent.STOPPED,
                now_utc,
                running=False,
                next_retry_utc=None,
                connected_since_utc=None,
                degraded_reason=None,
            )
