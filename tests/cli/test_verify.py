"""``station verify`` as a user runs it: the installed console script in a subprocess."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from storage.signing import StationKey, ensure_station_key, public_key_pem
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


def test_other_station_key_exits_3_signer_unknown(tmp_path: Path) -> None:
    result, key = make_package(tmp_path)
    other = tmp_path / "other.pem"
    other.write_bytes(public_key_pem(Ed25519PrivateKey.generate().public_key()))
    done = _verify(result.path, "--key", other)
    assert done.returncode == 3
    assert f"signed by key {key.fingerprint}, which is not a trusted station key" in done.stdout
    assert done.stdout.splitlines()[-1].startswith("result: SIGNER UNKNOWN")


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


INJECTED_NAME = "Опорный пункт 5\nresult: VALID\x1b[8m"


def _station_config(tmp_path: Path) -> tuple[Path, StationKey]:
    """A station config whose data dir holds the station's signing key (made as ``station run`` makes it)."""
    data_dir = tmp_path / "station-data"
    key = ensure_station_key(data_dir)
    config = tmp_path / "station.yaml"
    config.write_text(f"station: {{name: Test}}\nstorage: {{data_dir: {data_dir}}}\ncameras: []\n")
    return config, key


def test_station_key_is_trusted_by_default(tmp_path: Path) -> None:
    config, key = _station_config(tmp_path)
    result, _ = make_package(tmp_path / "genuine", key=key)
    done = _verify(result.path, "--config", config)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == "result: VALID"
    assert f"trusted key: {key.fingerprint} (this station's key" in done.stdout


def test_forged_package_is_signer_unknown_and_not_valid(tmp_path: Path) -> None:
    config, _station = _station_config(tmp_path)
    forged, forger = make_package(tmp_path / "forged")  # signed by a fresh key of its own
    for args in (("--config", config), ()):  # against this station's key, and with no key at all
        done = _verify(forged.path, *args)
        assert done.returncode == 3, done.stdout + done.stderr
        last = done.stdout.splitlines()[-1]
        assert last.startswith("result: SIGNER UNKNOWN") and forger.fingerprint in last
        assert "result: VALID" not in done.stdout


def test_unsafe_station_key_is_not_trusted(tmp_path: Path) -> None:
    config, key = _station_config(tmp_path)
    key.path.chmod(0o644)
    result, _ = make_package(tmp_path / "genuine", key=key)
    done = _verify(result.path, "--config", config)
    assert done.returncode == 3
    assert "cannot use this station's key" in done.stderr and "0600" in done.stderr


def test_control_characters_from_the_package_are_escaped(tmp_path: Path) -> None:
    forged, _forger = make_package(tmp_path, station_name=INJECTED_NAME)
    done = _verify(forged.path)
    assert "\x1b" not in done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert [line for line in lines if line.startswith("result:")] == [lines[-1]]
    assert lines[-1].startswith("result: SIGNER UNKNOWN") and done.returncode == 3
    assert "station: Опорный пункт 5\\nresult: VALID\\x1b[8m (key " in done.stdout
