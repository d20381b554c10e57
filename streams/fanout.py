"""Fan-out of one camera stream to its consumers through bounded subscriptions.

The ingest thread calls ``Fanout.publish(item)``; it never blocks on a consumer. Each subscriber reads its
own bounded queue, from a thread (``get(timeout_s)``) or from asyncio (``await get_async()``).

Items, in order, in the same queue:

- ``StreamStarted(format)``: a (logical) connection began; every packet until the next ``StreamStopped``
  has exactly this ``format`` (compare ``format.connection_id``). A subscriber that joins while the stream
  is up receives the current ``StreamStarted`` first.
- ``MediaPacket``: a demuxed packet. A subscription always starts on a keyframe (packets before the first
  keyframe it sees are skipped), and after dropping packets it resumes on a keyframe, so its packets are
  always decodable.
- ``PacketsDropped(count, first_ts_utc, last_ts_utc)``: this subscriber was too slow and lost packets at
  this point (a gap in its stream; the connection itself is fine).
- ``StreamStopped(format, reason, last_ts_utc)``: the connection ended (lost, stalled, timestamps broke,
  worker stopped). Close the segment; a gap starts at ``last_ts_utc`` (None when no packet arrived).

Policies: ``DROP_OLDEST`` (recorder: generous bound, drops the oldest packets up to the next keyframe, counts
them) and ``LATEST`` (live viewers: a new keyframe replaces every packet still queued, so a slow viewer skips
to the newest GOP). Control items are never dropped in favour of packets.

Sinks (``add_sink``): the recorder is not a queue subscriber but a sink, called on the ingest thread with
the demuxed ``av.Packet`` itself and float UTC seconds (``PacketSink``). A queue hand-off per packet (a
copy of its bytes, a lock, a thread wake-up, a second ``av.Packet`` to mux) cost more CPU than the muxing,
and at 64 cameras made the station dearer than one ffmpeg process per camera. A sink's write goes to the page
cache (durability is the disk syncer's job), so it does not wait on the disk; queue subscribers still get
their ``MediaPacket`` first, and only when there are any. The snapshot's keyframe keeper is a sink too (it
copies a keyframe now and then and ignores the rest), so a camera whose thumbnail is kept pays no thread,
queue or wake-up for it.

Batched wake-ups (``wake_every=N``): a throughput consumer such as the recorder does not need to run once per
packet. Its waiting ``get`` is then woken only when N items are queued, on every control item, and when the
queue is three quarters full; otherwise it wakes at its own ``timeout_s`` and finds what was queued. At
25 fps per camera this turns 25 thread hand-offs a second into about two, which matters with tens of
cameras on one interpreter. Live viewers keep ``wake_every=1`` (every packet wakes them at once).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from streams.packet import DemuxedPacket, MediaPacket, StreamFormat, media_packet

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StreamStarted:
    format: StreamFormat
    at_utc: datetime


@dataclass(frozen=True, slots=True)
class StreamStopped:
    format: StreamFormat
    at_utc: datetime
    reason: str  # "stalled", "ended", "unauthorized", "timestamps_backwards", "stopped", ...
    last_ts_utc: datetime | None  # ts_utc of the last packet of this connection


@dataclass(frozen=True, slots=True)
class PacketsDropped:
    count: int
    first_ts_utc: datetime
    last_ts_utc: datetime


FanoutItem = MediaPacket | StreamStarted | StreamStopped | PacketsDropped


class PacketSink(Protocol):
    """A consumer called on the ingest thread: it must not block for long (no network, no database)."""

    def on_control(self, item: StreamStarted | StreamStopped) -> None: ...

    def on_packet(self, packet: DemuxedPacket, fmt: StreamFormat, ts_s: float, arrival_s: float) -> None:
        """``packet`` is the demuxed packet (pts/dts in ``fmt.time_base``), ``ts_s``/``arrival_s`` UTC epoch
        seconds; the sink may change the packet's stream and timestamps (it is the last to see it)."""
        ...


class FanoutPolicy(StrEnum):
    DROP_OLDEST = "drop_oldest"
    LATEST = "latest"


class SubscriptionClosedError(EOFError):
    """The subscription (or the whole fan-out) was closed and everything queued has been read."""


@dataclass(frozen=True, slots=True)
class SubscriptionStats:
    name: str
    policy: FanoutPolicy
    maxsize: int
    queued: int
    delivered: int
    dropped: int  # packets lost because this subscriber was slow
    skipped: int  # packets before its first keyframe


class Subscription:
    """One consumer's bounded queue. Thread-safe; ``get_async`` binds to the running loop on first use."""

    def __init__(
        self,
        name: str,
        policy: FanoutPolicy,
        maxsize: int,
        owner: Fanout | None = None,
        *,
        wake_every: int = 1,
    ) -> None:
        if maxsize < 2:
            raise ValueError("a subscription needs maxsize >= 2")
        if wake_every < 1:
            raise ValueError("wake_every must be >= 1")
        self.name = name
        self.policy = policy
        self.maxsize = maxsize
        self.wake_every = wake_every
        self._wake_at = min(wake_every, max(1, maxsize * 3 // 4))  # near full: wake the consumer now
        self._owner = owner
        self._items: deque[FanoutItem] = deque()
        self._cond = threading.Condition(threading.Lock())
        self._closed = False
        self._awaiting_keyframe = True  # start (and restart after each connection change) on a keyframe
        self._resyncing = False  # packets were dropped up to the newest one: wait for a keyframe
        self._delivered = 0
        self._dropped = 0
        self._skipped = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._async_event: asyncio.Event | None = None
        self._async_waiting = False

    # producer side -----------------------------------------------------------------------------------

    def put(self, item: FanoutItem) -> None:
        """Never blocks: overflow drops this subscriber's oldest packets."""
        with self._cond:
            if self._closed:
                return
            if isinstance(item, MediaPacket):
                if not self._accept_packet(item):
                    return
            else:
                while len(self._items) >= self.maxsize:
                    if not self._drop_oldest_run():
                        self._items.popleft()  # only controls queued: the oldest goes
                if isinstance(item, StreamStarted | StreamStopped):
                    self._awaiting_keyframe = True  # a new connection starts on its own keyframe
                    self._resyncing = False
            self._items.append(item)
            if len(self._items) >= self._wake_at or not isinstance(item, MediaPacket):
                self._cond.notify()
            wake = self._async_waiting
        if wake:
            self._wake_async()

    def _accept_packet(self, packet: MediaPacket) -> bool:
        if self.policy is FanoutPolicy.LATEST and packet.is_keyframe:
            self._drop_queued_packets()
        while len(self._items) >= self.maxsize:
            if not self._drop_oldest_run():
                self._items.popleft()  # only controls queued: the oldest goes
        if packet.is_keyframe:
            self._awaiting_keyframe = self._resyncing = False
            return True
        if self._resyncing:  # an overflow left nothing to decode this packet against
            self._dropped += 1
            self._record_drop(len(self._items), [packet])
            return False
        if self._awaiting_keyframe:
            self._skipped += 1
            return False
        return True

    def _drop_queued_packets(self) -> None:
        kept: deque[FanoutItem] = deque()
        dropped: list[MediaPacket] = []
        for item in self._items:
            (dropped if isinstance(item, MediaPacket) else kept).append(item)  # type: ignore[arg-type]
        if dropped:
            self._items = kept
            self._dropped += len(dropped)
            self._record_drop(len(self._items), dropped)

    def _drop_oldest_run(self) -> bool:
        """Drop the oldest packet and the non-keyframes after it (they cannot be decoded without it)."""
        items = list(self._items)
        first = next((i for i, item in enumerate(items) if isinstance(item, MediaPacket)), None)
        if first is None:
            return False
        end = first + 1
        while end < len(items) and isinstance(items[end], MediaPacket) and not items[end].is_keyframe:  # type: ignore[union-attr]
            end += 1
        dropped = [item for item in items[first:end] if isinstance(item, MediaPacket)]
        if end == len(items):
            self._resyncing = True  # nothing decodable is left: resume on the next keyframe
        self._items = deque(items[:first] + items[end:])
        self._dropped += len(dropped)
        self._record_drop(first, dropped)
        return True

    def _record_drop(self, index: int, dropped: list[MediaPacket]) -> None:
        """Put (or extend) a PacketsDropped marker where the packets were."""
        if not dropped:
            return
        first_ts, last_ts, count = dropped[0].ts_utc, dropped[-1].ts_utc, len(dropped)
        if index > 0 and isinstance(self._items[index - 1], PacketsDropped):
            previous = self._items[index - 1]
            assert isinstance(previous, PacketsDropped)
            first_ts, count = previous.first_ts_utc, previous.count + count
            del self._items[index - 1]
            index -= 1
        self._items.insert(index, PacketsDropped(count, first_ts, last_ts))

    def _wake_async(self) -> None:
        loop, event = self._loop, self._async_event
        if loop is None or event is None:
            return
        try:
            loop.call_soon_threadsafe(event.set)
        except RuntimeError:  # the consumer's loop is closed: it is gone
            log.debug("subscription %s: event loop closed", self.name)

    # consumer side -----------------------------------------------------------------------------------

    def get(self, timeout_s: float | None = None) -> FanoutItem | None:
        """Next item; None after ``timeout_s``; raises SubscriptionClosedError once closed and drained."""
        with self._cond:
            if not self._items and not self._closed:
                self._cond.wait_for(lambda: self._items or self._closed, timeout=timeout_s)
            return self._pop()

    def get_many(self, limit: int, timeout_s: float | None = None) -> list[FanoutItem]:
        """Up to ``limit`` queued items at once (one lock round-trip for a batched consumer); an empty list
        after ``timeout_s``; raises SubscriptionClosedError once closed and drained."""
        if limit < 1:
            raise ValueError("limit must be >= 1")
        with self._cond:
            if not self._items and not self._closed:
                self._cond.wait_for(lambda: self._items or self._closed, timeout=timeout_s)
            if not self._items:
                if self._closed:
                    raise SubscriptionClosedError(f"subscription {self.name} is closed")
                return []
            items = self._items
            taken = [items.popleft() for _ in range(min(limit, len(items)))]
            self._delivered += sum(1 for item in taken if isinstance(item, MediaPacket))
            return taken

    def _pop(self) -> FanoutItem | None:
        if self._items:
            item = self._items.popleft()
            if isinstance(item, MediaPacket):
                self._delivered += 1
            return item
        if self._closed:
            raise SubscriptionClosedError(f"subscription {self.name} is closed")
        return None

    async def get_async(self) -> FanoutItem:
        """Next item, waiting without blocking the loop; raises SubscriptionClosedError when closed."""
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop, self._async_event = loop, asyncio.Event()
        elif self._loop is not loop:
            raise RuntimeError(f"subscription {self.name} is bound to another event loop")
        event = self._async_event
        assert event is not None
        while True:
            with self._cond:
                item = self._pop()
                if item is not None:
                    self._async_waiting = False
                    return item
                self._async_waiting = True
                event.clear()
            await event.wait()

    def __iter__(self) -> Iterator[FanoutItem]:
        while True:
            try:
                item = self.get(timeout_s=1.0)
            except SubscriptionClosedError:
                return
            if item is not None:
                yield item

    async def __aiter__(self) -> AsyncIterator[FanoutItem]:
        while True:
            try:
                yield await self.get_async()
            except SubscriptionClosedError:
                return

    def close(self) -> None:
        """Stop receiving; queued items can still be read, then get() raises SubscriptionClosedError."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            wake = self._async_waiting
        if wake:
            self._wake_async()
        if self._owner is not None:
            self._owner._remove(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def stats(self) -> SubscriptionStats:
        with self._cond:
            return SubscriptionStats(
                name=self.name,
                policy=self.policy,
                maxsize=self.maxsize,
                queued=len(self._items),
                delivered=self._delivered,
                dropped=self._dropped,
                skipped=self._skipped,
            )


class Fanout:
    """Publishes one camera stream's items to every subscription."""

    def __init__(self, name: str, *, on_watched: Callable[[], None] | None = None) -> None:
        """``on_watched`` is called (under the fan-out's lock: keep it to setting an event) when the first
        live subscription arrives: the ingest thread ends a read-batching pause with it (streams.pacing)."""
        self.name = name
        self._on_watched = on_watched
        self._lock = threading.Lock()
        # replaced, never changed in place: the ingest thread reads it without the lock
        self._subscriptions: tuple[Subscription, ...] = ()
        self._sinks: tuple[PacketSink, ...] = ()
        self._current: StreamStarted | None = None
        self._closed = False
        # a LATEST subscription (a live viewer) is subscribed; read per packet without the lock by the ingest
        # thread, which reads an unwatched stream in batches (streams.pacing)
        self.watched = False

    def _set_subscriptions(self, subscriptions: tuple[Subscription, ...]) -> None:
        """Replace the subscriptions (under the lock)."""
        self._subscriptions = subscriptions
        watched = any(s.policy is FanoutPolicy.LATEST for s in subscriptions)
        if watched and not self.watched and self._on_watched is not None:
            self._on_watched()
        self.watched = watched

    def add_sink(self, sink: PacketSink, *, first: bool = False) -> None:
        """Call ``sink`` on the ingest thread for every item from now on (the current ``StreamStarted``
        first, if the stream is up). Sinks are called in order; ``first`` puts a sink that only reads the
        packet (the snapshot's keyframe keeper) before the recorder, which rewrites its timestamps."""
        with self._lock:
            self._sinks = (sink, *self._sinks) if first else (*self._sinks, sink)
            current = self._current
        if current is not None:
            sink.on_control(current)

    def remove_sink(self, sink: PacketSink) -> None:
        """Stop calling ``sink`` (it may still be called once, by a publish already under way)."""
        with self._lock:
            self._sinks = tuple(s for s in self._sinks if s is not sink)

    def subscribe(
        self,
        name: str,
        *,
        policy: FanoutPolicy = FanoutPolicy.DROP_OLDEST,
        maxsize: int = 512,
        wake_every: int = 1,
    ) -> Subscription:
        """A new bounded subscription; ``wake_every > 1`` batches the wake-ups of a thread consumer."""
        subscription = Subscription(name, policy, maxsize, owner=self, wake_every=wake_every)
        with self._lock:
            if self._closed:
                subscription._closed = True
                return subscription
            if self._current is not None:
                subscription.put(self._current)
            self._set_subscriptions((*self._subscriptions, subscription))
        return subscription

    def publish(self, item: FanoutItem) -> None:
        """Hand ``item`` to every subscription (and a control item to every sink)."""
        with self._lock:
            if isinstance(item, StreamStarted):
                self._current = item
            elif isinstance(item, StreamStopped):
                self._current = None
            subscriptions, sinks = self._subscriptions, self._sinks
        for subscription in subscriptions:
            subscription.put(item)
        if isinstance(item, StreamStarted | StreamStopped):
            for sink in sinks:
                sink.on_control(item)

    def publish_packet(self, packet: DemuxedPacket, fmt: StreamFormat, ts_s: float, arrival_s: float) -> None:
        """One demuxed packet: a ``MediaPacket`` (bytes copied) to the subscriptions, if any, then the packet
        itself to the sinks."""
        subscriptions = self._subscriptions
        if subscriptions:
            item = media_packet(packet, fmt, ts_s, arrival_s)
            for subscription in subscriptions:
                subscription.put(item)
        for sink in self._sinks:
            sink.on_packet(packet, fmt, ts_s, arrival_s)

    def _remove(self, subscription: Subscription) -> None:
        with self._lock:
            self._set_subscriptions(tuple(s for s in self._subscriptions if s is not subscription))

    def stats(self) -> list[SubscriptionStats]:
        with self._lock:
            subscriptions = list(self._subscriptions)
        return [s.stats() for s in subscriptions]

    def close(self) -> None:
        """Close every subscription (they drain what is queued, then end)."""
        with self._lock:
            self._closed = True
            subscriptions = self._subscriptions
            self._set_subscriptions(())
            self._sinks = ()
        for subscription in subscriptions:
            subscription.close()
