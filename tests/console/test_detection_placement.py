"""Where the detection threads run (``detection.cpus``) and how many analyse at once (``workers``)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from config.schema import DetectionConfig
from console.detection_service import detection_cpus, detection_workers

EVERY = frozenset({0, 1, 2, 3})


def test_all_is_every_cpu_whatever_recording_holds() -> None:
    assert detection_cpus("all", EVERY, frozenset({3})) == EVERY
    assert detection_cpus("all", EVERY, None) == EVERY


def test_free_is_what_recording_leaves() -> None:
    assert detection_cpus("free", EVERY, frozenset({3})) == frozenset({0, 1, 2})
    # recording unpinned, or holding every CPU: detection is not pinned either (it cannot be kept apart)
    assert detection_cpus("free", EVERY, None) is None
    assert detection_cpus("free", frozenset({0}), frozenset({0})) is None


def test_auto_workers_are_one_per_detection_cpu_and_a_number_is_taken_as_given() -> None:
    assert detection_workers("auto", frozenset({0, 1})) == 2
    assert detection_workers("auto", frozenset()) == 1
    assert detection_workers(3, frozenset({0})) == 3


def test_the_defaults_use_every_cpu_at_a_lower_priority() -> None:
    config = DetectionConfig()
    assert (config.cpus, config.workers, config.nice) == ("all", "auto", 10)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("workers", 0, "workers must be auto or a whole number from 1 to 64"),
        ("workers", "many", "workers"),
        ("nice", 20, "less than or equal to 19"),
        ("cpus", "some", "'free' or 'all'"),
    ],
)
def test_bad_values_are_refused_with_a_reason(field: str, value: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        DetectionConfig.model_validate({field: value})
