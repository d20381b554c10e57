"""Small helpers shared by the ingest tests."""

from __future__ import annotations

import time
from collections.abc import Callable

from streams.fanout import FanoutItem, Subscription, SubscriptionClosedError


def wait_for(predicate: Callable[[], bool], timeout_s: float, interval_s: float = 0.02) -> float:
    """Seconds until ``predicate()`` held; raises AssertionError after ``timeout_s``."""
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout_s:
            raise AssertionError(f"condition not met within {timeout_s} s")
        time.sleep(interval_s)
    return time.monotonic() - started


def drain(subscription: Subscription) -> list[FanoutItem]:
    """Everything queued right now."""
    items: list[FanoutItem] = []
    try:
        while (item := subscription.get(timeout_s=0)) is not None:
            items.append(item)
    except SubscriptionClosedError:
        pass
    return items


def collect(subscription: Subscription, seconds: float) -> list[FanoutItem]:
    """Everything the subscription delivers during ``seconds``."""
    items: list[FanoutItem] = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            item = subscription.get(timeout_s=min(left, 0.2))
        except SubscriptionClosedError:
            break
        if item is not None:
            items.append(item)
    return items
