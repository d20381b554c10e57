"""Fixtures for the detection tests: the shared clips and detectors (skipped with a reason when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

from detection.dequantize import fp32_copy
from tests.support.paths import shared_file


@pytest.fixture(scope="session")
def pets09() -> Path:
    return shared_file("media", "pets09_s2l1_campus.mp4")


@pytest.fixture(scope="session")
def pets09_truth() -> Path:
    return shared_file("media", "pets09_s2l1_campus.gt.txt")


@pytest.fixture(scope="session")
def room() -> Path:
    return shared_file("media", "room_one_by_one.mp4")


@pytest.fixture(scope="session")
def int8_model() -> Path:
    return shared_file("models", "yolo11n_int8.onnx")


@pytest.fixture(scope="session")
def fp32_model(int8_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared INT8 detector turned into FP32 once per session (as the station does on load)."""
    return fp32_copy(int8_model, tmp_path_factory.mktemp("models"))
