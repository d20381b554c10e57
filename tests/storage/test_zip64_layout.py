"""The verifier's ZIP64 branch (issue 26): a real ZIP64 package (written by ``zipfile`` with its ZIP64 limits
lowered so that every member's size and offset and the end of the directory take their ZIP64 records) checks
as VALID, and hostile ZIP64 records are refused with a reason, through the library and the upload API:
an end record whose entry count disagrees with the directory, a directory offset that is wrong, member
offsets that point at another member's header or outside the file, sizes that run past the end."""

from __future__ import annotations

import io
import struct
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from config.settings import Settings
from console.app import create_app
from storage.evidence.error import PackageUnreadableError
from storage.evidence.report import Verdict
from storage.evidence.verifier import verify_package
from storage.evidence.zip_layout import MAX_MEMBERS, ZipLayoutError, check_directory
from storage.model import Role
from storage.signing import StationKey
from tests.support.console import make_user, running_station, sign_in, station_config
from tests.support.evidence import make_package

END = struct.Struct("<4s4H2LH")
ZIP64_LOCATOR = struct.Struct("<4sLQL")
ZIP64_END = struct.Struct("<4sQ2H2L4Q")
CENTRAL = struct.Struct("<4s6H3L5H2L")
CLIP = "clips/cam-1_20250301T100002Z.mp4"


def write_zip64(members: dict[str, bytes]) -> bytes:
    """``members`` as a ZIP whose every size, offset and end record is in its ZIP64 form."""
    path_limits = {"ZIP64_LIMIT": -1, "ZIP_FILECOUNT_LIMIT": 0}  # offset 0 too
    saved = {name: getattr(zipfile, name) for name in path_limits}
    buffer = io.BytesIO()
    try:
        for name, value in path_limits.items():
            setattr(zipfile, name, value)
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
            for name, data in members.items():
                with archive.open(
                    zipfile.ZipInfo(name, (2025, 3, 1, 10, 0, 0)), "w", force_zip64=True
                ) as out:
                    out.write(data)
    finally:
        for name, value in saved.items():
            setattr(zipfile, name, value)
    return buffer.getvalue()


@dataclass(frozen=True)
class Layout:
    """Where the records of a ZIP lie, to change them."""

    data: bytes

    @property
    def end_at(self) -> int:
        return self.data.rfind(b"PK\x05\x06")

    @property
    def zip64_end_at(self) -> int:
        return self.end_at - ZIP64_LOCATOR.size - ZIP64_END.size

    def zip64_end(self) -> list[int]:
        return list(ZIP64_END.unpack_from(self.data, self.zip64_end_at))

    def with_zip64_end(self, **changes: int) -> bytes:
        fields: list[object] = list(self.zip64_end())
        index = {"entries_on_disk": 6, "entries": 7, "directory_bytes": 8, "directory_offset": 9}
        for name, value in changes.items():
            fields[index[name]] = value
        out = bytearray(self.data)
        ZIP64_END.pack_into(out, self.zip64_end_at, *fields)
        return bytes(out)

    def central_entries(self) -> Iterator[tuple[int, str, int]]:
        """(offset of the entry, name, offset of its ZIP64 extra's values) for each directory entry."""
        at = self.zip64_end()[9]
        while self.data[at : at + 4] == b"PK\x01\x02":
            fields = CENTRAL.unpack_from(self.data, at)
            name_length, extra_length, comment_length = fields[10], fields[11], fields[12]
            name = self.data[at + CENTRAL.size : at + CENTRAL.size + name_length].decode("utf-8")
            extra_at = at + CENTRAL.size + name_length
            cursor = extra_at
            values_at = -1
            while cursor < extra_at + extra_length:
                tag, size = struct.unpack_from("<2H", self.data, cursor)
                if tag == 1:
                    values_at = cursor + 4
                cursor += 4 + size
            yield at, name, values_at
            at = extra_at + extra_length + comment_length

    def zip64_values(self, name: str) -> list[int]:
        """The ZIP64 extra's values of ``name``'s directory entry (sizes, then the header offset)."""
        for entry_at, entry_name, values_at in self.central_entries():
            if entry_name == name:
                fields = CENTRAL.unpack_from(self.data, entry_at)
                count = sum(1 for value in (fields[9], fields[8], fields[16]) if value == 0xFFFFFFFF)
                return list(struct.unpack_from(f"<{count}Q", self.data, values_at))
        raise KeyError(name)

    def with_zip64_values(self, name: str, values: list[int]) -> bytes:
        out = bytearray(self.data)
        for _entry_at, entry_name, values_at in self.central_entries():
            if entry_name == name:
                struct.pack_into(f"<{len(values)}Q", out, values_at, *values)
                return bytes(out)
        raise KeyError(name)


@dataclass(frozen=True)
class Zip64Package:
    members: dict[str, bytes]
    key: StationKey

    def genuine(self) -> bytes:
        return write_zip64(self.members)

    def layout(self) -> Layout:
        return Layout(self.genuine())


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Zip64Package:
    root = tmp_path_factory.mktemp("zip64")
    result, key = make_package(root)
    with zipfile.ZipFile(result.path) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    return Zip64Package(members, key)


def _overlapping(package: Zip64Package) -> bytes:
    """The manifest's ZIP64 offset points at the clip's local header (the clip's own entry does too)."""
    layout = package.layout()
    clip_offset = layout.zip64_values(CLIP)[-1]
    values = layout.zip64_values("manifest.json")
    return layout.with_zip64_values("manifest.json", [*values[:-1], clip_offset])


def _offset_outside(package: Zip64Package) -> bytes:
    layout = package.layout()
    values = layout.zip64_values(CLIP)
    return layout.with_zip64_values(CLIP, [*values[:-1], 1 << 40])


def _size_past_end(package: Zip64Package) -> bytes:
    layout = package.layout()
    offset = layout.zip64_values(CLIP)[-1]
    return layout.with_zip64_values(CLIP, [1 << 40, 1 << 40, offset])


def _count_too_low(package: Zip64Package) -> bytes:
    layout = package.layout()
    return layout.with_zip64_end(entries_on_disk=1, entries=1)


def _count_too_high(package: Zip64Package) -> bytes:
    return package.layout().with_zip64_end(entries_on_disk=MAX_MEMBERS + 1, entries=MAX_MEMBERS + 1)


def _directory_offset_wrong(package: Zip64Package) -> bytes:
    layout = package.layout()
    return layout.with_zip64_end(directory_offset=layout.zip64_end()[9] - 7)


@dataclass(frozen=True)
class Zip64Case:
    id: str
    build: Callable[[Zip64Package], bytes]
    reason: str
    unreadable: bool = False


CASES = [
    Zip64Case("offset-of-another-member", _overlapping, "manifest.json: its local header names another file"),
    Zip64Case("offset-outside-the-file", _offset_outside, f"{CLIP}: its local header lies outside"),
    Zip64Case("size-past-the-end", _size_past_end, f"{CLIP}: its 1099511627776 bytes run past the end"),
    Zip64Case("count-lower-than-the-directory", _count_too_low, "entries", unreadable=True),
    Zip64Case("count-over-the-limit", _count_too_high, "a package has at most", unreadable=True),
    Zip64Case("directory-offset-wrong", _directory_offset_wrong, "not a readable ZIP", unreadable=True),
]


def test_the_package_written_is_zip64_throughout(package: Zip64Package) -> None:
    layout = package.layout()
    assert layout.data[layout.zip64_end_at : layout.zip64_end_at + 4] == b"PK\x06\x06"
    assert len(layout.zip64_values(CLIP)) == 3  # both sizes and the offset in the ZIP64 extra
    end = END.unpack_from(layout.data, layout.end_at)
    assert end[4] == 0xFFFF or end[6] == 0xFFFFFFFF or layout.zip64_end()[7] == len(package.members)


def test_a_genuine_zip64_package_is_valid(package: Zip64Package, tmp_path: Path) -> None:
    path = tmp_path / "zip64.zip"
    path.write_bytes(package.genuine())
    with path.open("rb") as handle:
        check_directory(handle)
    report = verify_package(path, trusted_keys=[package.key.public_key])
    assert report.verdict is Verdict.VALID, report.render()


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_a_hostile_zip64_record_is_refused_with_its_reason(
    case: Zip64Case, package: Zip64Package, tmp_path: Path
) -> None:
    path = tmp_path / f"{case.id}.zip"
    path.write_bytes(case.build(package))
    if case.unreadable:
        with pytest.raises(PackageUnreadableError, match=case.reason):
            verify_package(path, trusted_keys=[package.key.public_key])
        return
    report = verify_package(path, trusted_keys=[package.key.public_key])
    assert report.verdict is Verdict.INVALID
    assert any(case.reason in error for error in report.errors), report.errors


def test_directory_count_disagreeing_is_refused_before_zipfile_parses_it(package: Zip64Package) -> None:
    with pytest.raises(ZipLayoutError, match="entries"):
        check_directory(io.BytesIO(_count_too_low(package)))


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, package: Zip64Package) -> Iterator[tuple[TestClient, str]]:
    root = tmp_path_factory.mktemp("zip64-api")
    app = create_app(Settings(config=station_config(root / "data"), config_path=None))
    with TestClient(app, base_url="http://testserver") as client:
        station = running_station(client)
        make_user(station.database, "investigator", role=Role.INVESTIGATOR)
        yield client, sign_in(client, "investigator")


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_the_upload_api_answers_a_hostile_zip64_record_with_its_reason(
    case: Zip64Case, package: Zip64Package, api: tuple[TestClient, str]
) -> None:
    client, csrf = api
    response = client.post(
        "/api/evidence/verify",
        files={"package": (f"{case.id}.zip", case.build(package), "application/zip")},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status_code < 500, response.text
    body = response.json()
    if case.unreadable:
        assert response.status_code == 422 and body["error"]["code"] == "not_a_package", body
        assert case.reason in body["error"]["cause"], body
        return
    assert response.status_code == 200 and body["verdict"] == "invalid", body
    assert any(case.reason in error for error in body["errors"]), body["errors"]


def test_the_upload_api_checks_a_genuine_zip64_package(
    package: Zip64Package, api: tuple[TestClient, str]
) -> None:
    client, csrf = api
    response = client.post(
        "/api/evidence/verify",
        files={"package": ("zip64.zip", package.genuine(), "application/zip")},
        headers={"X-CSRF-Token": csrf},
    )
    # signed by the package's own key, not this station's: intact, signer unknown
    assert response.status_code == 200 and response.json()["verdict"] == "signer_unknown", response.text
    assert response.json()["intact"] is True
