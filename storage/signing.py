"""The station's Ed25519 signing key: made on first start, kept private, shown by fingerprint.

The private key lives at ``DATA_DIR/keys/station_ed25519.pem`` (PKCS#8 PEM, mode 0600, directory 0700).
Loading refuses a key file that other users can read or write: a key others could copy cannot prove
anything. The public key travels in every evidence package; its fingerprint (SHA-256 of the 32 raw public
key bytes, shown as 16 groups of 4 hex digits) is what a verifier compares by eye or with ``--key``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

logger = logging.getLogger(__name__)

KEY_DIR_NAME = "keys"
KEY_FILE_NAME = "station_ed25519.pem"


class KeyFileError(PermissionError):
    """The key file is unsafe (readable by others) or not an Ed25519 private key."""


class PublicKeyError(ValueError):
    """A public key that cannot be parsed or is not Ed25519; ``kind``: the algorithm of a key that is not
    Ed25519 (``RSA``, ``EC``, ``Ed448``, ...), None when no key could be parsed at all."""

    def __init__(self, message: str, *, kind: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind


def key_kind(key: object) -> str:
    """The algorithm of a ``cryptography`` key object, from its class name (``RSAPublicKey`` -> ``RSA``)."""
    name = type(key).__name__.lstrip("_")
    for suffix in ("PublicKey", "PrivateKey"):
        name = name.removesuffix(suffix)
    return {"EllipticCurve": "EC"}.get(name, name) or "?"


def key_path(data_dir: Path) -> Path:
    return data_dir / KEY_DIR_NAME / KEY_FILE_NAME


def raw_public_bytes(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key_pem(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def fingerprint(public_key: Ed25519PublicKey) -> str:
    """SHA-256 of the raw public key as ``abcd:ef01:...`` (16 groups of 4 hex digits)."""
    digest = hashlib.sha256(raw_public_bytes(public_key)).hexdigest()
    return ":".join(digest[i : i + 4] for i in range(0, len(digest), 4))


def load_public_key_pem(data: bytes) -> Ed25519PublicKey:
    """Parse a PEM public key (or the PEM of a private key, whose public half is taken)."""
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        try:
            private = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as exc:
            raise PublicKeyError("not a PEM public key") from exc
        if not isinstance(private, Ed25519PrivateKey):
            raise PublicKeyError(
                f"not an Ed25519 key ({type(private).__name__})", kind=key_kind(private)
            ) from None
        return private.public_key()
    if not isinstance(key, Ed25519PublicKey):
        raise PublicKeyError(f"not an Ed25519 public key ({type(key).__name__})", kind=key_kind(key))
    return key


def verify_signature(public_key: Ed25519PublicKey, signature: bytes, data: bytes) -> bool:
    try:
        public_key.verify(signature, data)
    except InvalidSignature:
        return False
    return True


@dataclass(frozen=True)
class StationKey:
    """The station's key pair."""

    private_key: Ed25519PrivateKey
    path: Path

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    @property
    def public_pem(self) -> bytes:
        return public_key_pem(self.public_key)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public_key)

    def sign(self, data: bytes) -> bytes:
        return self.private_key.sign(data)


def check_key_file_mode(path: Path) -> None:
    """Refuse a key file that group or others may read or write."""
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(
            f"station key {path} is accessible by other users (mode {stat.S_IMODE(mode):04o}); "
            f"it must be 0600: run 'chmod 600 {path}'"
        )


def load_station_key(path: Path) -> StationKey:
    """Load the private key, refusing an unsafe file mode."""
    check_key_file_mode(path)
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise KeyFileError(f"station key {path} is not a readable PEM private key: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"station key {path} is not an Ed25519 key ({type(key).__name__})")
    return StationKey(private_key=key, path=path)


def ensure_station_key(data_dir: Path) -> StationKey:
    """Load the station key, generating it on first start (directory 0700, file 0600, never overwritten)."""
    path = key_path(data_dir)
    if path.exists():
        return load_station_key(path)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    # Written to a private temporary file, then hard-linked into place: the link fails if another process
    # made the key meanwhile, and nobody ever sees a half-written key.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return load_station_key(path)
    finally:
        temporary.unlink(missing_ok=True)
    station_key = StationKey(private_key=key, path=path)
    logger.info("generated station signing key %s (fingerprint %s)", path, station_key.fingerprint)
    return station_key
