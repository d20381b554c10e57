"""``station verify`` as a user runs it: the installed console script in a subprocess."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from storage.signing import public_key_pem
from tests.support.evidence import flip_byte, make_package
from tests.support.station_process import run_station


def _verify(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return run_station("verify", *map(str, args))


def test_valid_package_exits_0(tmp_path: Path) -> None:
    result, key = make_package(tmp_path)
    key_file = tmp_path / "station.pem"
    key_file.write_bytes(key.public_pem)
    done = _verify(result.path, "--key", key_file)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "result: VALID" in done.stdout
    assert key.fingerprint in done.stdout
    assert "Опорный пункт 5" in done.stdout


def test_tampered_clip_exits_1_and_names_the_file(tmp_path: Path) -> None:
    result, _key = make_package(tmp_path)
    flip_byte(result.path, "clips/cam-1_20250301T100002Z.mp4")
    done = _verify(result.path)
    assert done.returncode == 1
    assert "FAIL  clips/cam-1_20250301T100002Z.mp4: altered: SHA-256 expected" in done.stdout
    assert "result: INVALID (1 problem(s))" in done.stdout


def test_other_station_key_exits_1(tmp_path: Path) -> None:
    result, _key = make_package(tmp_path)
    other = tmp_path / "other.pem"
    other.write_bytes(public_key_pem(Ed25519PrivateKey.generate().public_key()))
    done = _verify(result.path, "--key", other)
    assert done.returncode == 1
    assert "not by the expected station key" in done.stdout


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 broken", b"hello"])
def test_not_a_package_exits_2(tmp_path: Path, content: bytes) -> None:
    bogus = tmp_path / "bogus.zip"
    bogus.write_bytes(content)
    done = _verify(bogus)
    assert done.returncode == 2
    assert "not a readable ZIP" in done.stderr


def test_unreadable_key_exits_2(tmp_path: Path) -> None:
    result, _key = make_package(tmp_path)
    done = _verify(result.path, "--key", tmp_path / "missing.pem")
    assert done.returncode == 2
    assert "cannot use as the station key" in done.stderr
