"""The station key: generated once with private permissions, refused when others can read it."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from storage.signing import (
    KeyFileError,
    PublicKeyError,
    ensure_station_key,
    fingerprint,
    key_path,
    load_public_key_pem,
    load_station_key,
    verify_signature,
)


def test_key_is_generated_on_first_start_with_private_permissions(tmp_path: Path) -> None:
    key = ensure_station_key(tmp_path / "data")
    path = key_path(tmp_path / "data")
    assert key.path == path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left


def test_second_start_loads_the_same_key(tmp_path: Path) -> None:
    first = ensure_station_key(tmp_path)
    second = ensure_station_key(tmp_path)
    assert first.fingerprint == second.fingerprint
    assert first.public_pem == second.public_pem


def test_fingerprint_is_sha256_of_the_raw_key_in_groups(tmp_path: Path) -> None:
    key = ensure_station_key(tmp_path)
    assert re.fullmatch(r"([0-9a-f]{4}:){15}[0-9a-f]{4}", key.fingerprint)
    assert fingerprint(load_public_key_pem(key.public_pem)) == key.fingerprint


@pytest.mark.parametrize("mode", [0o644, 0o604, 0o640, 0o660])
def test_key_readable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    ensure_station_key(tmp_path)
    path = key_path(tmp_path)
    path.chmod(mode)
    with pytest.raises(KeyFileError, match=rf"accessible by other users \(mode {mode:04o}\).*chmod 600"):
        load_station_key(path)
    with pytest.raises(PermissionError):
        ensure_station_key(tmp_path)


def test_non_ed25519_key_file_is_refused(tmp_path: Path) -> None:
    path = key_path(tmp_path)
    path.parent.mkdir(parents=True)
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.write_bytes(
        rsa_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    path.chmod(0o600)
    with pytest.raises(KeyFileError, match="not an Ed25519 key"):
        load_station_key(path)
    path.write_bytes(b"garbage")
    with pytest.raises(KeyFileError, match="not a readable PEM"):
        load_station_key(path)


def test_sign_and_verify(tmp_path: Path) -> None:
    key = ensure_station_key(tmp_path)
    signature = key.sign(b"manifest")
    assert verify_signature(key.public_key, signature, b"manifest")
    assert not verify_signature(key.public_key, signature, b"manifesT")
    other = Ed25519PrivateKey.generate().public_key()
    assert not verify_signature(other, signature, b"manifest")


def test_public_key_parsing(tmp_path: Path) -> None:
    key = ensure_station_key(tmp_path)
    assert fingerprint(load_public_key_pem(key.path.read_bytes())) == key.fingerprint  # private PEM works
    with pytest.raises(PublicKeyError):
        load_public_key_pem(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    rsa_public = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    pem = rsa_public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    with pytest.raises(PublicKeyError, match="not an Ed25519"):
        load_public_key_pem(pem)
