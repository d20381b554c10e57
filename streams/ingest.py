"""Camera ingest: one named thread per camera stream that connects, demuxes, stamps and publishes packets.

``IngestWorker`` (one camera stream) runs ``ingest-<camera>-<stream>``: connect -> read packets -> on any
failure report health, publish ``StreamStopped``, back off and reconnect, until ``stop()`` (every 1-1.5 s
for the first 3 minutes of an outage, then gradually less often: :mod:`streams.backoff`). It never
decodes. ``IngestManager`` starts a worker for the main stream (and the sub-stream when configured) of every
enabled camera and stops them all. One camera's failure never touches another: each worker has its own
thread, error handling and back-off.

What subscribers get is documented in :mod:`streams.fanout`. A logical connection (``connection_id``)
starts on a keyframe; packets before it, and packets without a pts, are skipped and counted in health.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence, Set
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from config.error import ConfigError
from config.schema import CameraConfig
from config.secret import camera_url, redact_text, redact_url
from streams.affinity import pin_current_thread
from streams.backoff import Backoff, BackoffPolicy
from streams.clock import ClockEvent, ClockPolicy, Stamper, start_clock
from streams.error import StreamError, StreamUnauthorizedError
from streams.fanout import Fanout, FanoutPolicy, StreamStarted, StreamStopped, Subscription
from streams.health import HealthState, HealthTracker, QualityPolicy, StreamHealth
from streams.pacing import NO_FLOOR, NO_PACING, PacingPolicy, lag_floor, pacing_applies, pause_after_read_s
from streams.packet import StreamFormat
from streams.source import Connection, SourceSpec, open_connection
from streams.thread_name import name_current_thread

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


@dataclass
class _Live:
    """The logical connection currently published."""

    format: StreamFormat
    last_ts_s: float | None = None  # UTC epoch seconds of the last packet published


class IngestWorker:
    """Keeps one camera stream connected and publishes its packets to subscribers."""

    def __init__(
        self,
        spec: SourceSpec,
        *,
        backoff: BackoffPolicy | None = None,
        clock: ClockPolicy | None = None,
        quality: QualityPolicy | None = None,
        now: Clock = utc_now,
        open_source: Callable[[SourceSpec, int], Connection] = open_connection,
        cpus: Set[int] | None = None,
        pacing: PacingPolicy | None = None,
    ) -> None:
        self.spec = spec
        # read batching while nobody watches live (streams.pacing); off unless asked for, and never for UDP
        # or a file source
        self._pacing = (
            pacing
            if pacing is not None and pacing_applies(is_file=spec.is_file, transport=spec.transport)
            else NO_PACING
        )
        self._cpus = cpus  # see streams.affinity
        self.name = f"ingest-{spec.camera_id}-{spec.stream}"
        self._backoff = Backoff(backoff)
        self._clock_policy = clock or ClockPolicy()
        self._now = now
        # the per-packet arrival time: the wall clock itself, or the injected clock (tests) in seconds
        self._now_s: Callable[[], float] = time.time if now is utc_now else lambda: now().timestamp()
        self._open_source = open_source
        # set by stop and by the first live viewer: either ends a read-batching pause at once
        self._wake = threading.Event()
        self._fanout = Fanout(self.name, on_watched=self._wake.set)
        self._health = HealthTracker(
            camera_id=spec.camera_id,
            stream=spec.stream,
            url=spec.redacted_url,
            transport="file" if spec.is_file else spec.transport,
            now_utc=now(),
            policy=quality,
        )
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._connection_id = 0
        self._connections = 0
        self._live: _Live | None = None
        self._prefix = f"{spec.camera_id}/{spec.stream}"

    @classmethod
    def from_camera(
        cls,
        camera: CameraConfig,
        stream: str = "main",
        *,
        secrets: Mapping[str, str] | None = None,
        environ: Mapping[str, str] | None = None,
        **kwargs: object,
    ) -> IngestWorker:
        """The worker of ``camera``'s main or sub stream; raises ConfigError if a password is missing."""
        if stream not in ("main", "sub"):
            raise ValueError("stream must be 'main' or 'sub'")
        raw = camera.url if stream == "main" else camera.sub_url
        if raw is None:
            raise ValueError(f"camera {camera.id} has no sub-stream URL")
        spec = SourceSpec(
            camera_id=camera.id,
            stream=stream,
            url=camera_url(camera, raw, secrets=secrets, environ=environ),
            transport=camera.transport.value,
            open_timeout_s=camera.open_timeout_s,
            read_timeout_s=camera.read_timeout_s,
        )
        return cls(spec, **kwargs)  # type: ignore[arg-type]

    # public API --------------------------------------------------------------------------------------

    def start(self, *, delay_s: float = 0.0) -> None:
        """Start the thread; its first connect waits ``delay_s`` (see ``IngestManager.start``)."""
        if self._thread is not None:
            raise RuntimeError(f"{self.name} was already started (workers are single-use)")
        if delay_s < 0:
            raise ValueError("delay_s must be >= 0")
        self._health.started(self._now())
        self._thread = threading.Thread(target=self._run, args=(delay_s,), name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float | None = None) -> bool:
        """Stop and join. Returns False if the thread is still blocked in PyAV after ``timeout_s``
        (default: the open/read timeout plus a margin); it then ends on its own at the next timeout."""
        self.request_stop()
        return self.join(timeout_s)

    def request_stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def join(self, timeout_s: float | None = None) -> bool:
        if self._thread is None:
            return True
        limit = (
            timeout_s
            if timeout_s is not None
            else max(self.spec.open_timeout_s, self.spec.read_timeout_s) + 2
        )
        self._thread.join(limit)
        if self._thread.is_alive():
            log.warning("%s: worker did not stop within %.1f s", self._prefix, limit)
            return False
        return True

    @property
    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def subscribe(
        self,
        name: str,
        *,
        policy: FanoutPolicy = FanoutPolicy.DROP_OLDEST,
        maxsize: int = 512,
        wake_every: int = 1,
    ) -> Subscription:
        return self._fanout.subscribe(name, policy=policy, maxsize=maxsize, wake_every=wake_every)

    @property
    def fanout(self) -> Fanout:
        return self._fanout

    def health(self) -> StreamHealth:
        return self._health.snapshot()

    # worker thread -----------------------------------------------------------------------------------

    def _run(self, delay_s: float = 0.0) -> None:
        name_current_thread(f"{self.spec.camera_id}:{self.spec.stream}")  # camera first: 15 bytes
        pin_current_thread(self._cpus, self.name)
        try:
            if delay_s > 0:
                self._stop.wait(delay_s)
            while not self._stop.is_set():
                self._connect_and_pump()
        finally:
            self._end_live("stopped")
            self._health.stopped(self._now())
            self._fanout.close()
            log.info("%s: stopped", self._prefix)

    def _connect_and_pump(self) -> None:
        self._health.attempt()
        self._connection_id += 1
        try:
            connection = self._open_source(self.spec, self._connection_id)
        except StreamError as exc:
            self._after_failure(exc, lost=False)
            return
        except Exception as exc:  # a worker must survive anything; the cause is logged with its traceback
            log.exception("%s: unexpected error connecting", self._prefix)
            self._after_failure(exc, lost=False)
            return
        log.info("%s: connected to %s (%s)", self._prefix, self.spec.redacted_url, connection.format.codec)
        try:
            self._pump(connection)
        except StreamError as exc:
            self._after_failure(exc, lost=self._live is not None)
        except Exception as exc:
            log.exception("%s: unexpected error reading", self._prefix)
            self._after_failure(exc, lost=self._live is not None)
        finally:
            connection.close()

    def _after_failure(self, exc: Exception, *, lost: bool) -> None:
        reason = exc.reason if isinstance(exc, StreamError) else "internal_error"
        message = redact_text(str(exc)) or type(exc).__name__
        if not message.startswith(reason):
            message = f"{reason}: {message}"
        self._end_live(reason)
        if self._stop.is_set():
            return
        delay = self._backoff.next_delay_s(unauthorized=isinstance(exc, StreamUnauthorizedError))
        now = self._now()
        self._health.failed(message, now, lost=lost, next_retry_utc=now + timedelta(seconds=delay))
        log.warning("%s: %s; retrying in %.1f s", self._prefix, message, delay)
        self._stop.wait(delay)

    def _end_live(self, reason: str) -> None:
        live, self._live = self._live, None
        if live is not None:
            last = None if live.last_ts_s is None else _utc(live.last_ts_s)
            self._fanout.publish(StreamStopped(live.format, self._now(), reason, last))

    def _pump(self, connection: Connection) -> None:
        """The per-packet loop. Times are float UTC seconds here (datetimes only for rare events): this loop
        runs 25 times a second for every camera, and each Python step in it is paid that often."""
        fmt = connection.format
        stamper: Stamper | None = None
        stop, health, fanout, now_s = self._stop, self._health, self._fanout, self._now_s
        pacing = self._pacing
        batching, idle_read_s = pacing.enabled, pacing.idle_read_s
        ready = now_s()  # about when the last read began: the previous packet's arrival, or a pause's end
        floor, floor_at = NO_FLOOR, ready  # the connection's lowest delivery lag at reads that waited
        for packet in connection.packets(stop):
            if stop.is_set():
                return
            arrival = now_s()
            pts = packet.pts
            keyframe = packet.is_keyframe
            if pts is None or (stamper is None and not keyframe):
                health.skipped()
                continue
            event: ClockEvent | None = None
            if stamper is None:
                clock = start_clock(
                    pts=pts, dts=packet.dts, time_base=fmt.time_base, arrival_utc=_utc(arrival)
                )
                stamper = Stamper(clock, self._clock_policy)
                ts, lag = arrival, 0.0
            else:
                ts, lag, event = stamper.stamp(pts, packet.dts, arrival)
                if batching and arrival - ready >= idle_read_s:
                    # the read waited: pause before this packet is handled (it keeps its true arrival) and
                    # read what arrives meanwhile in one run (streams.pacing)
                    floor, floor_at = lag_floor(pacing, floor, lag, arrival - floor_at), arrival
                    pause = pause_after_read_s(
                        pacing, watched=fanout.watched, waited_s=arrival - ready, behind_s=lag - floor
                    )
                    if pause:
                        if self._pause(pause):
                            return
                        ready = now_s()
                    else:
                        ready = arrival
                else:
                    ready = arrival
            if event is not None:
                if lag > 0:
                    log.warning("%s: %s (lag %.2f s)", self._prefix, event, lag)
                else:  # clock_fast: the anchor was pulled earlier by more than the drift limit
                    log.warning("%s: %s", self._prefix, event)
                if event.is_discontinuity and self._live is not None:
                    self._end_live(str(event))
                    self._connection_id += 1
                    fmt = replace(fmt, connection_id=self._connection_id)
            live = self._live
            if live is None:
                if not keyframe:
                    health.skipped()
                    continue
                live = self._begin_live(fmt, _utc(arrival))
            corrupt = packet.is_corrupt
            if corrupt or event is not None:
                if corrupt:
                    log.warning("%s: corrupt packet at pts %s", self._prefix, pts)
                health.anomaly(arrival, corrupt=corrupt, clock_event=event)
            health.packet(pts, packet.size, keyframe, arrival, lag)
            fanout.publish_packet(packet, fmt, ts, arrival)
            live.last_ts_s = ts

    def _pause(self, seconds: float) -> bool:
        """A read-batching pause, ended early by a live viewer's arrival or by stop; True when stopping."""
        wake = self._wake
        wake.clear()  # then look again: a viewer or a stop that came just before the clear still counts
        if not self._stop.is_set() and not self._fanout.watched:
            wake.wait(seconds)
        return self._stop.is_set()

    def _begin_live(self, fmt: StreamFormat, arrival: datetime) -> _Live:
        self._connections += 1
        self._backoff.delivered()  # the outage (if any) is over: a new one starts with fast retries
        reconnect = self._connections > 1
        self._health.connected(fmt, arrival, reconnect=reconnect)
        live = self._live = _Live(fmt)
        self._fanout.publish(StreamStarted(fmt, arrival))
        if reconnect:
            log.info("%s: streaming again (connection %d)", self._prefix, fmt.connection_id)
        return live


class IngestManager:
    """Starts a worker per enabled camera stream (main, and sub when configured) and stops them all."""

    def __init__(
        self,
        cameras: Sequence[CameraConfig],
        *,
        secrets: Mapping[str, str] | None = None,
        environ: Mapping[str, str] | None = None,
        **worker_kwargs: object,
    ) -> None:
        self.workers: dict[tuple[str, str], IngestWorker] = {}
        self._unusable: dict[tuple[str, str], StreamHealth] = {}
        for camera in cameras:
            if not camera.enabled:
                continue
            streams = ["main"] + (["sub"] if camera.sub_url else [])
            for stream in streams:
                key = (camera.id, stream)
                try:
                    self.workers[key] = IngestWorker.from_camera(
                        camera, stream, secrets=secrets, environ=environ, **worker_kwargs
                    )
                except ConfigError as exc:
                    log.error("%s/%s: cannot connect: %s", camera.id, stream, exc)
                    self._unusable[key] = _config_failure(camera, stream, str(exc))

    def start(self) -> None:
        """Start every worker, their first connects spread over up to START_SPREAD_S: 64 RTSP handshakes
        and stream probes at one instant starved the readers of the first sessions (cameras, and the test
        server, drop a session whose reader falls behind)."""
        spacing = start_spacing_s(len(self.workers))
        for index, worker in enumerate(self.workers.values()):
            worker.start(delay_s=index * spacing)

    def stop(self, timeout_s: float | None = None) -> bool:
        """Ask every worker to stop, then join them (in parallel, so the total wait is one timeout)."""
        for worker in self.workers.values():
            worker.request_stop()
        joined = [worker.join(timeout_s) for worker in self.workers.values()]
        return all(joined)

    def worker(self, camera_id: str, stream: str = "main") -> IngestWorker:
        return self.workers[(camera_id, stream)]

    def subscribe(
        self,
        camera_id: str,
        name: str,
        *,
        stream: str = "main",
        policy: FanoutPolicy = FanoutPolicy.DROP_OLDEST,
        maxsize: int = 512,
        wake_every: int = 1,
    ) -> Subscription:
        return self.worker(camera_id, stream).subscribe(
            name, policy=policy, maxsize=maxsize, wake_every=wake_every
        )

    def health(self) -> list[StreamHealth]:
        snapshots = [w.health() for w in self.workers.values()] + list(self._unusable.values())
        return sorted(snapshots, key=lambda h: (h.camera_id, h.stream))


START_SPREAD_S = 2.0  # the last of many cameras starts connecting at most this long after the first
START_SPACING_MAX_S = 0.05


def start_spacing_s(workers: int) -> float:
    """Delay between the first connects of consecutive workers at start-up; pure."""
    if workers <= 1:
        return 0.0
    return min(START_SPACING_MAX_S, START_SPREAD_S / workers)


def _config_failure(camera: CameraConfig, stream: str, message: str) -> StreamHealth:
    now = utc_now()
    url = camera.url if stream == "main" else camera.sub_url or ""
    tracker = HealthTracker(
        camera_id=camera.id, stream=stream, url=redact_url(url), transport=camera.transport.value, now_utc=now
    )
    tracker.failed(f"config: {message}", now, lost=False, next_retry_utc=None)
    health = tracker.snapshot()
    assert health.state is HealthState.OFFLINE
    return health
