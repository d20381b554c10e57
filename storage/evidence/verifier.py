"""Verifying an evidence package: :func:`verify_package`.

It checks the signature over the manifest bytes with the public key in the package, that this key has the
fingerprint the manifest names, whether it is one of the keys the verifier trusts (``trusted_keys``: the
station's own, pinned), and that every listed file is present with its size and SHA-256. Files in the
package that the manifest does not list are an ERROR, not a warning: nothing unsigned may travel inside a
package that is presented as signed, because a reader cannot tell an added ``clip_edited.mp4`` or a replaced
README from the genuine ones.

The package is hostile until checked, and checking it costs at most about one read of the file:

- the ZIP's directory is bounded before ``zipfile`` parses it, and each member's bytes must lie inside the
  file without overlapping another's (:mod:`storage.evidence.zip_layout`), so no byte is hashed twice
  through many directory entries;
- every member must be stored as the writer stores it: a compressed member (a ZIP bomb, or a method
  ``zipfile`` cannot read) or an encrypted one is an error, never unpacked;
- a member is hashed once however often the manifest lists it, and all reading together is capped at the
  file's size (:class:`HashBudget`);
- the manifest is at most :data:`MAX_SMALL_MEMBER_BYTES`, :data:`MAX_MANIFEST_DEPTH` levels deep and lists
  at most :data:`~storage.evidence.zip_layout.MAX_MEMBERS` files.

Anything wrong inside a readable ZIP with a manifest is an error in the report (verdict ``INVALID``), with
the reason; only a file that is no ZIP, or no package at all, raises :class:`PackageUnreadableError`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import struct
import sys
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from storage.control_char import escape_control_chars
from storage.evidence.error import PackageUnreadableError
from storage.evidence.finding import Finding, FindingLevel
from storage.evidence.manifest import (
    ENVELOPE_NAMES,
    MANIFEST_FORMAT,
    MANIFEST_NAME,
    PUBLIC_KEY_NAME,
    SIGNATURE_NAME,
)
from storage.evidence.report import VerificationReport
from storage.evidence.zip_layout import MAX_MEMBERS, MemberSpan, check_directory, file_size, locate_members
from storage.signing import PublicKeyError, fingerprint, load_public_key_pem, verify_signature

logger = logging.getLogger(__name__)

CHUNK_BYTES: Final = 1 << 20
MAX_SMALL_MEMBER_BYTES: Final = 16 << 20  # manifest, signature, key: anything larger is not ours
MAX_MANIFEST_DEPTH: Final = 32  # ours nests 5 levels deep
EXCERPT_CHARS: Final = 200  # of a manifest value quoted in an error
_ENCRYPTED_FLAG: Final = 0x01
# What reading a hostile package raises: BadZipFile (ours included); OSError (a seek before the start);
# ValueError (a name that is not UTF-8: UnicodeDecodeError); NotImplementedError (zipfile refuses a directory
# entry whose "version needed to extract" is above 6.3). struct.error and EOFError (a short record) are
# guarded against by length checks today, here and in zipfile; caught so that a gap there reads as unreadable.
_ZIP_ERRORS: Final = (zipfile.BadZipFile, OSError, EOFError, ValueError, struct.error, NotImplementedError)


# The fields of a manifest of MANIFEST_FORMAT and their JSON types.
MANIFEST_FIELDS: Final[Mapping[str, tuple[type, ...]]] = {
    "format": (str,),
    "package_id": (str,),
    "export_id": (int, type(None)),
    "station": (dict,),
    "software": (dict,),
    "exported_at": (dict,),
    "exported_by": (dict,),
    "complaint": (dict, type(None)),
    "reason": (str,),
    "clips": (list,),
    "files": (list,),
}
_JSON_TYPE_NAMES: Final[Mapping[type, str]] = {
    bool: "a boolean",
    int: "a number",
    float: "a number",
    str: "a string",
    list: "a list",
    dict: "an object",
    type(None): "null",
}
_OTHER_TYPE: Final = "a value"


def _type_phrase(kinds: Sequence[type]) -> str:
    return " or ".join(_JSON_TYPE_NAMES[kind] for kind in kinds)


#: Every value the ``actual`` and ``expected`` of a ``manifest_field_type`` finding can take: English
#: phrases of ours, never text from the package, so a reader's language can have them too.
FIELD_TYPE_PHRASES: Final[frozenset[str]] = frozenset(
    {*_JSON_TYPE_NAMES.values(), _OTHER_TYPE, *(_type_phrase(kinds) for kinds in MANIFEST_FIELDS.values())}
)


class HashBudgetError(zipfile.BadZipFile):
    """Reading the members would take more bytes than the file has: the ZIP names some bytes twice."""

    def __init__(self, size: int, spent: int, total: int) -> None:
        super().__init__(
            f"reading {size} more bytes would make {spent + size}, more than the {total} bytes of the file"
        )
        self.size = size
        self.total = total


class HashBudget:
    """The bytes the verifier may still read from members: the file's size, once."""

    def __init__(self, total_bytes: int) -> None:
        self.total_bytes = total_bytes
        self.spent_bytes = 0

    def spend(self, size: int) -> None:
        if self.spent_bytes + size > self.total_bytes:
            raise HashBudgetError(size, self.spent_bytes, self.total_bytes)
        self.spent_bytes += size


class _Members:
    """The package's members by name, where each lies, what is wrong with each, and the hashes taken."""

    def __init__(self, handle: BinaryIO, archive: zipfile.ZipFile, budget: HashBudget) -> None:
        self.handle = handle
        self.budget = budget
        infos = archive.infolist()
        spans = locate_members(handle, infos, members_end=archive.start_dir)
        self.by_name: dict[str, zipfile.ZipInfo] = {}
        self.spans: dict[str, MemberSpan] = {}
        self.problems: dict[str, Finding] = {}
        self.duplicates: list[str] = []
        for info, span in zip(infos, spans, strict=True):
            if info.filename in self.by_name:
                self.duplicates.append(info.filename)
            self.by_name[info.filename] = info
            self.spans[info.filename] = span
            problem = span.problem or _member_problem(info)
            if problem is None and info.filename in ENVELOPE_NAMES and span.size > MAX_SMALL_MEMBER_BYTES:
                problem = _error(
                    "member_too_large", name=info.filename, size=span.size, limit=MAX_SMALL_MEMBER_BYTES
                )
            if problem is not None:
                self.problems[info.filename] = problem
        self.hashes: dict[str, tuple[int, str]] = {}

    def read_small(self, name: str) -> bytes:
        span = self.spans[name]
        if span.size > MAX_SMALL_MEMBER_BYTES:
            raise zipfile.BadZipFile(f"{name} is {span.size} bytes, too large")
        self.budget.spend(span.size)
        self.handle.seek(span.data_offset)
        return self.handle.read(span.size)

    def hash(self, name: str) -> tuple[int, str]:
        """(size, SHA-256) of a stored member, read raw in chunks (once, however often it is asked for).

        Read raw, a damaged member still gets a hash to compare (the ZIP's own CRC check would only raise).
        """
        if name not in self.hashes:
            span = self.spans[name]
            self.budget.spend(span.size)
            self.hashes[name] = _hash_range(self.handle, span.data_offset, span.size)
        return self.hashes[name]


def _error(code: str, **params: object) -> Finding:
    return Finding.of(FindingLevel.ERROR, code, **params)


def _member_problem(info: zipfile.ZipInfo) -> Finding | None:
    """Why a member cannot be an evidence package's, from its directory entry (None: it can)."""
    name = info.filename
    if info.flag_bits & _ENCRYPTED_FLAG:
        return _error("member_encrypted", name=name)
    if info.compress_type != zipfile.ZIP_STORED:
        return _error("member_compressed", name=name, method=info.compress_type)
    if info.file_size != info.compress_size:
        return _error("member_size_mismatch", name=name, unpacked=info.file_size, stored=info.compress_size)
    return None


def _hash_range(handle: BinaryIO, start: int, length: int) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    handle.seek(start)
    remaining = length
    while remaining > 0:
        chunk = handle.read(min(CHUNK_BYTES, remaining))
        if not chunk:
            break
        digest.update(chunk)
        size += len(chunk)
        remaining -= len(chunk)
    return size, digest.hexdigest()


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
            budget = HashBudget(file_size(handle))
            check_directory(handle)
            archive = stack.enter_context(zipfile.ZipFile(handle))
            if len(archive.infolist()) > MAX_MEMBERS:
                raise zipfile.BadZipFile(f"more than {MAX_MEMBERS} members")
            members = _Members(handle, archive, budget)
        except _ZIP_ERRORS as exc:
            raise PackageUnreadableError(
                f"{path}: not a readable ZIP file: {exc}", package=path.name
            ) from exc
        return _verify_archive(VerificationReport(path=path), members, trusted_keys)


def _verify_archive(
    report: VerificationReport, members: _Members, trusted_keys: Sequence[Ed25519PublicKey]
) -> VerificationReport:
    path = report.path
    for name in members.duplicates:
        report.error("member_duplicate", name=name)
    for name in members.by_name:
        if not _is_safe_name(name):
            report.error("member_unsafe_name", name=repr(name))
    report.findings.extend(members.problems.values())
    if MANIFEST_NAME not in members.by_name:
        raise PackageUnreadableError(
            f"{path}: no {MANIFEST_NAME}: not an evidence package", package=path.name
        )
    if ENVELOPE_NAMES & members.problems.keys():
        return report  # the manifest, signature or key cannot be read: said above, nothing more to check
    try:
        manifest_data = members.read_small(MANIFEST_NAME)
        signature = _read_optional(members, SIGNATURE_NAME)
        key_pem = _read_optional(members, PUBLIC_KEY_NAME)
    except _ZIP_ERRORS as exc:
        raise PackageUnreadableError(f"{path}: damaged ZIP: {exc}", package=path.name) from exc
    public_key = _check_signature(report, manifest_data, signature, key_pem)
    if public_key is not None:
        _check_signer(report, trusted_keys)
    manifest = _parse_manifest(report, manifest_data)
    if manifest is not None:
        report.manifest = manifest
        _check_shape(report, manifest)
        _check_fingerprint(report, manifest, public_key)
        _check_files(report, members, manifest)
    return report


def _read_optional(members: _Members, name: str) -> bytes | None:
    return members.read_small(name) if name in members.by_name else None


def _check_signature(
    report: VerificationReport,
    manifest_data: bytes,
    signature: bytes | None,
    key_pem: bytes | None,
) -> Ed25519PublicKey | None:
    """Verify the signature with the key in the package; returns that key (None when it is unusable)."""
    public_key: Ed25519PublicKey | None = None
    if key_pem is None:
        report.error("key_missing", file=PUBLIC_KEY_NAME)
    else:
        try:
            public_key = load_public_key_pem(key_pem)
        except PublicKeyError as exc:
            if exc.kind is None:
                report.error("key_unreadable", file=PUBLIC_KEY_NAME)
            else:
                report.error("key_not_ed25519", file=PUBLIC_KEY_NAME, kind=exc.kind)
    if public_key is not None:
        report.key_fingerprint = fingerprint(public_key)
    if signature is None:
        report.error("signature_missing", file=SIGNATURE_NAME)
    elif public_key is not None and verify_signature(public_key, signature, manifest_data):
        report.passing(
            "signature_valid", file=SIGNATURE_NAME, manifest=MANIFEST_NAME, key=report.key_fingerprint
        )
    elif public_key is not None:
        report.error(
            "signature_mismatch", file=SIGNATURE_NAME, manifest=MANIFEST_NAME, key=report.key_fingerprint
        )
    return public_key


def _check_signer(report: VerificationReport, trusted_keys: Sequence[Ed25519PublicKey]) -> None:
    """Whether the package's key is one of the trusted keys: a signature proves who signed only then."""
    trusted = [fingerprint(key) for key in trusted_keys]
    signer = report.key_fingerprint
    if signer in trusted:
        report.signer_trusted = True
        report.passing("signer_trusted", key=signer)
    elif trusted:
        report.warning("signer_untrusted", key=signer, trusted=", ".join(trusted))
    else:
        report.warning("signer_no_trusted_key", key=signer)


def _parse_manifest(report: VerificationReport, data: bytes) -> dict[str, Any] | None:
    try:
        manifest = json.loads(data.decode("utf-8"))
    except RecursionError:
        report.error("manifest_nested_too_deeply", file=MANIFEST_NAME)
        return None
    except UnicodeDecodeError as exc:
        report.error("manifest_not_utf8", file=MANIFEST_NAME, position=exc.start)
        return None
    except json.JSONDecodeError as exc:
        report.error("manifest_not_json", file=MANIFEST_NAME, line=exc.lineno, column=exc.colno)
        return None
    except ValueError:  # a number of more digits than Python converts
        report.error("manifest_number_too_long", file=MANIFEST_NAME, limit=sys.get_int_max_str_digits())
        return None
    if _depth(manifest) > MAX_MANIFEST_DEPTH:
        report.error("manifest_too_deep", file=MANIFEST_NAME, limit=MAX_MANIFEST_DEPTH)
        return None
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__
        report.error(
            "manifest_unknown_format", file=MANIFEST_NAME, found=_excerpt(found), expected=MANIFEST_FORMAT
        )
        return None
    return manifest


def _excerpt(value: object, *, quote: bool = True) -> str:
    """A value from the manifest as a report shows it: ``repr`` (or ``str``), cut to :data:`EXCERPT_CHARS`."""
    text = repr(value) if quote else str(value)
    return text if len(text) <= EXCERPT_CHARS else f"{text[:EXCERPT_CHARS]}... ({len(text)} characters)"


def _depth(value: object) -> int:
    """How deeply lists and objects nest in a parsed JSON value (iterative: no recursion to exhaust)."""
    deepest = 0
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children: list[object] = []
        if isinstance(item, dict):
            children = list(item.values())
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_MANIFEST_DEPTH:
            return deepest
        stack.extend((child, depth + 1) for child in children)
    return deepest


def _check_shape(report: VerificationReport, manifest: dict[str, Any]) -> None:
    """Every field of the manifest is one the format has, of the type it has (``files`` is checked with
    the files, entry by entry)."""
    for key, value in manifest.items():
        wanted = MANIFEST_FIELDS.get(key)
        if wanted is None:
            report.error(
                "manifest_unknown_field", file=MANIFEST_NAME, field=_excerpt(key), format=MANIFEST_FORMAT
            )
        elif not isinstance(value, wanted) or isinstance(value, bool):
            expected = _type_phrase(wanted)
            report.error(
                "manifest_field_type",
                file=MANIFEST_NAME,
                field=repr(key),
                actual=_json_type(value),
                expected=expected,
            )
    clips = manifest.get("clips")
    for index, clip in enumerate(clips if isinstance(clips, list) else []):
        camera = clip.get("camera") if isinstance(clip, dict) else None
        if not isinstance(camera, dict):
            report.error(
                "manifest_clip_malformed", file=MANIFEST_NAME, index=index + 1, excerpt=_excerpt(clip)
            )


def _json_type(value: object) -> str:
    return next((name for kind, name in _JSON_TYPE_NAMES.items() if isinstance(value, kind)), _OTHER_TYPE)


def _check_fingerprint(
    report: VerificationReport, manifest: dict[str, Any], public_key: Ed25519PublicKey | None
) -> None:
    station = manifest.get("station")
    declared = station.get("public_key_fingerprint") if isinstance(station, dict) else None
    if public_key is None:
        return
    if declared != report.key_fingerprint:
        report.error(
            "fingerprint_mismatch", file=PUBLIC_KEY_NAME, key=report.key_fingerprint, declared=declared
        )
    else:
        report.passing("fingerprint_match", file=PUBLIC_KEY_NAME, declared=declared)


def _check_files(report: VerificationReport, members: _Members, manifest: dict[str, Any]) -> None:
    listed = manifest.get("files")
    if not isinstance(listed, list) or not listed:
        report.error("manifest_no_files", file=MANIFEST_NAME)
        return
    if len(listed) > MAX_MEMBERS:
        report.error("manifest_too_many_files", file=MANIFEST_NAME, count=len(listed), limit=MAX_MEMBERS)
        return
    seen: set[str] = set()
    for entry in listed:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            report.error("manifest_file_entry_malformed", file=MANIFEST_NAME, excerpt=_excerpt(entry))
            continue
        name: str = entry["name"]
        if name in seen:
            report.error("file_listed_twice", name=name)
            continue
        seen.add(name)
        if name not in members.by_name:
            report.error("file_missing", name=name)
        elif name not in members.problems:  # a member that cannot be read is reported already
            _check_one_file(report, members, name, entry)
    for name in sorted(set(members.by_name) - seen - ENVELOPE_NAMES):
        if not name.endswith("/"):
            report.error("file_added", name=name)


def _check_one_file(report: VerificationReport, members: _Members, name: str, entry: dict[str, Any]) -> None:
    try:
        size, digest = members.hash(name)
    except HashBudgetError as exc:
        report.error("file_read_twice", name=name, size=exc.size, total=exc.total)
        return
    except _ZIP_ERRORS as exc:
        logger.warning("%s: %s cannot be read: %s", report.path, escape_control_chars(name), exc)
        report.error("file_unreadable", name=name)
        return
    expected_size = _excerpt(entry.get("size"), quote=False)
    expected_sha256 = _excerpt(entry.get("sha256"), quote=False)
    size_differs, hash_differs = size != entry.get("size"), digest != entry.get("sha256")
    if size_differs and hash_differs:
        report.error(
            "file_altered_size_and_hash",
            name=name,
            expected_size=expected_size,
            actual_size=size,
            expected_sha256=expected_sha256,
            actual_sha256=digest,
        )
    elif size_differs:
        report.error("file_altered_size", name=name, expected=expected_size, actual=size)
    elif hash_differs:
        report.error("file_altered_hash", name=name, expected=expected_sha256, actual=digest)
    else:
        report.passing("file_ok", name=name, size=size, sha256=digest)
