"""``station verify`` on hostile packages (finding 9 of issue 26): the report says what is wrong and the exit
status is 1 (invalid) or 2 (no package at all), never a traceback; a check that runs over its time limit is
stopped (exit 4)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.support.evidence import make_package
from tests.support.hostile_zip import CORPUS, Genuine, HostileCase, assemble
from tests.support.station_process import run_station

CASES = {case.id: case for case in CORPUS}
FINDING_9 = [
    "manifest-deeply-nested",
    "encrypted-member",
    "compression-method-6",
    "cameras-5",
    "manifest-number-5000-digits",
    "lone-surrogates-in-manifest",
    "truncated",
]


@pytest.fixture(scope="module")
def genuine(tmp_path_factory: pytest.TempPathFactory) -> Genuine:
    result, key = make_package(tmp_path_factory.mktemp("genuine"))
    return Genuine.of(result.path, key)


@pytest.mark.parametrize("case", [CASES[name] for name in FINDING_9], ids=FINDING_9)
def test_hostile_package_exits_with_a_reason_not_a_traceback(
    case: HostileCase, genuine: Genuine, tmp_path: Path
) -> None:
    package = tmp_path / "hostile.zip"
    package.write_bytes(case.build(genuine))
    done = run_station("verify", str(package))
    assert "Traceback" not in done.stderr + done.stdout
    if case.unreadable:
        assert done.returncode == 2 and case.reason in done.stderr
        return
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[-1].startswith("result: INVALID (")
    assert any(line.startswith("  FAIL  ") and case.reason.split("\udfff")[0] in line for line in lines)


def test_a_check_over_its_time_limit_is_stopped_with_exit_4(genuine: Genuine, tmp_path: Path) -> None:
    """``station verify`` checks in the console's verify worker, under its time limit: a check that runs
    over is stopped (the child is killed) and the exit status says it was not checked to the end. After
    the hashing cap no package of the corpus takes long, so the limit is set below what a check needs."""
    package = tmp_path / "package.zip"
    package.write_bytes(assemble(genuine.raw()))
    began = time.monotonic()
    done = run_station("verify", str(package), "--time-limit", "0.05")
    elapsed_s = time.monotonic() - began
    assert "Traceback" not in done.stderr + done.stdout
    assert done.returncode == 4, done.stdout + done.stderr
    assert f"{package}: not checked to the end: the check took longer than 0 s and was stopped" in done.stderr
    assert "result:" not in done.stdout
    assert elapsed_s < 20, elapsed_s  # the CLI's own start-up, the stopped child, on a loaded machine


@pytest.mark.parametrize("value", ["0", "-1", "soon"])
def test_a_time_limit_that_is_not_positive_seconds_is_refused(
    value: str, genuine: Genuine, tmp_path: Path
) -> None:
    package = tmp_path / "package.zip"
    package.write_bytes(assemble(genuine.raw()))
    done = run_station("verify", str(package), "--time-limit", value)
    assert done.returncode == 2 and "--time-limit" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
