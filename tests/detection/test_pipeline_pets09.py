"""The whole frame path on the shared clip: people through motion gate, detector and tracker, and a
person-in-zone rule with a schedule against the ground truth."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from detection.detector import load_detector
from detection.event import DetectionEvent
from detection.frame import Frame
from detection.pipeline import CANDIDATE_SCORE, CameraPipeline
from detection.zone import ZoneSpec, feet_in_zone
from streams.frame_sampler import iter_file_frames
from tests.support.mot import Counts, load_mot_ground_truth, match_frame

ENTRANCE = ((0.72, 0.17), (1.0, 0.17), (1.0, 0.36), (0.72, 0.36))  # the road up to the building's door
ALMATY = ZoneInfo("Asia/Almaty")
NIGHT_START = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)  # 23:00 in Almaty
DAY_START = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)  # 11:00


def _run(
    pipeline: CameraPipeline, clip: Path, start: datetime, on_frame: object = None
) -> list[DetectionEvent]:
    events: list[DetectionEvent] = []
    last = start.timestamp()
    for sampled in iter_file_frames(clip, 5):
        frame = Frame("campus", datetime.fromtimestamp(start.timestamp() + sampled.ts_s, UTC), sampled.image)
        last = frame.t_s
        events += pipeline.process(frame)
        if callable(on_frame):
            on_frame(sampled.ts_s)
    return events + pipeline.finish(last)


def test_people_through_the_pipeline_at_or_above_the_baseline(
    fp32_model: Path, pets09: Path, pets09_truth: Path
) -> None:
    detector = load_detector(fp32_model, min_score=CANDIDATE_SCORE)
    pipeline = CameraPipeline(
        "campus", kinds={"person"}, zones=[], timezone=ALMATY, detector=detector, fps=5, snapshots=False
    )
    truth = load_mot_ground_truth(pets09_truth)
    counts = Counts()

    def score(ts_s: float) -> None:
        predicted = np.asarray([t.xyxy for t in pipeline.tracks], np.float32).reshape(-1, 4)
        expected = np.asarray([b for _, b in truth.get(round(ts_s * 10), [])], np.float32).reshape(-1, 4)
        match_frame(predicted, expected, counts)

    _run(pipeline, pets09, NIGHT_START, score)
    assert counts.precision >= 0.918, counts
    assert counts.recall >= 0.850, counts


def _truth_episodes(truth_path: Path, gap_s: float) -> list[tuple[float, float]]:
    truth = load_mot_ground_truth(truth_path)
    frames = [
        f for f, rows in sorted(truth.items()) if any(feet_in_zone(b, ENTRANCE, (768, 576)) for _, b in rows)
    ]
    episodes: list[list[int]] = []
    for f in frames:
        if episodes and (f - episodes[-1][1]) / 10 <= gap_s:
            episodes[-1][1] = f
        else:
            episodes.append([f, f])
    return [(a / 10, b / 10) for a, b in episodes]


def _entrance_pipeline(fp32_model: Path) -> CameraPipeline:
    zone = ZoneSpec(name="entrance", points=ENTRANCE, schedule=("22:00-06:00",))
    detector = load_detector(fp32_model, min_score=CANDIDATE_SCORE)
    return CameraPipeline(
        "campus", kinds={"person"}, zones=[zone], timezone=ALMATY, detector=detector, fps=5, snapshots=True
    )


def test_person_in_zone_events_match_the_ground_truth_within_a_second(
    fp32_model: Path, pets09: Path, pets09_truth: Path
) -> None:
    expected = _truth_episodes(pets09_truth, gap_s=3.0)
    assert len(expected) == 3  # the clip has three stretches of people on that road
    events = _run(_entrance_pipeline(fp32_model), pets09, NIGHT_START)
    got = [(e.start_t_s - NIGHT_START.timestamp(), e.end_t_s - NIGHT_START.timestamp()) for e in events]
    assert len(got) == len(expected), got
    for (start, end), (want_start, want_end) in zip(got, expected, strict=True):
        assert start == pytest.approx(want_start, abs=1.0)
        assert end == pytest.approx(want_end, abs=1.0)
    assert all(e.zone == "entrance" and e.kind == "person" for e in events)
    jpeg = events[0].snapshot_jpeg
    assert jpeg is not None and jpeg[:2] == b"\xff\xd8"


def test_outside_the_zone_schedule_there_are_no_events(fp32_model: Path, pets09: Path) -> None:
    assert _run(_entrance_pipeline(fp32_model), pets09, DAY_START) == []


def test_a_camera_that_changes_resolution_mid_stream_keeps_being_analysed(
    fp32_model: Path, pets09: Path
) -> None:
    detector = load_detector(fp32_model, min_score=CANDIDATE_SCORE)
    pipeline = CameraPipeline(
        "campus", kinds={"person", "motion"}, zones=[], timezone=ALMATY, detector=detector, fps=5
    )
    start = NIGHT_START.timestamp()
    frames = list(iter_file_frames(pets09, 5))[:60]
    for index, sampled in enumerate(frames):
        image = (
            sampled.image if index < 30 else np.ascontiguousarray(sampled.image[::2, ::2])
        )  # 768 → 384 wide
        pipeline.process(Frame("campus", datetime.fromtimestamp(start + sampled.ts_s, UTC), image))
        if index == 59:
            assert all(t.xyxy[2] <= 384.5 and t.xyxy[3] <= 288.5 for t in pipeline.tracks)
    assert pipeline.times.frames == 60
    assert pipeline.tracks, "people are still tracked at the new size"
