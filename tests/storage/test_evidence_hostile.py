"""The verifier against hostile packages: each gets a specific reason, none a traceback, and checking one
costs at most about one read of the file (finding 3 of issue 26)."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import pytest

from storage.control_char import escape_control_chars
from storage.evidence.error import PackageUnreadableError
from storage.evidence.report import Verdict, VerificationReport
from storage.evidence.verifier import HashBudget, HashBudgetError, verify_package
from storage.evidence.zip_layout import MAX_MEMBERS
from tests.support.evidence import make_package
from tests.support.hostile_zip import CLIP, CORPUS, Genuine, HostileCase, aliased, assemble, file_entry

EIGHT_MIB_CLIP = bytes(range(256)) * (32 << 10)
READ_OVERHEAD_BYTES = 256 << 10  # the ZIP's tail and directory, local headers


class CountingReader(io.RawIOBase):
    """A seekable file that counts the bytes read through it."""

    def __init__(self, data: bytes) -> None:
        super().__init__()
        self._file = io.BytesIO(data)
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def readinto(self, buffer: Any) -> int:
        done = self._file.readinto(buffer)
        self.read_bytes += done
        return done


@pytest.fixture(scope="module")
def genuine(tmp_path_factory: pytest.TempPathFactory) -> Genuine:
    result, key = make_package(tmp_path_factory.mktemp("genuine"))
    return Genuine.of(result.path, key)


def _check(data: bytes) -> VerificationReport:
    return verify_package(Path("hostile.zip"), source=io.BytesIO(data))


@pytest.mark.parametrize("case", CORPUS, ids=[case.id for case in CORPUS])
def test_hostile_package_gets_a_reason_and_no_traceback(case: HostileCase, genuine: Genuine) -> None:
    data = case.build(genuine)
    if case.unreadable:
        with pytest.raises(PackageUnreadableError) as raised:
            _check(data)
        assert case.reason in str(raised.value)
        return
    report = _check(data)
    assert report.verdict is Verdict.INVALID
    assert any(case.reason in error for error in report.errors), report.errors
    text = report.render()
    text.encode("utf-8")  # printable: no lone surrogate left
    assert escape_control_chars(case.reason) in text
    assert [line for line in text.splitlines() if line.startswith("result:")] == [text.splitlines()[-1]]


def test_genuine_package_rebuilt_byte_by_byte_still_verifies(genuine: Genuine) -> None:
    report = _check(assemble(genuine.raw()))
    assert report.intact and report.verdict is Verdict.SIGNER_UNKNOWN, report.errors


# --- finding 3: CPU amplification ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def big_genuine(tmp_path_factory: pytest.TempPathFactory) -> Genuine:
    result, key = make_package(tmp_path_factory.mktemp("big"))
    genuine = Genuine.of(result.path, key)
    genuine.members[CLIP] = EIGHT_MIB_CLIP
    genuine.manifest["files"][0] = file_entry(CLIP, EIGHT_MIB_CLIP)
    return genuine


@pytest.mark.parametrize(
    ("same_name", "reason"),
    [(False, "its local header names another file"), (True, "its bytes overlap those of")],
    ids=["names-of-their-own", "all-named-as-the-clip"],
)
def test_128_directory_names_for_one_member_are_refused_without_hashing_them(
    big_genuine: Genuine, same_name: bool, reason: str
) -> None:
    """One 8 MiB member named 128 times more: the old verifier hashed 1 GiB; now no byte is read twice."""
    data = aliased(big_genuine, 128, same_name=same_name)
    source = CountingReader(data)
    started = time.perf_counter()
    report = verify_package(Path("aliased.zip"), source=io.BufferedReader(source))
    elapsed_s = time.perf_counter() - started
    assert source.read_bytes < len(data) + READ_OVERHEAD_BYTES  # before: 129 x 8 MiB
    assert any(reason in error for error in report.errors) and report.verdict is Verdict.INVALID
    assert elapsed_s < 2.0


def test_member_running_past_the_file_is_not_read(big_genuine: Genuine) -> None:
    data = big_genuine.changed(CLIP, file_size=0x7FFFFFFF, compress_size=0x7FFFFFFF)
    source = CountingReader(data)
    report = verify_package(Path("long.zip"), source=io.BufferedReader(source))
    assert any(e.startswith(f"{CLIP}: its 2147483647 bytes run past the end") for e in report.errors)
    assert source.read_bytes < READ_OVERHEAD_BYTES  # the clip itself was never read


def test_a_member_listed_many_times_is_hashed_once(big_genuine: Genuine) -> None:
    data = big_genuine.listing([file_entry(CLIP, EIGHT_MIB_CLIP)] * 500)
    source = CountingReader(data)
    report = verify_package(Path("relisted.zip"), source=io.BufferedReader(source))
    assert source.read_bytes < len(data) + READ_OVERHEAD_BYTES  # before: 500 x 8 MiB
    assert report.errors.count(f"{CLIP}: listed more than once in the manifest") == 499


def test_manifest_naming_150000_files_is_refused_at_once(genuine: Genuine) -> None:
    files = [{"name": f"clips/{i}.mp4", "size": 0} for i in range(150_000)]
    data = genuine.listing(files)
    assert len(data) < 16 << 20
    started = time.perf_counter()
    report = _check(data)
    assert time.perf_counter() - started < 5.0
    assert (
        f"manifest.json: lists 150000 files, more than the {MAX_MEMBERS} a package may hold" in report.errors
    )
    assert len(report.errors) < 10  # before: one error for each of the 150,000


def test_directory_of_too_many_entries_is_refused_before_it_is_parsed(genuine: Genuine) -> None:
    many = assemble([*genuine.raw()], aliases=[(f"a{i}", 0) for i in range(MAX_MEMBERS)])
    with pytest.raises(PackageUnreadableError, match=r"has 4101 entries; a package has at most 4096"):
        _check(many)


def test_hash_budget_is_the_file_size() -> None:
    budget = HashBudget(100)
    budget.spend(60)
    budget.spend(40)
    with pytest.raises(HashBudgetError, match="more than the 100 bytes of the file"):
        budget.spend(1)


def test_manifest_type_errors_name_the_field(genuine: Genuine) -> None:
    def change(manifest: dict[str, Any]) -> None:
        manifest.update(cameras=5, exported_by=[], complaint="x", export_id=True)

    report = _check(genuine.with_manifest(change))
    assert {e for e in report.errors if e.startswith("manifest.json")} == {
        "manifest.json: unknown field 'cameras' (not in station-console-evidence/1)",
        "manifest.json: field 'exported_by' is a list, expected an object",
        "manifest.json: field 'complaint' is a string, expected an object or null",
        "manifest.json: field 'export_id' is a boolean, expected a number or null",
    }
    assert json.loads(json.dumps(report.manifest))["cameras"] == 5
