"""MediaPipe's key-point models through OpenVINO on a real person crop from the shared room clip.

The model files come from the set-up command (.ci/setup extracts them from the mediapipe wheel); without
them these tests skip with the reason. CI runs .ci/setup first, so there they run.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

from detection.error import DetectionError, ModelNotFoundError
from detection.frame import Image
from detection.keypoints import (
    ENV_KEYPOINT_MODELS,
    LEFT_ANKLE,
    LEFT_HIP,
    LEFT_SHOULDER,
    NOSE,
    RIGHT_ANKLE,
    RIGHT_HIP,
    RIGHT_SHOULDER,
    KeypointModels,
    body_scale,
    find_keypoint_models_dir,
    load_keypoint_models,
)
from detection.smoking_rule import SmokingConfig, SmokingModels, plan_smoking, read_keypoints
from streams.frame_sampler import iter_file_frames
from tests.support.affinity import affinity_after

# The room clip at 36 s: one person stands at the table, seen from behind, 370 px tall (yolo11n's box).
AT_TABLE_S = 36.0
AT_TABLE = (382.0, 7.0, 542.0, 375.0)


@pytest.fixture(scope="module")
def models_dir() -> Path:
    directory = find_keypoint_models_dir()
    if directory is None:
        pytest.skip(
            "key-point models not installed: run .ci/setup (it extracts them from the mediapipe wheel)"
        )
    return directory


@pytest.fixture(scope="module")
def models(models_dir: Path) -> KeypointModels:
    return load_keypoint_models(models_dir)


@pytest.fixture(scope="module")
def table_frame(room: Path) -> Image:
    for sampled in iter_file_frames(room, 2.0):
        if sampled.ts_s >= AT_TABLE_S:
            return sampled.image
    raise AssertionError("the room clip is shorter than expected")


def test_the_pose_of_a_real_person_is_a_plausible_skeleton(
    models: KeypointModels, table_frame: Image
) -> None:
    points = models.estimate(table_frame, AT_TABLE)
    assert points.score > 0.9
    assert points.points.shape == (33, 2) and points.visibility.shape == (33,)
    x1, y1, x2, y2 = AT_TABLE
    height = y2 - y1
    inside = (
        (points.points[:, 0] > x1 - 0.1 * height)
        & (points.points[:, 0] < x2 + 0.1 * height)
        & (points.points[:, 1] > y1 - 0.1 * height)
        & (points.points[:, 1] < y2 + 0.1 * height)
    )
    assert inside.all()
    ys = points.points[:, 1]
    shoulders = (ys[LEFT_SHOULDER] + ys[RIGHT_SHOULDER]) / 2
    hips = (ys[LEFT_HIP] + ys[RIGHT_HIP]) / 2
    ankles = (ys[LEFT_ANKLE] + ys[RIGHT_ANKLE]) / 2
    assert ys[NOSE] < shoulders < hips < ankles  # head at the top, feet at the bottom
    assert 0.15 * height < body_scale(points.points) < 0.4 * height  # shoulder width of an adult


def test_a_person_seen_from_behind_is_turned_away(models: KeypointModels, table_frame: Image) -> None:
    # The pose model still returns a confident skeleton with a "mouth": only the shoulders' order (and the
    # face detector) say that nobody's face can be seen, so the rule does not judge this person.
    points = models.estimate(table_frame, AT_TABLE)
    facing = float(points.points[LEFT_SHOULDER, 0] - points.points[RIGHT_SHOULDER, 0]) / body_scale(
        points.points
    )
    assert facing < -0.2
    assert read_keypoints(points, AT_TABLE[3] - AT_TABLE[1], SmokingConfig()).status == "turned_away"


def test_one_person_costs_tens_of_milliseconds(models: KeypointModels, table_frame: Image) -> None:
    models.estimate(table_frame, AT_TABLE)
    times = []
    for _ in range(5):
        start = time.perf_counter()
        models.estimate(table_frame, AT_TABLE, hands_within=10.0)  # both hands too: the most it costs
        times.append(time.perf_counter() - start)
    assert float(np.median(times)) < 0.25  # ~25 ms here; generous for a loaded CI machine


def test_missing_model_files_are_reported_and_turn_the_rule_off(tmp_path: Path) -> None:
    (tmp_path / "pose_landmark_full.tflite").write_bytes(b"")
    with pytest.raises(ModelNotFoundError, match=r"hand_landmark_lite\.tflite"):
        KeypointModels(tmp_path)
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        KeypointModels(tmp_path / "none")
    kinds, notes = plan_smoking({"smoking", "person"}, SmokingModels(keypoints_dir=tmp_path / "none"))
    assert kinds == {"person"}
    assert notes == [f"smoking detection is off: {tmp_path / 'none'}: key-point model folder does not exist"]
    assert issubclass(ModelNotFoundError, DetectionError)


def test_the_folder_comes_from_the_config_then_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_KEYPOINT_MODELS, str(tmp_path / "env"))
    assert find_keypoint_models_dir(tmp_path / "configured") == tmp_path / "configured"
    assert find_keypoint_models_dir() == tmp_path / "env"


def test_key_points_keep_the_thread_on_the_cpus_it_was_given(models_dir: Path, table_frame: Image) -> None:
    """The rule runs on the ``detect`` thread, pinned away from the recording CPUs; OpenVINO's own CPU
    pinning would reset the thread to every CPU when the models are compiled and run."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        pytest.skip("one CPU: there is no other CPU the runtime could move the thread to")

    def estimate() -> None:
        load_keypoint_models(models_dir).estimate(table_frame, AT_TABLE, hands_within=10.0)

    seen = affinity_after(cpus[0], estimate)
    assert seen == [{cpus[0]}]
