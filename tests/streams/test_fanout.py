"""Bounded fan-out: a slow consumer loses its own packets, never anybody else's, and never blocks."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest

from streams.fanout import (
    Fanout,
    FanoutItem,
    FanoutPolicy,
    PacketsDropped,
    StreamStarted,
    StreamStopped,
    SubscriptionClosedError,
)
from streams.packet import MediaPacket, StreamFormat

T0 = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
FMT = StreamFormat("cam1", "main", 1, "h264", 640, 360, Fraction(1, 25), None, 25.0)
GOP = 5


def _packet(i: int) -> MediaPacket:
    ts = T0 + timedelta(seconds=i / 25)
    return MediaPacket(FMT, bytes([i % 256]), i, i, 1, i % GOP == 0, ts, ts)


def _drain(sub: object) -> list[FanoutItem]:
    items = []
    while (item := sub.get(timeout_s=0)) is not None:  # type: ignore[attr-defined]
        items.append(item)
    return items


def test_items_arrive_in_order_and_start_on_a_keyframe() -> None:
    fanout = Fanout("cam1-main")
    sub = fanout.subscribe("rec", maxsize=100)
    for i in range(3, 12):
        fanout.publish(_packet(i))
    items = _drain(sub)
    assert [p.pts for p in items if isinstance(p, MediaPacket)] == list(range(5, 12))
    assert sub.stats().skipped == 2


def test_late_subscriber_gets_the_current_format_first() -> None:
    fanout = Fanout("cam1-main")
    fanout.publish(StreamStarted(FMT, T0))
    fanout.publish(_packet(0))
    sub = fanout.subscribe("late")
    fanout.publish(_packet(5))
    items = _drain(sub)
    assert isinstance(items[0], StreamStarted)
    assert isinstance(items[1], MediaPacket) and items[1].pts == 5
    fanout.publish(StreamStopped(FMT, T0, "stalled", items[1].ts_utc))
    assert fanout.subscribe("after").get(timeout_s=0) is None


def test_drop_oldest_keeps_the_queue_decodable_and_marks_the_gap() -> None:
    fanout = Fanout("cam1-main")
    sub = fanout.subscribe("rec", policy=FanoutPolicy.DROP_OLDEST, maxsize=12)
    for i in range(30):
        fanout.publish(_packet(i))
    items = _drain(sub)
    assert isinstance(items[0], PacketsDropped)
    packets = [p for p in items if isinstance(p, MediaPacket)]
    assert packets[0].is_keyframe
    pts = [p.pts or 0 for p in packets]
    assert pts == list(range(pts[0], 30))  # contiguous after the gap
    assert items[0].count == pts[0]
    assert sub.stats().dropped == pts[0]
    assert len(items) <= 12 + 1


def test_latest_skips_to_the_newest_gop() -> None:
    fanout = Fanout("cam1-main")
    sub = fanout.subscribe("viewer", policy=FanoutPolicy.LATEST, maxsize=50)
    for i in range(23):
        fanout.publish(_packet(i))
    packets = [p for p in _drain(sub) if isinstance(p, MediaPacket)]
    assert [p.pts for p in packets] == [20, 21, 22]


def test_controls_reset_keyframe_wait_and_are_never_lost() -> None:
    fanout = Fanout("cam1-main")
    sub = fanout.subscribe("rec", maxsize=4)
    fanout.publish(StreamStarted(FMT, T0))
    for i in range(12):
        fanout.publish(_packet(i))
    fanout.publish(StreamStopped(FMT, T0, "ended", None))
    fanout.publish(_packet(13))  # not a keyframe: the next connection must start on one
    items = _drain(sub)
    assert isinstance(items[-1], StreamStopped)
    assert not any(isinstance(p, MediaPacket) and p.pts == 13 for p in items)


def test_slow_subscriber_does_not_slow_the_publisher_or_others() -> None:
    fanout = Fanout("cam1-main")
    slow = fanout.subscribe("slow", maxsize=20)
    fast = fanout.subscribe("fast", maxsize=2000)
    got: list[int] = []

    def consume_fast() -> None:
        for item in fast:
            if isinstance(item, MediaPacket):
                got.append(item.pts or 0)

    thread = threading.Thread(target=consume_fast)
    thread.start()
    started = time.monotonic()
    for i in range(1000):
        fanout.publish(_packet(i))
    publish_s = time.monotonic() - started
    slow.get(timeout_s=0)
    time.sleep(0.2)
    fanout.close()
    thread.join(5)
    assert publish_s < 1.0
    assert got == list(range(1000))
    assert slow.stats().dropped > 900
    assert fast.stats().dropped == 0


def test_async_subscriber_is_woken_from_another_thread() -> None:
    fanout = Fanout("cam1-main")

    async def consume() -> list[int]:
        sub = fanout.subscribe("webrtc", policy=FanoutPolicy.LATEST, maxsize=30)

        def produce() -> None:
            for i in range(50):
                fanout.publish(_packet(i))
                time.sleep(0.002)
            fanout.close()

        threading.Thread(target=produce).start()
        seen = []
        async for item in sub:
            if isinstance(item, MediaPacket):
                seen.append(item.pts or 0)
        return seen

    seen = asyncio.run(asyncio.wait_for(consume(), timeout=10))
    assert seen and seen[-1] == 49
    assert seen == sorted(seen)


def test_closed_subscription_drains_then_raises() -> None:
    fanout = Fanout("cam1-main")
    sub = fanout.subscribe("rec")
    fanout.publish(_packet(0))
    sub.close()
    fanout.publish(_packet(5))
    assert isinstance(sub.get(timeout_s=0), MediaPacket)
    with pytest.raises(SubscriptionClosedError):
        sub.get(timeout_s=0)
    assert fanout.stats() == []


def test_maxsize_must_allow_a_packet_and_a_control() -> None:
    with pytest.raises(ValueError, match="maxsize"):
        Fanout("x").subscribe("rec", maxsize=1)


def _get_in_thread(sub: object, timeout_s: float) -> tuple[threading.Thread, list[object]]:
    got: list[object] = []

    def run() -> None:
        got.append(sub.get(timeout_s=timeout_s))  # type: ignore[attr-defined]

    thread = threading.Thread(target=run)
    thread.start()
    time.sleep(0.05)  # let it block in get()
    return thread, got


@pytest.mark.timeout(20)
def test_batched_subscription_wakes_its_consumer_per_batch_on_controls_and_on_timeout() -> None:
    fanout = Fanout("cam1-main")
    sub = fanout.subscribe("recorder", maxsize=100, wake_every=8)
    # fewer than a batch: the consumer sleeps on
    thread, got = _get_in_thread(sub, timeout_s=10)
    for i in range(7):
        fanout.publish(_packet(i * GOP))
    thread.join(0.3)
    assert thread.is_alive() and not got
    # the batch is full: woken at once, and everything queued is there without waiting
    started = time.monotonic()
    fanout.publish(_packet(7 * GOP))
    thread.join(2)
    assert not thread.is_alive() and time.monotonic() - started < 1.0
    rest = _drain(sub)
    assert [getattr(p, "pts", None) for p in [*got, *rest]] == [i * GOP for i in range(8)]
    # a control item wakes the consumer at once
    thread, got = _get_in_thread(sub, timeout_s=10)
    fanout.publish(_packet(40))
    started = time.monotonic()
    fanout.publish(StreamStopped(FMT, T0, "ended", None))
    thread.join(2)
    assert not thread.is_alive() and time.monotonic() - started < 1.0
    assert isinstance(got[0], MediaPacket) and isinstance(_drain(sub)[-1], StreamStopped)
    # less than a batch still arrives when the consumer's own timeout expires
    fanout.publish(StreamStarted(FMT, T0))
    assert isinstance(sub.get(timeout_s=0), StreamStarted)
    thread, got = _get_in_thread(sub, timeout_s=0.5)
    fanout.publish(_packet(50))
    thread.join(2)
    assert isinstance(got[0], MediaPacket) and got[0].pts == 50
    fanout.close()


def test_batched_subscription_wakes_its_consumer_when_nearly_full() -> None:
    fanout = Fanout("cam1-main")
    sub = fanout.subscribe("recorder", maxsize=8, wake_every=1000)  # batch larger than the queue
    thread, got = _get_in_thread(sub, timeout_s=10)
    for i in range(6):  # three quarters of 8
        fanout.publish(_packet(i * GOP))
    thread.join(2)
    assert not thread.is_alive() and got and sub.stats().dropped == 0
    with pytest.raises(ValueError, match="wake_every"):
        fanout.subscribe("bad", wake_every=0)
    fanout.close()


def test_get_many_takes_up_to_a_batch_in_order_then_raises_once_closed_and_drained() -> None:
    fanout = Fanout("cam1-main")
    sub = fanout.subscribe("rec", maxsize=100)
    fanout.publish(StreamStarted(FMT, T0))
    for i in range(10):
        fanout.publish(_packet(i))
    first = sub.get_many(4, timeout_s=0)
    assert isinstance(first[0], StreamStarted)
    assert [p.pts for p in first[1:] if isinstance(p, MediaPacket)] == [0, 1, 2]
    rest = sub.get_many(100, timeout_s=0)
    assert [p.pts for p in rest if isinstance(p, MediaPacket)] == list(range(3, 10))
    assert sub.stats().delivered == 10
    started = time.monotonic()
    assert sub.get_many(8, timeout_s=0.05) == []
    assert time.monotonic() - started >= 0.04
    with pytest.raises(ValueError, match="limit"):
        sub.get_many(0)
    sub.close()
    with pytest.raises(SubscriptionClosedError):
        sub.get_many(8, timeout_s=0)
