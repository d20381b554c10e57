"""Writing an evidence package: :class:`PackageWriter` (clip members written in place by the export's cut, or
copied, then README, manifest, signature and public key) and :func:`build_package` for finished clip files.

The cut writes each clip straight into its ZIP member (no temporary clip file, no copy), then it is hashed
from the page cache; nothing is held in memory.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import zipfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from storage.evidence.error import PackageBuildError
from storage.evidence.manifest import (
    CLIP_DIR,
    MANIFEST_NAME,
    PUBLIC_KEY_NAME,
    README_NAME,
    SIGNATURE_NAME,
    FileEntry,
    PackageClip,
    PackageInfo,
    build_manifest,
    manifest_bytes,
    readme_text,
)
from storage.evidence.zip_stream import (
    DATA_DESCRIPTOR,
    DATA_DESCRIPTOR_FLAG,
    DATA_DESCRIPTOR_MAGIC,
    ClipMember,
    PackageFile,
    PackageHash,
    crc32_of,
    sha256_of,
)
from storage.signing import StationKey

logger = logging.getLogger(__name__)

CHUNK_BYTES = 1 << 20  # a finished clip file is copied in chunks of this size


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
        self._file = PackageFile(self._handle.fileno())
        self._archive = zipfile.ZipFile(self._file, "w", compression=zipfile.ZIP_STORED, allowZip64=True)
        self._hash = PackageHash(self._file.fd) if hash_package else None
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
        info.flag_bits |= DATA_DESCRIPTOR_FLAG
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
            crc = self._pool.submit(crc32_of, self._file.fd, base, size)
            sha = self._pool.submit(sha256_of, self._file.fd, base, size)
            package = self._pool.submit(self._hash.advance, base + size) if self._hash is not None else None
            info.CRC, digest = crc.result(), sha.result()
            if package is not None:
                package.result()
        info.file_size = info.compress_size = size
        self._file.position = base + size
        self._file.write(DATA_DESCRIPTOR.pack(DATA_DESCRIPTOR_MAGIC, info.CRC, size, size))
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
