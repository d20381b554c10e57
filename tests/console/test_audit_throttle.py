from __future__ import annotations

import pytest

from console.audit_throttle import AuditThrottle, is_due


def test_first_event_then_one_per_interval() -> None:
    throttle = AuditThrottle(interval_s=60)
    key = ("snapshot", "7", "cam1")
    assert throttle.should_audit(key, 0.0)
    assert not throttle.should_audit(key, 59.0)
    assert throttle.should_audit(("snapshot", "8", "cam1"), 1.0)  # another user counts on its own
    assert throttle.should_audit(key, 60.0)
    throttle.forget(key)
    assert throttle.should_audit(key, 61.0)


def test_memory_is_bounded_and_settings_checked() -> None:
    throttle = AuditThrottle(interval_s=60, max_keys=10)
    for i in range(100):
        throttle.should_audit((str(i),), 0.0)
    assert len(throttle._last) == 10
    assert is_due(None, 0.0, 1.0) and not is_due(0.0, 0.5, 1.0)
    with pytest.raises(ValueError, match="positive"):
        AuditThrottle(interval_s=0)
