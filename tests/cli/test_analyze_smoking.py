"""``station analyze --kinds smoking`` on the shared clips: no smoking anywhere, and honest about who could
not be judged (pets09's people are too small, the room's are seen from behind)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from detection.keypoints import find_keypoint_models_dir
from tests.support.paths import shared_file
from tests.support.station_process import run_station

SUMMARY = re.compile(r"smoking: (\d+) person tracks, (\d+) measurable(?: \(([^)]*)\))?; measurable (\d+) %")


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


def _smoking(clip: str, cache: Path) -> subprocess.CompletedProcess[str]:
    if find_keypoint_models_dir() is None:
        pytest.skip("key-point models not installed: run .ci/setup")
    model = shared_file("models", "yolo11n_int8.onnx")
    video = shared_file("media", clip)
    result = run_station(
        "analyze", str(video), "--model", str(model), "--kinds", "smoking", "--json",
        env={"XDG_CACHE_HOME": str(cache)}, timeout_s=240,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result


def _summary(stderr: str) -> tuple[int, int, dict[str, int], int]:
    match = SUMMARY.search(stderr)
    assert match, stderr
    tracks, measurable, reasons, share = match.groups()
    counts = {}
    for part in (reasons or "").split(", "):
        if part:
            name, count = part.rsplit(": ", 1)
            counts[name] = int(count)
    return int(tracks), int(measurable), counts, int(share)


def test_pets09_people_are_too_small_to_judge_and_nothing_is_smoking(cache: Path) -> None:
    result = _smoking("pets09_s2l1_campus.mp4", cache)
    assert [json.loads(line) for line in result.stdout.splitlines() if line.strip()] == []
    tracks, measurable, reasons, share = _summary(result.stderr)
    # Up to ~8 walkers at a time, mostly under 100 px: every track is reported as not measurable.
    assert tracks >= 15
    assert measurable == 0 and share == 0
    assert reasons.get("too small", 0) >= 0.9 * tracks
    assert "note: smoking" not in result.stderr


def test_room_people_seen_from_behind_are_not_judged_and_nothing_is_smoking(cache: Path) -> None:
    result = _smoking("room_one_by_one.mp4", cache)
    assert [json.loads(line) for line in result.stdout.splitlines() if line.strip()] == []
    tracks, measurable, reasons, share = _summary(result.stderr)
    # Five or six visits, large enough (~370 px) but all with their backs to the camera.
    assert tracks >= 4 and measurable == 0 and share == 0
    assert reasons.get("turned away", 0) >= tracks - 1


def test_without_key_point_models_smoking_is_off_with_a_note(small_clip: Path, tmp_path: Path) -> None:
    model = shared_file("models", "yolo11n_int8.onnx")
    config = tmp_path / "station.yaml"
    config.write_text(
        "station: {name: t}\nstorage: {data_dir: " + str(tmp_path / "data") + "}\n"
        f"detection: {{model_path: {model}, keypoint_models_dir: {tmp_path / 'none'}}}\n"
        "cameras:\n  - id: cam\n    name: Cam\n    url: file:///x.mp4\n"
        "    detection: {enabled: true, kinds: [person, smoking]}\n"
    )
    result = run_station(
        "analyze", str(small_clip), "--config", str(config), "--json",
        env={"XDG_CACHE_HOME": str(tmp_path / "cache")},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "note: smoking detection is off" in result.stderr and "key-point model folder" in result.stderr
    assert "smoking:" not in result.stderr.replace("note: smoking", "")
    assert "Traceback" not in result.stderr


def test_smoking_parameters_are_checked(small_clip: Path, tmp_path: Path) -> None:
    if find_keypoint_models_dir() is None:
        pytest.skip("key-point models not installed: run .ci/setup")
    model = shared_file("models", "yolo11n_int8.onnx")
    bad = run_station(
        "analyze", str(small_clip), "--model", str(model), "--kinds", "smoking",
        "--param", "smoking.min_puff=1", env={"XDG_CACHE_HOME": str(tmp_path / "cache")},
    )  # fmt: skip
    assert bad.returncode == 78
    assert "unknown parameter smoking.min_puff" in bad.stderr and "smoking.min_puffs" in bad.stderr
