"""Signed evidence packages: build a ZIP of clips with a signed manifest, and verify one.

Package layout (every member stored, not compressed, so members can be hashed and checked in place)::

    clips/<camera>_<UTC start>.mp4   the clip file(s), stream copies of the recordings
    README.txt                       how to verify (ru/en); listed and hashed in the manifest
    manifest.json                    what, when, who, why, and the size and SHA-256 of every listed file
    manifest.sig                     Ed25519 signature over the exact bytes of manifest.json
    station_public_key.pem           the station's public key; its fingerprint is in the manifest

Verification (:func:`verify_package`) checks the signature over the manifest bytes with the public key in
the package, that this key has the fingerprint the manifest names, whether it is one of the keys the
verifier trusts (``trusted_keys``: the station's own, pinned), and that every listed file is present with
its size and SHA-256. Files in the package that the manifest does not list are an ERROR, not a warning:
nothing unsigned may travel inside a package that is presented as signed, because a reader cannot tell an
added ``clip_edited.mp4`` or a replaced README from the genuine ones.

The verdict (:class:`Verdict`) has three values. ``INVALID``: something is wrong. ``SIGNER_UNKNOWN``: the
package is intact and consistently signed, but by a key nobody vouched for: anyone can make such a package
with a key of their own, so it proves nothing about who made it. ``VALID``: intact and signed by a trusted
key. Everything a report shows that came from the package is escaped
(:func:`storage.control_char.escape_control_chars`): a station name cannot print a verdict of its own.

Building (:class:`PackageWriter`) has the export's cut write each clip straight into its ZIP member (no
temporary clip file, no copy), then hashes it from the page cache; nothing is held in memory.
Manifest functions (:func:`build_manifest`, :func:`manifest_bytes`) are pure.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import queue
import struct
import threading
import uuid
import zipfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from isal import isal_zlib

from storage.control_char import escape_control_chars
from storage.signing import (
    PublicKeyError,
    StationKey,
    fingerprint,
    load_public_key_pem,
    verify_signature,
)

logger = logging.getLogger(__name__)

MANIFEST_FORMAT = "station-console-evidence/1"
MANIFEST_NAME = "manifest.json"
SIGNATURE_NAME = "manifest.sig"
PUBLIC_KEY_NAME = "station_public_key.pem"
README_NAME = "README.txt"
CLIP_DIR = "clips"
ENVELOPE_NAMES = frozenset({MANIFEST_NAME, SIGNATURE_NAME, PUBLIC_KEY_NAME})
CHUNK_BYTES = 1 << 20
HASH_CHUNK_BYTES = 8 << 20
TRAIL_QUEUE_CHUNKS = 32  # writes (1 MiB each from the clip cutter) waiting for a trailing hash at most
_DATA_DESCRIPTOR = struct.Struct("<4sLQQ")  # ZIP64 form: signature, CRC-32, compressed and original size
_DATA_DESCRIPTOR_MAGIC = b"PK\x07\x08"
_DATA_DESCRIPTOR_FLAG = 0x08
MAX_SMALL_MEMBER_BYTES = 16 << 20  # manifest, signature, key: anything larger is not ours
_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")
_LOCAL_HEADER_MAGIC = b"PK\x03\x04"


class EvidenceError(Exception):
    """Base of evidence-package failures."""


class PackageBuildError(EvidenceError, OSError):
    """The package could not be written."""


class PackageUnreadableError(EvidenceError, ValueError):
    """The file is not a readable evidence package (not a ZIP, or no manifest at all)."""


def software_version() -> str:
    try:
        return metadata.version("station-console")
    except metadata.PackageNotFoundError:
        return "unknown"


# --- what goes into a manifest --------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceEntry:
    """One recorded segment a clip was copied from."""

    relative_path: str
    sha256: str | None
    segment_start_utc: datetime
    segment_end_utc: datetime
    used_from_utc: datetime
    used_to_utc: datetime
    clip_offset_s: float


@dataclass(frozen=True)
class GapEntry:
    start_utc: datetime
    end_utc: datetime
    reason: str | None


@dataclass(frozen=True)
class PackageClip:
    """A finished clip file and what it shows."""

    path: Path
    camera_id: str
    camera_name: str
    requested_start_utc: datetime
    requested_end_utc: datetime
    actual_start_utc: datetime
    actual_end_utc: datetime
    sources: tuple[SourceEntry, ...] = ()
    gaps: tuple[GapEntry, ...] = ()

    @property
    def arcname(self) -> str:
        return f"{CLIP_DIR}/{self.path.name}"


@dataclass(frozen=True)
class PackageInfo:
    """Who exports what, when and why."""

    station_name: str
    timezone: str
    user_id: int
    username: str
    reason: str
    exported_at_utc: datetime
    complaint_id: int | None = None
    complaint_number: str | None = None
    export_id: int | None = None
    package_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    software_version: str = field(default_factory=software_version)


@dataclass(frozen=True)
class FileEntry:
    name: str
    size: int
    sha256: str
    kind: str  # clip | readme


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _local(moment: datetime, timezone: str) -> str:
    return moment.astimezone(ZoneInfo(timezone)).isoformat(timespec="milliseconds")


def _range(start: datetime, end: datetime, timezone: str) -> dict[str, str]:
    return {
        "start_utc": _utc(start),
        "end_utc": _utc(end),
        "start_local": _local(start, timezone),
        "end_local": _local(end, timezone),
    }


def _clip_entry(clip: PackageClip, timezone: str) -> dict[str, Any]:
    return {
        "file": clip.arcname,
        "camera": {"id": clip.camera_id, "name": clip.camera_name},
        "requested": _range(clip.requested_start_utc, clip.requested_end_utc, timezone),
        "actual": _range(clip.actual_start_utc, clip.actual_end_utc, timezone),
        "gaps": [
            {
                "start_utc": _utc(gap.start_utc),
                "end_utc": _utc(gap.end_utc),
                "seconds": round((gap.end_utc - gap.start_utc).total_seconds(), 3),
                "reason": gap.reason,
            }
            for gap in clip.gaps
        ],
        "sources": [
            {
                "path": source.relative_path,
                "sha256": source.sha256,
                "segment_start_utc": _utc(source.segment_start_utc),
                "segment_end_utc": _utc(source.segment_end_utc),
                "used_from_utc": _utc(source.used_from_utc),
                "used_to_utc": _utc(source.used_to_utc),
                "clip_offset_s": round(source.clip_offset_s, 6),
            }
            for source in clip.sources
        ],
    }


def build_manifest(
    info: PackageInfo, key_fingerprint: str, clips: Sequence[PackageClip], files: Sequence[FileEntry]
) -> dict[str, Any]:
    """The manifest as a JSON-ready dict (pure)."""
    complaint = (
        {"id": info.complaint_id, "number": info.complaint_number}
        if info.complaint_id is not None or info.complaint_number
        else None
    )
    return {
        "format": MANIFEST_FORMAT,
        "package_id": info.package_id,
        "export_id": info.export_id,
        "station": {
            "name": info.station_name,
            "timezone": info.timezone,
            "public_key_fingerprint": key_fingerprint,
            "public_key_file": PUBLIC_KEY_NAME,
        },
        "software": {"name": "station-console", "version": info.software_version},
        "exported_at": {
            "utc": _utc(info.exported_at_utc),
            "local": _local(info.exported_at_utc, info.timezone),
        },
        "exported_by": {"user_id": info.user_id, "username": info.username},
        "complaint": complaint,
        "reason": info.reason,
        "clips": [_clip_entry(clip, info.timezone) for clip in clips],
        "files": [
            {"name": entry.name, "size": entry.size, "sha256": entry.sha256, "kind": entry.kind}
            for entry in files
        ],
    }


def manifest_bytes(manifest: dict[str, Any]) -> bytes:
    """The exact bytes that are signed: sorted keys, 2-space indent, UTF-8, trailing newline (pure)."""
    return (json.dumps(manifest, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def readme_text(info: PackageInfo, key_fingerprint: str) -> str:
    """The human-readable README (ru/en) (pure)."""
    exported = _local(info.exported_at_utc, info.timezone)
    return f"""ПАКЕТ ДОКАЗАТЕЛЬСТВ / EVIDENCE PACKAGE
Станция / Station: {info.station_name}
Экспорт / Exported: {exported} ({info.timezone}), {info.username}
Отпечаток ключа станции / Station key fingerprint:
  {key_fingerprint}

RU
Этот архив содержит видеозаписи (папка clips/) без перекодирования, файл manifest.json с описанием
(камеры, время UTC и местное, исходные сегменты, SHA-256 каждого файла, кто и зачем выгрузил), подпись
manifest.sig (Ed25519) и открытый ключ станции station_public_key.pem.
Проверка: station verify ПАКЕТ.zip --key station_public_key.pem
  (ключ станции нужно получить из надёжного источника, а не из этого архива, и сравнить отпечаток).
Без программы: проверьте подпись manifest.sig над байтами manifest.json открытым ключом Ed25519
(например, OpenSSL 3: openssl pkeyutl -verify -pubin -inkey station_public_key.pem -rawin
 -in manifest.json -sigfile manifest.sig), затем сравните SHA-256 каждого файла (sha256sum) со значениями
в manifest.json. Любое расхождение означает, что пакет изменён.

EN
This archive holds the video clips (clips/, stream copies, not re-encoded), manifest.json describing them
(cameras, UTC and local times, source segments, SHA-256 of every file, who exported them and why), the
Ed25519 signature manifest.sig over the exact bytes of manifest.json, and the station public key.
Verify: station verify PACKAGE.zip --key station_public_key.pem
  (obtain the station key from a trusted source, not from this archive, and compare its fingerprint).
By hand: verify manifest.sig over manifest.json with the Ed25519 public key (OpenSSL 3:
openssl pkeyutl -verify -pubin -inkey station_public_key.pem -rawin -in manifest.json -sigfile
manifest.sig), then compare the SHA-256 of every file (sha256sum) with manifest.json. Any difference means
the package was altered.
"""


# --- building -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PackageResult:
    path: Path
    size: int
    sha256: str | None  # of the whole ZIP, when asked for
    manifest: bytes
    files: tuple[FileEntry, ...]


def _zip_time(moment: datetime) -> tuple[int, int, int, int, int, int]:
    utc = moment.astimezone(UTC)
    return (max(utc.year, 1980), utc.month, utc.day, utc.hour, utc.minute, utc.second)


def _write_bytes(archive: zipfile.ZipFile, name: str, data: bytes, when: datetime) -> None:
    info = zipfile.ZipInfo(name, date_time=_zip_time(when))
    info.compress_type = zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16
    archive.writestr(info, data)


def build_package(
    dest: Path,
    *,
    key: StationKey,
    info: PackageInfo,
    clips: Sequence[PackageClip],
    hash_package: bool = True,
) -> PackageResult:
    """Write the signed package of finished clip files to ``dest`` (via ``dest.partial``, renamed when
    complete). The export writes its clips straight into a :class:`PackageWriter` instead."""
    if not clips:
        raise PackageBuildError("an evidence package needs at least one clip")
    writer = PackageWriter(dest, when=info.exported_at_utc, hash_package=hash_package)
    try:
        for clip in clips:
            writer.copy_clip(clip.path)
        return writer.finish(key=key, info=info, clips=clips)
    except BaseException:
        writer.abort()
        raise


class _TrailingHash:
    """Feeds the bytes handed to :meth:`feed`, in order, to ``updates`` on a thread of its own.

    The queue is bounded (``TRAIL_QUEUE_CHUNKS`` writes): a writer faster than the hash waits for it
    instead of piling up memory.
    """

    def __init__(self, name: str, updates: Sequence[Callable[[bytes], object]]) -> None:
        self._updates = updates
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=TRAIL_QUEUE_CHUNKS)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (data := self._queue.get()) is not None:
            if self._error is not None:
                continue  # keep draining so that feed() never blocks for ever
            try:
                for update in self._updates:
                    update(data)  # hashlib and zlib let go of the GIL for large buffers
            except BaseException as exc:  # noqa: BLE001 - handed to the writer in finish()
                self._error = exc

    def feed(self, data: bytes) -> None:
        self._queue.put(data)

    def finish(self) -> None:
        """Wait until everything fed is hashed (re-raises what the thread hit)."""
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise PackageBuildError(f"hashing the package failed: {self._error}") from self._error


# ZIP members need CRC-32: ISA-L's (PCLMULQDQ) runs at ~17 GB/s here, zlib's at ~3.9 GB/s; on a 2-core
# station that CPU comes out of the cut running beside it (docs/benchmarks.md, export).
crc32 = isal_zlib.crc32


class _Crc32:
    def __init__(self) -> None:
        self.value = 0

    def update(self, data: bytes) -> None:
        self.value = crc32(data, self.value)


class ClipMember(io.RawIOBase):
    """One clip member of a package being written, as the muxer sees it: a seekable file of its own.

    Its bytes go straight to their final place in the package (``os.pwrite`` at the member's data offset), so
    a clip is written once, with no temporary file and no copy; the MP4 muxer's seek back to patch its
    header lands inside the member.

    A member opened ``sequential`` (fragmented MP4: the muxer never seeks back) is hashed while it is
    written: its CRC-32 and SHA-256 on one trailing thread, the package's SHA-256 on another, so closing it
    costs nothing more. Should a write land before the end after all, the trailing hashes are dropped and
    the member is hashed when it is closed, like any other.
    """

    def __init__(
        self, fd: int, base: int, info: zipfile.ZipInfo, package: hashlib._Hash | None, sequential: bool
    ) -> None:
        super().__init__()
        self._fd = fd
        self.base = base
        self.info = info
        self.size = 0
        self._position = 0
        self.crc = _Crc32()
        self.sha256 = hashlib.sha256()
        self.package = package.copy() if package is not None else None  # the package hash up to ``base``
        self.trailing: list[_TrailingHash] = []
        if sequential:
            self.trailing.append(_TrailingHash("clip-hash", (self.crc.update, self.sha256.update)))
            if self.package is not None:
                self.trailing.append(_TrailingHash("package-hash", (self.package.update,)))

    def stop_trailing(self) -> None:
        for trail in self.trailing:
            with contextlib.suppress(PackageBuildError):
                trail.finish()
        self.trailing = []

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        if self.trailing:
            if self._position == self.size:
                chunk = data if type(data) is bytes else view.tobytes()  # kept until hashed: must not change
                for trail in self.trailing:
                    trail.feed(chunk)
            else:
                logger.debug("%s: written out of order; hashing it when it is closed", self.info.filename)
                self.stop_trailing()
        done = 0
        while done < len(view):
            done += os.pwrite(self._fd, view[done:], self.base + self._position + done)
        self._position += done
        self.size = max(self.size, self._position)
        return done

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        origin = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self.size}[whence]
        if origin + offset < 0:
            raise ValueError(f"seek before the start of {self.info.filename}")
        self._position = origin + offset
        return self._position

    def tell(self) -> int:
        return self._position


def _chunks(fd: int, start: int, length: int) -> Iterator[memoryview]:
    """[start, start + length) of the file in chunks, read into one reused buffer.

    (Not a memory map: mapped pages of a multi-GB clip would count as the process's resident memory.)
    """
    buffer = bytearray(HASH_CHUNK_BYTES)
    view = memoryview(buffer)
    at, end = start, start + length
    while at < end:
        got = os.preadv(fd, [view[: min(HASH_CHUNK_BYTES, end - at)]], at)
        if got <= 0:
            raise PackageBuildError(f"package file ended at byte {at}, {end - at} bytes early")
        yield view[:got]
        at += got


def _sha256_of(fd: int, start: int, length: int) -> str:
    digest = hashlib.sha256()
    for chunk in _chunks(fd, start, length):
        digest.update(chunk)  # hashlib lets go of the GIL for large buffers: the hashes run side by side
    return digest.hexdigest()


def _crc32_of(fd: int, start: int, length: int) -> int:
    crc = 0
    for chunk in _chunks(fd, start, length):
        crc = crc32(chunk, crc)
    return crc


class _PackageHash:
    """SHA-256 of the package file, advanced over bytes once they are final."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self.done = 0
        self.digest = hashlib.sha256()

    def advance(self, to: int) -> None:
        for chunk in _chunks(self._fd, self.done, to - self.done):
            self.digest.update(chunk)
        self.done = max(self.done, to)


class _PackageFile(io.RawIOBase):
    """The package file as ``ZipFile`` sees it: write-only and not seekable.

    zipfile then streams its own members (CRC and sizes in a data descriptor after the data, a standard ZIP
    feature every unzip tool reads) and never seeks back, so every byte before :attr:`position` is final
    and can be hashed once, in order, without reading back a file as large as the footage.
    """

    def __init__(self, fd: int) -> None:
        super().__init__()
        self.fd = fd
        self.position = 0

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        done = 0
        while done < len(view):
            done += os.pwrite(self.fd, view[done:], self.position + done)
        self.position += done
        return done

    def tell(self) -> int:
        return self.position


class PackageWriter:
    """Writes one evidence package: clip members (written in place by the cut, or copied), then
    :meth:`finish` adds README, manifest, signature and public key and renames ``dest.partial`` to ``dest``.

    A clip member is written as a streamed ZIP64 member (local header without sizes, data descriptor after
    the data). When it is closed, its CRC-32, its SHA-256 and the package's SHA-256 up to its end are
    computed side by side on three threads, read back from the page cache. :meth:`abort` deletes everything.
    """

    def __init__(self, dest: Path, *, when: datetime, hash_package: bool = True) -> None:
        self.dest = dest
        self.partial = dest.with_name(dest.name + ".partial")
        self.when = when
        self.files: list[FileEntry] = []
        self._member: ClipMember | None = None
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            self._handle = self.partial.open("w+b")
        except OSError as exc:
            raise PackageBuildError(f"cannot write evidence package {dest}: {exc}") from exc
        self._file = _PackageFile(self._handle.fileno())
        self._archive = zipfile.ZipFile(self._file, "w", compression=zipfile.ZIP_STORED, allowZip64=True)
        self._hash = _PackageHash(self._file.fd) if hash_package else None
        self._pool = ThreadPoolExecutor(max_workers=3, thread_name_prefix="package-hash")

    def open_clip(self, name: str, *, sequential: bool = False) -> ClipMember:
        """Start the member ``clips/<name>``; the caller writes the MP4 into the returned file.

        ``sequential``: the caller promises to write it front to back (it is then hashed while written).
        """
        if self._member is not None:
            raise PackageBuildError(f"{self._member.info.filename} is still open")
        arcname = f"{CLIP_DIR}/{name}"
        if arcname in self._archive.NameToInfo:
            raise PackageBuildError(f"clip file names are not unique: {arcname} twice")
        info = zipfile.ZipInfo(arcname, date_time=_zip_time(self.when))
        info.compress_type = zipfile.ZIP_STORED
        info.external_attr = 0o644 << 16
        info.flag_bits |= _DATA_DESCRIPTOR_FLAG
        info.header_offset = self._file.position
        self._file.write(info.FileHeader(zip64=True))
        base = self._file.position
        package = None
        if self._hash is not None and sequential:
            self._hash.advance(base)  # earlier members and this header: a few bytes
            package = self._hash.digest
        self._member = ClipMember(self._file.fd, base, info, package, sequential)
        return self._member

    def close_clip(self, member: io.RawIOBase) -> FileEntry:
        """Finish the member: hash it (CRC-32, SHA-256, package hash side by side), write its descriptor."""
        if member is not self._member or not isinstance(member, ClipMember):
            raise PackageBuildError("close_clip: not the member being written")
        self._member = None
        info, base, size = member.info, member.base, member.size
        if member.trailing:  # hashed while it was written
            for trail in member.trailing:
                trail.finish()
            member.trailing = []
            info.CRC, digest = member.crc.value, member.sha256.hexdigest()
            if self._hash is not None and member.package is not None:
                self._hash.digest, self._hash.done = member.package, base + size
        else:
            crc = self._pool.submit(_crc32_of, self._file.fd, base, size)
            sha = self._pool.submit(_sha256_of, self._file.fd, base, size)
            package = self._pool.submit(self._hash.advance, base + size) if self._hash is not None else None
            info.CRC, digest = crc.result(), sha.result()
            if package is not None:
                package.result()
        info.file_size = info.compress_size = size
        self._file.position = base + size
        self._file.write(_DATA_DESCRIPTOR.pack(_DATA_DESCRIPTOR_MAGIC, info.CRC, size, size))
        # The member joins the central directory zipfile writes at close, as if zipfile had written it.
        self._archive.filelist.append(info)
        self._archive.NameToInfo[info.filename] = info
        entry = FileEntry(info.filename, size, digest, "clip")
        self.files.append(entry)
        return entry

    def copy_clip(self, path: Path) -> FileEntry:
        """A finished clip file copied into a member of the same name."""
        member = self.open_clip(path.name)
        try:
            with path.open("rb") as source:
                while chunk := source.read(CHUNK_BYTES):
                    member.write(chunk)
        except OSError as exc:
            raise PackageBuildError(f"cannot write evidence package {self.dest}: {exc}") from exc
        return self.close_clip(member)

    def finish(self, *, key: StationKey, info: PackageInfo, clips: Sequence[PackageClip]) -> PackageResult:
        """README, manifest, signature and public key, the central directory; then rename into place."""
        if self._member is not None:
            raise PackageBuildError(f"{self._member.info.filename} is still open")
        written = {entry.name for entry in self.files}
        missing = [clip.arcname for clip in clips if clip.arcname not in written]
        if not clips or missing:
            raise PackageBuildError(f"an evidence package needs its clips written first (missing: {missing})")
        when = info.exported_at_utc
        key_fingerprint = key.fingerprint
        files = list(self.files)
        try:
            readme = readme_text(info, key_fingerprint).encode("utf-8")
            _write_bytes(self._archive, README_NAME, readme, when)
            files.append(FileEntry(README_NAME, len(readme), hashlib.sha256(readme).hexdigest(), "readme"))
            manifest = manifest_bytes(build_manifest(info, key_fingerprint, clips, files))
            _write_bytes(self._archive, MANIFEST_NAME, manifest, when)
            _write_bytes(self._archive, SIGNATURE_NAME, key.sign(manifest), when)
            _write_bytes(self._archive, PUBLIC_KEY_NAME, key.public_pem, when)
            self._archive.close()
            self._handle.flush()
            package_sha256 = None
            if self._hash is not None:
                self._hash.advance(self._file.position)
                package_sha256 = self._hash.digest.hexdigest()
            self._close()
            self.partial.replace(self.dest)
        except OSError as exc:
            self.abort()
            if isinstance(exc, PackageBuildError):
                raise
            raise PackageBuildError(f"cannot write evidence package {self.dest}: {exc}") from exc
        logger.info("evidence package %s written (%d clip file(s))", self.dest, len(clips))
        return PackageResult(self.dest, self._file.position, package_sha256, manifest, tuple(files))

    def abort(self) -> None:
        """Close and delete the partial package (idempotent)."""
        if self._member is not None:
            self._member.stop_trailing()
        with contextlib.suppress(Exception):
            self._archive.close()  # into the file about to be deleted; a ZipFile left open would at exit
        with contextlib.suppress(OSError, ValueError):
            self._close()
        self.partial.unlink(missing_ok=True)

    def _close(self) -> None:
        self._pool.shutdown(wait=True)
        if not self._handle.closed:
            self._handle.close()


# --- verifying ------------------------------------------------------------------------------------------


class Verdict(StrEnum):
    VALID = "valid"  # intact and signed by a trusted key
    SIGNER_UNKNOWN = "signer_unknown"  # intact and consistently signed, by a key nobody trusts
    INVALID = "invalid"  # something is wrong (the errors say what)


@dataclass
class VerificationReport:
    """What was checked and what is wrong.

    ``intact``: no errors. ``valid``: intact and signed by a trusted key (:attr:`verdict` is ``VALID``).
    The messages are raw (they may hold text from the package): show them through :meth:`render` or
    :func:`storage.control_char.escape_control_chars`.
    """

    path: Path
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    passed: list[str] = field(default_factory=list)
    manifest: dict[str, Any] | None = None
    key_fingerprint: str | None = None
    signer_trusted: bool = False

    @property
    def intact(self) -> bool:
        return not self.errors

    @property
    def verdict(self) -> Verdict:
        if self.errors:
            return Verdict.INVALID
        return Verdict.VALID if self.signer_trusted else Verdict.SIGNER_UNKNOWN

    @property
    def valid(self) -> bool:
        return self.verdict is Verdict.VALID

    def verdict_line(self) -> str:
        verdict = self.verdict
        if verdict is Verdict.VALID:
            return "result: VALID"
        if verdict is Verdict.INVALID:
            return f"result: INVALID ({len(self.errors)} problem(s))"
        return (
            f"result: SIGNER UNKNOWN (signature valid, but key {self.key_fingerprint} "
            "is not a trusted station key)"
        )

    def render(self) -> str:
        """The report for a terminal, one check a line, the verdict last; text from the package escaped."""
        lines = [f"package: {self.path}"]
        if self.manifest is not None:
            lines.extend(_summary(self.manifest))
        lines.extend(f"  OK    {line}" for line in self.passed)
        lines.extend(f"  WARN  {line}" for line in self.warnings)
        lines.extend(f"  FAIL  {line}" for line in self.errors)
        lines.append(self.verdict_line())
        return "\n".join(escape_control_chars(line) for line in lines)


def _section(manifest: dict[str, Any], name: str) -> dict[str, Any]:
    value = manifest.get(name)
    return value if isinstance(value, dict) else {}


def _summary(manifest: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    station = _section(manifest, "station")
    by = _section(manifest, "exported_by")
    at = _section(manifest, "exported_at")
    lines.append(f"station: {station.get('name')} (key {station.get('public_key_fingerprint')})")
    lines.append(f"exported: {at.get('local')} by {by.get('username')} (user {by.get('user_id')})")
    complaint = manifest.get("complaint")
    if isinstance(complaint, dict):
        lines.append(f"complaint: {complaint.get('number')} (id {complaint.get('id')})")
    lines.append(f"reason: {manifest.get('reason')}")
    clips = manifest.get("clips")
    for clip in clips if isinstance(clips, list) else []:
        if isinstance(clip, dict):
            actual = _section(clip, "actual")
            camera = _section(clip, "camera")
            lines.append(
                f"clip: {clip.get('file')} camera {camera.get('id')} ({camera.get('name')}) "
                f"{actual.get('start_local')} .. {actual.get('end_local')}"
            )
    return lines


def _member_offset(handle: BinaryIO, info: zipfile.ZipInfo) -> int:
    handle.seek(info.header_offset)
    header = handle.read(_LOCAL_HEADER.size)
    if len(header) != _LOCAL_HEADER.size:
        raise zipfile.BadZipFile(f"{info.filename}: truncated local header")
    fields = _LOCAL_HEADER.unpack(header)
    if fields[0] != _LOCAL_HEADER_MAGIC:
        raise zipfile.BadZipFile(f"{info.filename}: bad local header")
    name_length, extra_length = fields[-2], fields[-1]
    return int(info.header_offset + _LOCAL_HEADER.size + name_length + extra_length)


def _hash_member(handle: BinaryIO, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[int, str]:
    """(size, SHA-256) of a member's content, read in chunks.

    Stored members are read raw from ``handle`` (the archive's file), so a damaged member still gets a hash
    to compare (the ZIP's own CRC check would only raise); compressed members go through zipfile.
    """
    digest = hashlib.sha256()
    size = 0
    if info.compress_type == zipfile.ZIP_STORED:
        handle.seek(_member_offset(handle, info))
        remaining = info.compress_size
        while remaining > 0:
            chunk = handle.read(min(CHUNK_BYTES, remaining))
            if not chunk:
                break
            digest.update(chunk)
            size += len(chunk)
            remaining -= len(chunk)
        return size, digest.hexdigest()
    with archive.open(info) as member:
        while chunk := member.read(CHUNK_BYTES):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _read_small(handle: BinaryIO, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    if info.file_size > MAX_SMALL_MEMBER_BYTES:
        raise zipfile.BadZipFile(f"{info.filename} is {info.file_size} bytes, too large")
    if info.compress_type == zipfile.ZIP_STORED:
        handle.seek(_member_offset(handle, info))
        return handle.read(info.compress_size)
    return archive.read(info)


def _is_safe_name(name: str) -> bool:
    pure = PurePosixPath(name)
    return not (name.startswith("/") or "\\" in name or ".." in pure.parts or ":" in name)


def verify_package(
    path: Path, *, trusted_keys: Sequence[Ed25519PublicKey] = (), source: BinaryIO | None = None
) -> VerificationReport:
    """Check a package; raises :class:`PackageUnreadableError` when it is not a package at all.

    ``trusted_keys``: the public keys whose signature makes a package ``VALID`` (this station's, pinned);
    without one the best verdict is ``SIGNER_UNKNOWN``. ``source``: the package as an open, seekable binary
    file (an upload where it was spooled, so it need not be copied first); ``path`` then only names it in
    the report and the errors.
    """
    with contextlib.ExitStack() as stack:
        try:
            handle: BinaryIO = source if source is not None else stack.enter_context(path.open("rb"))
            archive = stack.enter_context(zipfile.ZipFile(handle))
        except (zipfile.BadZipFile, OSError) as exc:
            raise PackageUnreadableError(f"{path}: not a readable ZIP file: {exc}") from exc
        return _verify_archive(VerificationReport(path=path), handle, archive, trusted_keys)


def _verify_archive(
    report: VerificationReport,
    handle: BinaryIO,
    archive: zipfile.ZipFile,
    trusted_keys: Sequence[Ed25519PublicKey],
) -> VerificationReport:
    path = report.path
    members = archive.infolist()
    by_name: dict[str, zipfile.ZipInfo] = {}
    for info in members:
        if info.filename in by_name:
            report.errors.append(f"{info.filename}: appears more than once in the ZIP")
        by_name[info.filename] = info
        if not _is_safe_name(info.filename):
            report.errors.append(f"{info.filename!r}: unsafe file name in the ZIP")
    if MANIFEST_NAME not in by_name:
        raise PackageUnreadableError(f"{path}: no {MANIFEST_NAME}: not an evidence package")
    try:
        manifest_data = _read_small(handle, archive, by_name[MANIFEST_NAME])
        signature = _read_optional(handle, archive, by_name.get(SIGNATURE_NAME))
        key_pem = _read_optional(handle, archive, by_name.get(PUBLIC_KEY_NAME))
    except (zipfile.BadZipFile, OSError) as exc:
        raise PackageUnreadableError(f"{path}: damaged ZIP: {exc}") from exc
    public_key = _check_signature(report, manifest_data, signature, key_pem)
    if public_key is not None:
        _check_signer(report, trusted_keys)
    manifest = _parse_manifest(report, manifest_data)
    if manifest is not None:
        report.manifest = manifest
        _check_fingerprint(report, manifest, public_key)
        _check_files(report, handle, archive, by_name, manifest)
    return report


def _read_optional(handle: BinaryIO, archive: zipfile.ZipFile, info: zipfile.ZipInfo | None) -> bytes | None:
    return None if info is None else _read_small(handle, archive, info)


def _check_signature(
    report: VerificationReport,
    manifest_data: bytes,
    signature: bytes | None,
    key_pem: bytes | None,
) -> Ed25519PublicKey | None:
    """Verify the signature with the key in the package; returns that key (None when it is unusable)."""
    public_key: Ed25519PublicKey | None = None
    if key_pem is None:
        report.errors.append(f"{PUBLIC_KEY_NAME}: missing from the package")
    else:
        try:
            public_key = load_public_key_pem(key_pem)
        except PublicKeyError as exc:
            report.errors.append(f"{PUBLIC_KEY_NAME}: cannot be read: {exc}")
    if public_key is not None:
        report.key_fingerprint = fingerprint(public_key)
    if signature is None:
        report.errors.append(f"{SIGNATURE_NAME}: missing: the manifest is not signed")
    elif public_key is not None and verify_signature(public_key, signature, manifest_data):
        report.passed.append(
            f"{SIGNATURE_NAME}: valid Ed25519 signature over {MANIFEST_NAME} by key {report.key_fingerprint}"
        )
    elif public_key is not None:
        report.errors.append(
            f"{SIGNATURE_NAME}: signature does not match {MANIFEST_NAME} with the package's public key "
            f"({report.key_fingerprint}): the manifest or the signature was altered"
        )
    return public_key


def _check_signer(report: VerificationReport, trusted_keys: Sequence[Ed25519PublicKey]) -> None:
    """Whether the package's key is one of the trusted keys: a signature proves who signed only then."""
    trusted = [fingerprint(key) for key in trusted_keys]
    signer = report.key_fingerprint
    if signer in trusted:
        report.signer_trusted = True
        report.passed.append(f"signer: the package is signed by trusted station key {signer}")
    elif trusted:
        report.warnings.append(
            f"signer unknown: the package is signed by key {signer}, which is not a trusted station key "
            f"({', '.join(trusted)}): its signature shows the package is unchanged since it was signed, "
            "not who signed it"
        )
    else:
        report.warnings.append(
            f"signer unknown: no trusted station key to compare key {signer} with: its signature shows the "
            "package is unchanged since it was signed, not who signed it"
        )


def _parse_manifest(report: VerificationReport, data: bytes) -> dict[str, Any] | None:
    try:
        manifest = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        report.errors.append(f"{MANIFEST_NAME}: not valid JSON ({exc}); cannot check the files")
        return None
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__
        report.errors.append(f"{MANIFEST_NAME}: unknown format {found!r} (expected {MANIFEST_FORMAT})")
        return None
    return manifest


def _check_fingerprint(
    report: VerificationReport, manifest: dict[str, Any], public_key: Ed25519PublicKey | None
) -> None:
    station = manifest.get("station")
    declared = station.get("public_key_fingerprint") if isinstance(station, dict) else None
    if public_key is None:
        return
    if declared != report.key_fingerprint:
        report.errors.append(
            f"{PUBLIC_KEY_NAME}: fingerprint {report.key_fingerprint} differs from the manifest's {declared}"
        )
    else:
        report.passed.append(f"{PUBLIC_KEY_NAME}: fingerprint matches the manifest ({declared})")


def _check_files(
    report: VerificationReport,
    handle: BinaryIO,
    archive: zipfile.ZipFile,
    by_name: dict[str, zipfile.ZipInfo],
    manifest: dict[str, Any],
) -> None:
    listed = manifest.get("files")
    if not isinstance(listed, list) or not listed:
        report.errors.append(f"{MANIFEST_NAME}: lists no files")
        return
    seen: set[str] = set()
    for entry in listed:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            report.errors.append(f"{MANIFEST_NAME}: malformed file entry {entry!r}")
            continue
        name: str = entry["name"]
        seen.add(name)
        info = by_name.get(name)
        if info is None:
            report.errors.append(f"{name}: listed in the manifest but missing from the package")
            continue
        _check_one_file(report, handle, archive, info, entry)
    for name in sorted(set(by_name) - seen - ENVELOPE_NAMES):
        if not name.endswith("/"):
            report.errors.append(f"{name}: in the package but not listed in the signed manifest (added file)")


def _check_one_file(
    report: VerificationReport,
    handle: BinaryIO,
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    entry: dict[str, Any],
) -> None:
    name = info.filename
    try:
        size, digest = _hash_member(handle, archive, info)
    except (zipfile.BadZipFile, OSError) as exc:
        report.errors.append(f"{name}: cannot be read: {exc}")
        return
    problems = []
    if size != entry.get("size"):
        problems.append(f"size expected {entry.get('size')} bytes, actual {size}")
    if digest != entry.get("sha256"):
        problems.append(f"SHA-256 expected {entry.get('sha256')}, actual {digest}")
    if problems:
        report.errors.append(f"{name}: altered: " + "; ".join(problems))
    else:
        report.passed.append(f"{name}: {size} bytes, SHA-256 {digest}")
