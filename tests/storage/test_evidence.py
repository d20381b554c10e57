"""Signed evidence packages: the manifest, building, and verification that names exactly what is wrong."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from storage.evidence.error import PackageBuildError, PackageUnreadableError
from storage.evidence.manifest import MANIFEST_FORMAT, FileEntry, build_manifest, manifest_bytes
from storage.evidence.report import Verdict
from storage.evidence.verifier import verify_package
from storage.evidence.writer import PackageWriter, build_package
from storage.signing import StationKey, ensure_station_key, fingerprint, public_key_pem
from tests.support.evidence import (
    flip_byte,
    make_package,
    rewrite_package,
    sample_clip,
    sample_info,
)

CLIP = "clips/cam-1_20250301T100002Z.mp4"


def test_manifest_is_pure_and_deterministic(tmp_path: Path) -> None:
    clip = sample_clip(tmp_path / "c.mp4")
    files = [FileEntry("clips/c.mp4", 10, "00" * 32, "clip")]
    first = manifest_bytes(build_manifest(sample_info(), "ab:cd", [clip], files))
    second = manifest_bytes(build_manifest(sample_info(), "ab:cd", [clip], files))
    assert first == second
    manifest = json.loads(first)
    assert manifest["format"] == MANIFEST_FORMAT
    assert manifest["station"] == {
        "name": "Опорный пункт 5",
        "timezone": "Asia/Almaty",
        "public_key_fingerprint": "ab:cd",
        "public_key_file": "station_public_key.pem",
    }
    assert manifest["exported_by"] == {"user_id": 7, "username": "investigator1"}
    assert manifest["exported_at"] == {
        "utc": "2025-03-02T08:30:00.000Z",
        "local": "2025-03-02T13:30:00.000+05:00",
    }
    assert manifest["complaint"] == {"id": 3, "number": "2025-0003"}
    [entry] = manifest["clips"]
    assert entry["camera"] == {"id": "cam-1", "name": "Подъезд 1"}
    assert entry["requested"]["start_utc"] == "2025-03-01T10:00:03.000Z"
    assert entry["requested"]["start_local"] == "2025-03-01T15:00:03.000+05:00"
    assert entry["actual"]["end_utc"] == "2025-03-01T10:01:02.000Z"
    assert entry["sources"][0]["sha256"] == "ab" * 32
    assert manifest["files"] == [{"name": "clips/c.mp4", "size": 10, "sha256": "00" * 32, "kind": "clip"}]
    assert "Опорный" in first.decode("utf-8")  # UTF-8, not \\u escapes


def test_manifest_without_complaint(tmp_path: Path) -> None:
    info = sample_info(complaint_id=None, complaint_number=None)
    manifest = build_manifest(info, "fp", [sample_clip(tmp_path / "c.mp4")], [])
    assert manifest["complaint"] is None


def test_package_contents_and_valid_verification(tmp_path: Path) -> None:
    result, key = make_package(tmp_path)
    with zipfile.ZipFile(result.path) as archive:
        names = archive.namelist()
        assert all(info.compress_type == zipfile.ZIP_STORED for info in archive.infolist())
        # members are streamed (sizes and CRC after the data) so the package is hashed while it is written
        assert all(info.flag_bits & 0x08 for info in archive.infolist())
        assert archive.testzip() is None  # every CRC checks out
        manifest = archive.read("manifest.json")
        assert archive.read("station_public_key.pem") == key.public_pem
        readme = archive.read("README.txt").decode("utf-8")
    assert sorted(names) == sorted(
        [CLIP, "README.txt", "manifest.json", "manifest.sig", "station_public_key.pem"]
    )
    assert manifest == result.manifest
    assert key.fingerprint in readme and "station verify" in readme and "Проверка" in readme
    clip_bytes = (tmp_path / "work" / "cam-1_20250301T100002Z.mp4").read_bytes()
    [clip_entry, readme_entry] = json.loads(manifest)["files"]
    assert clip_entry == {
        "name": CLIP,
        "size": len(clip_bytes),
        "sha256": hashlib.sha256(clip_bytes).hexdigest(),
        "kind": "clip",
    }
    assert readme_entry["name"] == "README.txt"
    assert result.sha256 == hashlib.sha256(result.path.read_bytes()).hexdigest()
    assert not result.path.with_name("evidence.zip.partial").exists()

    report = verify_package(result.path)  # no trusted key: intact, but nobody vouches for the signer
    assert report.intact and not report.valid, report.render()
    assert report.verdict is Verdict.SIGNER_UNKNOWN
    assert report.key_fingerprint == key.fingerprint
    assert any("no trusted station key" in warning for warning in report.warnings)
    with_key = verify_package(result.path, trusted_keys=[key.public_key])
    assert with_key.valid and with_key.verdict is Verdict.VALID and not with_key.warnings
    assert with_key.render().splitlines()[-1] == "result: VALID"


def test_flipped_clip_byte_names_the_file_and_both_hashes(tmp_path: Path) -> None:
    result, key = make_package(tmp_path)
    expected = json.loads(result.manifest)["files"][0]["sha256"]
    flip_byte(result.path, CLIP)
    data = bytearray((tmp_path / "work" / "cam-1_20250301T100002Z.mp4").read_bytes())
    data[len(data) // 2] ^= 0x01
    actual = hashlib.sha256(bytes(data)).hexdigest()
    report = verify_package(result.path, trusted_keys=[key.public_key])
    assert not report.valid
    assert report.errors == [f"{CLIP}: altered: SHA-256 expected {expected}, actual {actual}"]
    assert any("manifest.sig: valid" in line for line in report.passed)


def test_flipped_manifest_byte_breaks_the_signature(tmp_path: Path) -> None:
    result, key = make_package(tmp_path)
    flip_byte(result.path, "manifest.json", position=len(result.manifest) - 20)
    report = verify_package(result.path, trusted_keys=[key.public_key])
    assert not report.valid
    assert any(e.startswith("manifest.sig: signature does not match manifest.json") for e in report.errors)


def test_flipped_signature_byte_is_detected(tmp_path: Path) -> None:
    result, _key = make_package(tmp_path)
    flip_byte(result.path, "manifest.sig", position=5)
    report = verify_package(result.path)
    assert not report.valid
    assert [e for e in report.errors if "manifest.sig" in e]


def test_edited_manifest_with_fixed_crc_is_detected(tmp_path: Path) -> None:
    result, _key = make_package(tmp_path)
    manifest = json.loads(result.manifest)
    manifest["reason"] = "другая причина"
    rewrite_package(result.path, {"manifest.json": manifest_bytes(manifest)})
    report = verify_package(result.path)
    assert not report.valid
    assert any("signature does not match" in e for e in report.errors)


def _resign(package: Path, manifest: dict[str, object], private: Ed25519PrivateKey) -> None:
    data = manifest_bytes(manifest)
    rewrite_package(
        package,
        {
            "manifest.json": data,
            "manifest.sig": private.sign(data),
            "station_public_key.pem": public_key_pem(private.public_key()),
        },
    )


def test_package_resigned_by_another_key_is_signer_unknown_never_valid(tmp_path: Path) -> None:
    result, station = make_package(tmp_path)
    forger = Ed25519PrivateKey.generate()
    forger_fp = fingerprint(forger.public_key())
    manifest = json.loads(result.manifest)
    manifest["station"]["public_key_fingerprint"] = forger_fp
    _resign(result.path, manifest, forger)
    for trusted in ([], [station.public_key]):
        report = verify_package(result.path, trusted_keys=trusted)
        assert report.intact and not report.valid  # self-consistent, but not signed by a key we trust
        assert report.verdict is Verdict.SIGNER_UNKNOWN and not report.signer_trusted
        last = report.render().splitlines()[-1]
        assert (
            last
            == f"result: SIGNER UNKNOWN (signature valid, but key {forger_fp} is not a trusted station key)"
        )
    assert any(
        f"signed by key {forger_fp}, which is not a trusted station key ({station.fingerprint})" in w
        for w in report.warnings
    )


def test_trusted_key_among_several_and_a_broken_package_stays_invalid(tmp_path: Path) -> None:
    result, key = make_package(tmp_path)
    others = [Ed25519PrivateKey.generate().public_key() for _ in range(2)]
    assert verify_package(result.path, trusted_keys=[others[0], key.public_key, others[1]]).valid
    flip_byte(result.path, CLIP)
    broken = verify_package(result.path, trusted_keys=[key.public_key])
    assert broken.verdict is Verdict.INVALID and not broken.intact
    assert broken.render().splitlines()[-1] == "result: INVALID (1 problem(s))"


def test_control_characters_from_the_package_are_escaped_in_the_report(tmp_path: Path) -> None:
    name = "Опорный пункт 5\nresult: VALID\x1b[8m"
    result, _key = make_package(tmp_path, station_name=name, reason="мусор\r\u202eгнилой\x9b2J")
    rewrite_package(result.path, {}, add={"clips/\x1b[2Jedited.mp4": b"fake"})
    text = verify_package(result.path).render()
    assert not [c for c in text if c != "\n" and (ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 or c == "\u202e")]
    lines = text.splitlines()
    assert [line for line in lines if line.startswith("result:")] == [lines[-1]]
    assert lines[-1] == "result: INVALID (1 problem(s))"
    assert "station: Опорный пункт 5\\nresult: VALID\\x1b[8m (key " in text
    assert "reason: мусор\\r\\u202eгнилой\\x9b2J" in text
    assert "FAIL  clips/\\x1b[2Jedited.mp4: in the package but not listed" in text


def test_swapped_public_key_without_resigning_fails(tmp_path: Path) -> None:
    result, _station = make_package(tmp_path)
    other = Ed25519PrivateKey.generate().public_key()
    rewrite_package(result.path, {"station_public_key.pem": public_key_pem(other)})
    report = verify_package(result.path)
    assert not report.valid
    assert any("signature does not match" in e for e in report.errors)
    assert any("differs from the manifest's" in e for e in report.errors)


def test_unlisted_extra_file_is_an_error(tmp_path: Path) -> None:
    result, key = make_package(tmp_path)
    rewrite_package(result.path, {}, add={"clips/cam-1_edited.mp4": b"fake"})
    report = verify_package(result.path, trusted_keys=[key.public_key])
    assert not report.valid
    assert report.errors == [
        "clips/cam-1_edited.mp4: in the package but not listed in the signed manifest (added file)"
    ]


def test_missing_listed_file_is_an_error(tmp_path: Path) -> None:
    result, key = make_package(tmp_path)
    rewrite_package(result.path, {"README.txt": b""})
    report = verify_package(result.path, trusted_keys=[key.public_key])
    assert report.errors == ["README.txt: listed in the manifest but missing from the package"]


def test_missing_signature_or_key_is_an_error(tmp_path: Path) -> None:
    result, _key = make_package(tmp_path)
    rewrite_package(result.path, {"manifest.sig": b""})
    report = verify_package(result.path)
    assert "manifest.sig: missing: the manifest is not signed" in report.errors


def test_not_a_package_is_unreadable(tmp_path: Path) -> None:
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip at all")
    with pytest.raises(PackageUnreadableError, match="not a readable ZIP"):
        verify_package(junk)
    plain = tmp_path / "plain.zip"
    with zipfile.ZipFile(plain, "w") as archive:
        archive.writestr("hello.txt", "hi")
    with pytest.raises(PackageUnreadableError, match=r"no manifest\.json"):
        verify_package(plain)
    with pytest.raises(PackageUnreadableError):
        verify_package(tmp_path / "absent.zip")


def test_build_refuses_no_clips_and_leaves_nothing(tmp_path: Path) -> None:
    key = ensure_station_key(tmp_path / "data")
    with pytest.raises(PackageBuildError, match="at least one clip"):
        build_package(tmp_path / "e.zip", key=key, info=sample_info(), clips=[])
    missing = sample_clip(tmp_path / "c.mp4")
    missing.path.unlink()
    with pytest.raises(PackageBuildError, match="cannot write"):
        build_package(tmp_path / "e.zip", key=key, info=sample_info(), clips=[missing])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


def test_two_cameras_in_one_package(tmp_path: Path) -> None:
    key: StationKey = ensure_station_key(tmp_path / "data")
    clips = [
        sample_clip(tmp_path / "w" / "cam-1_x.mp4"),
        sample_clip(tmp_path / "w" / "cam-2_x.mp4", "cam-2", b"x" * 10),
    ]
    result = build_package(tmp_path / "e.zip", key=key, info=sample_info(), clips=clips)
    report = verify_package(result.path, trusted_keys=[key.public_key])
    assert report.valid, report.render()
    assert [c["camera"]["id"] for c in json.loads(result.manifest)["clips"]] == ["cam-1", "cam-2"]


@pytest.mark.parametrize(
    ("sequential", "patch"),
    [(False, True), (True, False), (True, True)],
    ids=["plain-mp4", "fragmented-hashed-while-written", "promised-sequential-but-patched"],
)
def test_clip_written_in_place_is_hashed_as_it_ends_up(tmp_path: Path, sequential: bool, patch: bool) -> None:
    """The plain MP4 muxer's pattern: header placeholder, data, trailer, then a seek back to patch the
    header; the fragmented one writes front to back. Either way the hashes are those of the final bytes."""
    key = ensure_station_key(tmp_path / "data")
    body = os.urandom(9 << 20) + bytes(range(256)) * 1000  # > one hash chunk, not chunk-aligned
    writer = PackageWriter(tmp_path / "e.zip", when=sample_info().exported_at_utc)
    member = writer.open_clip("cam-1_x.mp4", sequential=sequential)
    member.write(b"HEAD" + b"\0" * 12)
    for at in range(0, len(body), 32768):
        member.write(bytearray(body[at : at + 32768]))  # a mutable buffer, as a muxer may hand over
    member.write(b"TRAILER")
    if patch:
        assert member.seek(4) == 4
        member.write(b"SIZE")
        assert member.seek(0, os.SEEK_END) == 16 + len(body) + 7
    assert bool(member.trailing) == (sequential and not patch)
    expected = (b"HEADSIZE" if patch else b"HEAD\0\0\0\0") + b"\0" * 8 + body + b"TRAILER"
    entry = writer.close_clip(member)
    assert (entry.name, entry.size, entry.sha256) == (
        "clips/cam-1_x.mp4",
        len(expected),
        hashlib.sha256(expected).hexdigest(),
    )
    clip = sample_clip(tmp_path / "w" / "cam-1_x.mp4")
    result = writer.finish(key=key, info=sample_info(), clips=[clip])
    data = result.path.read_bytes()
    assert result.size == len(data) and result.sha256 == hashlib.sha256(data).hexdigest()
    assert not result.path.with_name("e.zip.partial").exists()
    with zipfile.ZipFile(result.path) as archive:
        assert archive.testzip() is None  # every CRC-32, ours included
        assert archive.read("clips/cam-1_x.mp4") == expected
        info = archive.getinfo("clips/cam-1_x.mp4")
        assert info.flag_bits & 0x08 and info.compress_type == zipfile.ZIP_STORED
    report = verify_package(result.path, trusted_keys=[key.public_key])
    assert report.valid, report.render()


@pytest.mark.skipif(shutil.which("unzip") is None, reason="unzip not installed (.ci/setup installs it)")
def test_package_passes_unzip_test(tmp_path: Path) -> None:
    key = ensure_station_key(tmp_path / "data")
    clips = [
        sample_clip(tmp_path / "w" / "cam-1_x.mp4"),
        sample_clip(tmp_path / "w" / "cam-2_x.mp4", "cam-2"),
    ]
    result = build_package(tmp_path / "e.zip", key=key, info=sample_info(), clips=clips)
    done = subprocess.run(["unzip", "-t", str(result.path)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No errors detected" in done.stdout


def test_package_writer_refuses_misuse_and_abort_leaves_nothing(tmp_path: Path) -> None:
    key = ensure_station_key(tmp_path / "data")
    writer = PackageWriter(tmp_path / "out" / "e.zip", when=sample_info().exported_at_utc)
    member = writer.open_clip("a.mp4")
    with pytest.raises(PackageBuildError, match="still open"):
        writer.open_clip("b.mp4")
    member.write(b"x" * 100)
    other = PackageWriter(tmp_path / "other.zip", when=sample_info().exported_at_utc)
    with pytest.raises(PackageBuildError, match="not the member"):
        writer.close_clip(other.open_clip("a.mp4"))
    other.abort()
    writer.close_clip(member)
    with pytest.raises(PackageBuildError, match="not unique"):
        writer.open_clip("a.mp4")
    with pytest.raises(PackageBuildError, match="missing"):
        writer.finish(key=key, info=sample_info(), clips=[sample_clip(tmp_path / "w" / "z.mp4")])
    writer.abort()
    writer.abort()  # idempotent
    assert list((tmp_path / "out").iterdir()) == []
