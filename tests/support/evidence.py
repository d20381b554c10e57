"""Helpers for evidence-package tests: a finished package to tamper with, and byte-level tampering."""

from __future__ import annotations

import struct
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from storage.evidence.manifest import PackageClip, PackageInfo, SourceEntry
from storage.evidence.writer import PackageResult, build_package
from storage.signing import StationKey, ensure_station_key

EXPORTED_AT = datetime(2025, 3, 2, 8, 30, tzinfo=UTC)
CLIP_START = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)


def sample_info(**overrides: object) -> PackageInfo:
    values: dict[str, object] = {
        "station_name": "Опорный пункт 5",
        "timezone": "Asia/Almaty",
        "user_id": 7,
        "username": "investigator1",
        "reason": "Жалоба о мусоре во дворе",
        "exported_at_utc": EXPORTED_AT,
        "complaint_id": 3,
        "complaint_number": "2025-0003",
        "export_id": 11,
        "package_id": "00000000-0000-4000-8000-000000000001",
        "software_version": "0.1.0",
    }
    values.update(overrides)
    return PackageInfo(**values)  # type: ignore[arg-type]


def sample_clip(path: Path, camera_id: str = "cam-1", payload: bytes | None = None) -> PackageClip:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(payload if payload is not None else bytes(range(256)) * 4096)  # 1 MiB
    return PackageClip(
        path=path,
        camera_id=camera_id,
        camera_name="Подъезд 1",
        requested_start_utc=CLIP_START + timedelta(seconds=3),
        requested_end_utc=CLIP_START + timedelta(seconds=60),
        actual_start_utc=CLIP_START + timedelta(seconds=2),
        actual_end_utc=CLIP_START + timedelta(seconds=62),
        sources=(
            SourceEntry(
                relative_path=f"{camera_id}/2025/03/01/10/{camera_id}-20250301T100000.000000Z.mp4",
                sha256="ab" * 32,
                segment_start_utc=CLIP_START,
                segment_end_utc=CLIP_START + timedelta(seconds=60),
                used_from_utc=CLIP_START + timedelta(seconds=2),
                used_to_utc=CLIP_START + timedelta(seconds=60),
                clip_offset_s=0.0,
            ),
        ),
    )


def make_package(
    tmp_path: Path, key: StationKey | None = None, **info: object
) -> tuple[PackageResult, StationKey]:
    """A one-clip package signed by ``key`` (default: a new key under ``tmp_path/data``); ``info`` overrides
    fields of :func:`sample_info` (e.g. ``station_name``)."""
    station_key = key or ensure_station_key(tmp_path / "data")
    clips = [sample_clip(tmp_path / "work" / "cam-1_20250301T100002Z.mp4")]
    result = build_package(tmp_path / "evidence.zip", key=station_key, info=sample_info(**info), clips=clips)
    return result, station_key


def member_data_offset(package: Path, name: str) -> tuple[int, int]:
    """(offset, length) of a stored member's bytes inside the ZIP file."""
    with zipfile.ZipFile(package) as archive:
        info = archive.getinfo(name)
    with package.open("rb") as handle:
        handle.seek(info.header_offset)
        header = handle.read(30)
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    return info.header_offset + 30 + name_length + extra_length, info.compress_size


def flip_byte(package: Path, name: str, position: int = -1) -> None:
    """Flip one bit of one byte of member ``name`` in place (position from its start, or -1 = middle)."""
    offset, length = member_data_offset(package, name)
    where = offset + (length // 2 if position < 0 else position)
    data = bytearray(package.read_bytes())
    data[where] ^= 0x01
    package.write_bytes(bytes(data))


def rewrite_package(package: Path, replace: dict[str, bytes], add: dict[str, bytes] | None = None) -> None:
    """Rebuild the ZIP with some members replaced (consistent CRCs: a deliberate tamper, not damage)."""
    tmp = package.with_suffix(".tmp")
    with zipfile.ZipFile(package) as source, zipfile.ZipFile(tmp, "w") as target:
        for info in source.infolist():
            if info.filename in replace and replace[info.filename] == b"":
                continue
            data = replace.get(info.filename, source.read(info))
            target.writestr(info.filename, data)
        for name, data in (add or {}).items():
            target.writestr(name, data)
    tmp.replace(package)
