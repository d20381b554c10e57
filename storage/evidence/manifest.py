"""What goes into an evidence package and its manifest: the member names, the value objects, and the
pure functions that build the manifest, its exact signed bytes and the README (:func:`build_manifest`,
:func:`manifest_bytes`, :func:`readme_text`)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

MANIFEST_FORMAT = "station-console-evidence/1"
MANIFEST_NAME = "manifest.json"
SIGNATURE_NAME = "manifest.sig"
PUBLIC_KEY_NAME = "station_public_key.pem"
README_NAME = "README.txt"
CLIP_DIR = "clips"
ENVELOPE_NAMES = frozenset({MANIFEST_NAME, SIGNATURE_NAME, PUBLIC_KEY_NAME})


def software_version() -> str:
    try:
        return metadata.version("station-console")
    except metadata.PackageNotFoundError:
        return "unknown"


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
    hashed_bytes: int | None = None  # still being written when exported: sha256 is of its first bytes


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
                **({} if source.hashed_bytes is None else {"sha256_of_first_bytes": source.hashed_bytes}),
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
