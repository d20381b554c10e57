"""``station verify`` on hostile packages (finding 9 of issue 26): the report says what is wrong and the exit
status is 1 (invalid) or 2 (no package at all), never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.evidence import make_package
from tests.support.hostile_zip import CORPUS, Genuine, HostileCase
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
