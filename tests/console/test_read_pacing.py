"""``recording.read_batch_ms``: validated in the config, handed to the camera threads as their pacing."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from config.schema import RecordingConfig
from console.recording import read_pacing


def test_default_batches_unwatched_streams_200_ms_apart() -> None:
    policy = read_pacing(RecordingConfig())
    assert policy.enabled and policy.pause_s == 0.2


def test_zero_reads_every_packet_as_it_arrives() -> None:
    assert not read_pacing(RecordingConfig(read_batch_ms=0)).enabled


@pytest.mark.parametrize("value", [-1, 1001, 0.5, "fast"])
def test_out_of_range_values_are_rejected_with_the_field_named(value: object) -> None:
    with pytest.raises(ValidationError) as caught:
        RecordingConfig(read_batch_ms=value)
    assert "read_batch_ms" in str(caught.value)
