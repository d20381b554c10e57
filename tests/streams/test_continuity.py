"""When a camera stream breaks, as the frame decoder tells detection (table-driven, pure)."""

from __future__ import annotations

import pytest

from streams.continuity import ContinuityPolicy, StreamBreak, StreamPoint, stream_break

FRAME = 0.1  # a 10 fps camera


def _at(ts_s: float, *, connection: int = 1, size: tuple[int, int] = (768, 576)) -> StreamPoint:
    return StreamPoint(ts_s, connection, size[0], size[1])


@pytest.mark.parametrize(
    ("previous", "current", "expected"),
    [
        (None, _at(100.0), StreamBreak.START),
        (_at(100.0), _at(100.1), None),  # the next frame
        (_at(100.0), _at(100.35), None),  # a few frames lost: still the same picture
        (_at(100.0), _at(101.0), None),  # a smart codec's one frame a second in a still scene
        (_at(100.0), _at(101.2), StreamBreak.GAP),  # over the floor and over four intervals
        (_at(100.0), _at(160.0), StreamBreak.GAP),  # the camera was away a minute
        (_at(100.0), _at(99.95), None),  # stamps jitter back a little
        (_at(100.0), _at(99.5), StreamBreak.BACKWARDS),
        (_at(100.0), _at(100.1, connection=2), StreamBreak.RECONNECT),  # however close in time
        (_at(100.0), _at(100.1, size=(1280, 720)), StreamBreak.RESIZE),
    ],
)
def test_stream_break(
    previous: StreamPoint | None, current: StreamPoint, expected: StreamBreak | None
) -> None:
    assert stream_break(previous, current, interval_s=FRAME) is expected


def test_the_gap_limit_is_a_few_frame_intervals_of_a_slow_stream() -> None:
    # a 1 fps stream: four intervals are 4 s, so 3 s between frames is no break and 5 s is
    assert stream_break(_at(0.0), _at(3.0), interval_s=1.0) is None
    assert stream_break(_at(0.0), _at(5.0), interval_s=1.0) is StreamBreak.GAP
    assert stream_break(_at(0.0), _at(-5.0), interval_s=1.0) is StreamBreak.BACKWARDS


def test_the_policy_sets_the_limits() -> None:
    strict = ContinuityPolicy(max_intervals=2.0, min_gap_s=0.0)
    assert stream_break(_at(0.0), _at(0.25), interval_s=FRAME, policy=strict) is StreamBreak.GAP
    with pytest.raises(ValueError):
        ContinuityPolicy(max_intervals=0.0)
    with pytest.raises(ValueError):
        stream_break(_at(0.0), _at(0.1), interval_s=0.0)
