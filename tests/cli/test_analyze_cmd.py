"""``station analyze`` through the installed command, on the shared clips and on bad input."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.paths import shared_file
from tests.support.station_process import run_station

KEYS = {"kind", "camera", "zone", "start_s", "end_s", "box", "score", "track"}


def _analyze(*args: str, cache: Path, timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
    return run_station("analyze", *args, env={"XDG_CACHE_HOME": str(cache)}, timeout_s=timeout_s)


def _events(result: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def pets09_events(cache: Path) -> tuple[list[dict[str, Any]], str]:
    clip = shared_file("media", "pets09_s2l1_campus.mp4")
    model = shared_file("models", "yolo11n_int8.onnx")
    result = _analyze(str(clip), "--model", str(model), "--json", cache=cache)
    return _events(result), result.stderr


def _check_shape(event: dict[str, Any], width: int, height: int) -> None:
    assert set(event) >= KEYS, event
    x, y, w, h = event["box"]
    assert x >= 0 and y >= 0 and w > 0 and h > 0 and x + w <= width + 0.5 and y + h <= height + 0.5
    assert 0 <= event["start_s"] <= event["end_s"]


def test_pets09_gives_only_person_and_motion_events(
    pets09_events: tuple[list[dict[str, Any]], str],
) -> None:
    events, stderr = pets09_events
    kinds = {e["kind"] for e in events}
    assert kinds == {"person", "motion"}, events
    for event in events:
        _check_shape(event, 768, 576)
    # People walk through the whole clip: presence from the first seconds to the end.
    people = [e for e in events if e["kind"] == "person"]
    assert min(e["start_s"] for e in people) < 3
    assert max(e["end_s"] for e in people) > 78
    assert "smoking: 28 person tracks, 0 measurable (too small: 28)" in stderr  # every rule ran
    assert "analysed 398 frames" in stderr


def test_room_gives_one_person_event_per_visit_and_none_while_empty(cache: Path) -> None:
    clip = shared_file("media", "room_one_by_one.mp4")
    model = shared_file("models", "yolo11n_int8.onnx")
    events = _events(_analyze(str(clip), "--model", str(model), "--json", cache=cache))
    assert {e["kind"] for e in events} <= {"person", "motion"}
    people = [e for e in events if e["kind"] == "person"]
    for event in events:
        _check_shape(event, 768, 432)

    def covered(t: float) -> bool:
        return any(e["start_s"] <= t <= e["end_s"] for e in people)

    # Looked at by eye: someone at the table at these moments, nobody at those.
    assert all(covered(t) for t in (13, 35, 60, 110)), people
    assert not any(covered(t) for t in (3, 21, 48, 72, 90, 121)), people
    assert 5 <= len(people) <= 7, people


def test_params_change_the_rule(cache: Path, small_clip: Path) -> None:
    result = _analyze(
        str(small_clip), "--kinds", "motion", "--param", "motion.min_s=0.5", "--json", cache=cache
    )
    assert result.returncode == 0, result.stderr
    bad = _analyze(str(small_clip), "--param", "person.min_dwel=1", "--json", cache=cache)
    assert bad.returncode == 78
    assert "unknown parameter person.min_dwel" in bad.stderr and "person.min_dwell_s" in bad.stderr
    malformed = _analyze(str(small_clip), "--param", "dwell=1", cache=cache)
    assert malformed.returncode == 78 and "RULE.NAME=VALUE" in malformed.stderr


def test_motion_events_work_without_a_model(cache: Path, small_clip: Path, tmp_path: Path) -> None:
    config = tmp_path / "station.yaml"
    config.write_text(
        "station: {name: t}\nstorage: {data_dir: " + str(tmp_path / "data") + "}\n"
        "cameras:\n  - id: cam\n    name: Cam\n    url: file:///x.mp4\n"
        "    detection: {enabled: true, kinds: [motion]}\n"
    )
    result = _analyze(str(small_clip), "--config", str(config), "--json", cache=cache)
    events = _events(result)
    assert events and {e["kind"] for e in events} == {"motion"}
    assert {e["camera"] for e in events} == {"cam"}


def test_bad_input_gets_a_clear_message(cache: Path, small_clip: Path, tmp_path: Path) -> None:
    missing = _analyze(str(small_clip), "--model", str(tmp_path / "none.onnx"), cache=cache)
    assert missing.returncode == 78 and "does not exist" in missing.stderr
    fake = tmp_path / "fake.onnx"
    fake.write_bytes(b"not a model at all" * 64)
    not_model = _analyze(str(small_clip), "--model", str(fake), cache=cache)
    assert not_model.returncode == 78 and "cannot" in not_model.stderr
    text = tmp_path / "notes.mp4"
    text.write_text("hello")
    unreadable = _analyze(str(text), "--kinds", "motion", cache=cache)
    assert unreadable.returncode == 2 and "notes.mp4" in unreadable.stderr
    assert "Traceback" not in missing.stderr + not_model.stderr + unreadable.stderr
