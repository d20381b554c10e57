"""A long export runs in bounded memory: 20 minutes of 1080p cost no more RAM than 20 seconds."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from tests.support.paths import REPO_ROOT
from tests.support.segments import MARKED_START_UTC, clip_job, encode_segment, replicate_segments

MIB = 1024


def _run(job: dict[str, object], tmp_path: Path, name: str) -> dict[str, float]:
    spec = tmp_path / f"{name}.json"
    spec.write_text(json.dumps(job))
    done = subprocess.run(
        [sys.executable, "-m", "tests.support.clip_job", str(spec)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_twenty_minutes_of_1080p_in_bounded_memory(tmp_path: Path) -> None:
    master = tmp_path / "master.mp4"
    encode_segment(
        master, first_frame=0, frames=250, width=1920, height=1080, gop=50, bit_rate=2_000_000, noisy=True
    )
    segments = replicate_segments(master, tmp_path / "rec", "cam-big", MARKED_START_UTC, count=120)
    end = segments[-1].end_utc
    short = _run(
        clip_job(
            tmp_path / "short.mp4",
            "cam-big",
            MARKED_START_UTC,
            MARKED_START_UTC + timedelta(seconds=20),
            segments,
        ),
        tmp_path,
        "short",
    )
    long = _run(clip_job(tmp_path / "long.mp4", "cam-big", MARKED_START_UTC, end, segments), tmp_path, "long")
    growth_mib = (long["max_rss_kib"] - short["max_rss_kib"]) / MIB
    print(f"short: {short}\nlong: {long}\npeak RSS growth: {growth_mib:.1f} MiB")
    assert long["packets"] == 120 * 250
    assert long["bytes"] > 200 * MIB * MIB  # the clip is hundreds of MiB ...
    assert growth_mib < 32  # ... but memory is not


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_48_hour_evidence_package_in_bounded_memory(tmp_path: Path) -> None:
    """48 hours of a (small, 1 fps) camera, 288 ten-minute segments and 172,800 packets, cut straight into
    a signed evidence package: the process grows no more than for one minute of it, and the package
    verifies."""
    from storage.evidence.verifier import verify_package

    master = tmp_path / "master.mp4"
    encode_segment(master, first_frame=0, frames=600, width=320, height=180, fps=1, gop=2, noisy=True)
    segments = replicate_segments(master, tmp_path / "rec", "cam-48h", MARKED_START_UTC, count=288)
    end = segments[-1].end_utc
    assert end - MARKED_START_UTC == timedelta(hours=48)
    short_job = clip_job(
        tmp_path / "short.zip", "cam-48h", MARKED_START_UTC, MARKED_START_UTC + timedelta(minutes=1), segments
    )
    short = _run({**short_job, "package": True}, tmp_path, "short")
    long_job = clip_job(tmp_path / "long.zip", "cam-48h", MARKED_START_UTC, end, segments)
    long = _run({**long_job, "package": True}, tmp_path, "long")
    growth_mib = (long["max_rss_kib"] - short["max_rss_kib"]) / MIB
    print(f"short: {short}\nlong: {long}\npeak RSS growth: {growth_mib:.1f} MiB")
    assert long["packets"] == 288 * 600
    assert growth_mib < 32
    report = verify_package(tmp_path / "long.zip")
    assert report.intact, report.render()
