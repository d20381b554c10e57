"""Hostile evidence packages, built byte by byte: a corpus for the verifier and the verify upload.

:func:`assemble` writes a ZIP from :class:`RawMember` s with full control over what its local headers and its
central directory say (methods, flags, sizes, offsets, extra directory entries pointing at a member that is
already there). :class:`Genuine` is a real package taken apart, to be put together again with something
wrong. :data:`CORPUS` lists each hostile case with the reason a verifier must give.
"""

from __future__ import annotations

import hashlib
import json
import struct
import zipfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from storage.evidence.manifest import MANIFEST_NAME, PUBLIC_KEY_NAME, SIGNATURE_NAME
from storage.signing import StationKey

LOCAL = struct.Struct("<4s5H3L2H")
CENTRAL = struct.Struct("<4s6H3L5H2L")
END = struct.Struct("<4s4H2LH")
CLIP = "clips/cam-1_20250301T100002Z.mp4"


@dataclass(frozen=True)
class RawMember:
    """One member as :func:`assemble` writes it: ``data`` as stored; the rest as its headers declare it."""

    name: str
    data: bytes
    method: int = 0
    flags: int = 0
    file_size: int | None = None  # declared unpacked size (default: len(data))
    compress_size: int | None = None  # declared stored size (default: len(data))
    local_name: str | None = None  # the name its local header gives (default: name)


def _name_bytes(name: str) -> tuple[bytes, int]:
    encoded = name.encode("utf-8", "surrogatepass")
    return encoded, (0x800 if not name.isascii() else 0)


def assemble(
    members: Sequence[RawMember],
    *,
    aliases: Sequence[tuple[str, int]] = (),
    pointers: Sequence[tuple[RawMember, int]] = (),
) -> bytes:
    """A ZIP of ``members``; each of ``aliases`` (name, index) is one more directory entry for the bytes of
    member ``index``; each of ``pointers`` (member, offset) one more directory entry for a local header at
    ``offset`` (which :func:`header_offset` gives)."""
    body = bytearray()
    entries: list[tuple[RawMember, int]] = []
    for member in members:
        offset = len(body)
        local_name, utf8 = _name_bytes(member.local_name or member.name)
        crc = zlib.crc32(member.data)
        body += LOCAL.pack(
            b"PK\x03\x04",
            20,
            member.flags | utf8,
            member.method,
            0,
            0x21,
            crc,
            member.compress_size if member.compress_size is not None else len(member.data),
            member.file_size if member.file_size is not None else len(member.data),
            len(local_name),
            0,
        )
        body += local_name + member.data
        entries.append((member, offset))
    entries += [(replace(members[index], name=name), entries[index][1]) for name, index in aliases]
    entries += pointers
    directory = bytearray()
    for member, offset in entries:
        name, utf8 = _name_bytes(member.name)
        directory += CENTRAL.pack(
            b"PK\x01\x02",
            20,
            20,
            member.flags | utf8,
            member.method,
            0,
            0x21,
            zlib.crc32(member.data),
            member.compress_size if member.compress_size is not None else len(member.data),
            member.file_size if member.file_size is not None else len(member.data),
            len(name),
            0,
            0,
            0,
            0,
            0o644 << 16,
            offset,
        )
        directory += name
    count = min(len(entries), 0xFFFF)
    end = END.pack(b"PK\x05\x06", 0, 0, count, count, len(directory), len(body), 0)
    return bytes(body + directory + end)


def header_offset(members: Sequence[RawMember], index: int) -> int:
    """Where :func:`assemble` puts the local header of ``members[index]``."""
    return sum(
        LOCAL.size + len(_name_bytes(m.local_name or m.name)[0]) + len(m.data) for m in members[:index]
    )


def local_header(member: RawMember) -> bytes:
    """A member's local header and bytes, as they lie in a ZIP (to hide one inside another member)."""
    return assemble([member])[: LOCAL.size + len(_name_bytes(member.name)[0]) + len(member.data)]


@dataclass
class Genuine:
    """A real package taken apart: its members in order, its manifest, and the key that signed it."""

    members: dict[str, bytes]
    manifest: dict[str, Any]
    key: StationKey
    extra: list[RawMember] = field(default_factory=list)

    @classmethod
    def of(cls, package: Path, key: StationKey) -> Genuine:
        with zipfile.ZipFile(package) as archive:
            members = {info.filename: archive.read(info) for info in archive.infolist()}
        return cls(members, json.loads(members[MANIFEST_NAME]), key)

    def raw(self, manifest_data: bytes | None = None, *, resign: bool = True) -> list[RawMember]:
        """The members as :class:`RawMember` s; with ``manifest_data``, that manifest (signed when
        ``resign``, so that only what the case changes is wrong)."""
        members = dict(self.members)
        if manifest_data is not None:
            members[MANIFEST_NAME] = manifest_data
            if resign:
                members[SIGNATURE_NAME] = self.key.sign(manifest_data)
        return [RawMember(name, data) for name, data in members.items()]

    def with_manifest(self, change: Callable[[dict[str, Any]], object]) -> bytes:
        """The package with its manifest changed by ``change`` (in place) and signed again."""
        manifest = json.loads(json.dumps(self.manifest))
        change(manifest)
        return assemble(self.raw(json.dumps(manifest).encode("ascii")))  # a lone surrogate as a JSON escape

    def changed(self, name: str, **declared: Any) -> bytes:
        """The package with member ``name`` declared differently (method, flags, sizes, local name)."""
        return assemble([replace(m, **declared) if m.name == name else m for m in self.raw()])

    def listing(self, files: list[dict[str, Any]], extra: Sequence[RawMember] = ()) -> bytes:
        """The package with extra members and a manifest listing ``files`` (signed again)."""

        def relist(manifest: dict[str, Any]) -> None:
            manifest["files"] = files

        manifest = json.loads(json.dumps(self.manifest))
        relist(manifest)
        data = json.dumps(manifest).encode("utf-8")
        return assemble([*self.raw(data), *extra])


def file_entry(name: str, data: bytes) -> dict[str, Any]:
    return {"name": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest(), "kind": "clip"}


def aliased(genuine: Genuine, count: int, *, same_name: bool = False) -> bytes:
    """Finding 3: ``count`` more directory entries for the bytes of one clip, listed in a signed manifest
    (under names of their own, or all under the clip's name so that its local header matches each)."""
    clip = genuine.members[CLIP]
    names = [CLIP if same_name else f"clips/alias_{i:03}.mp4" for i in range(count)]
    manifest = json.loads(json.dumps(genuine.manifest))
    manifest["files"] = [file_entry(CLIP, clip)] + [file_entry(n, clip) for n in names]
    data = json.dumps(manifest).encode("utf-8")
    members = genuine.raw(data)
    index = next(i for i, m in enumerate(members) if m.name == CLIP)
    return assemble(members, aliases=[(name, index) for name in names])


def hidden_member(genuine: Genuine) -> bytes:
    """A directory entry for a member whose local header and bytes lie inside the clip's bytes."""
    inner = RawMember("clips/inner.mp4", b"inner clip")
    members = [m if m.name != CLIP else replace(m, data=m.data + local_header(inner)) for m in genuine.raw()]
    index = next(i for i, m in enumerate(members) if m.name == CLIP)
    clip_data = header_offset(members, index) + LOCAL.size + len(CLIP)
    inner_at = clip_data + len(genuine.members[CLIP])
    files = [*genuine.manifest["files"], file_entry(inner.name, inner.data)]
    files[0] = file_entry(CLIP, members[index].data)
    manifest = {**genuine.manifest, "files": files}
    signed = genuine.raw(json.dumps(manifest).encode("utf-8"))
    signed[index] = members[index]
    return assemble(signed, pointers=[(inner, inner_at)])


def _nested(depth: int) -> Callable[[dict[str, Any]], object]:
    def change(manifest: dict[str, Any]) -> None:
        value: Any = "bottom"
        for _ in range(depth):
            value = {"deeper": value}
        manifest["reason"] = value

    return change


def _deflated(genuine: Genuine) -> bytes:
    """A member that unpacks to 64 MiB from a few KiB, listed with its true hash (a ZIP bomb's shape)."""
    unpacked = bytes(64 << 20)
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    packed = packer.compress(unpacked) + packer.flush()
    bomb = RawMember("clips/bomb.mp4", packed, method=zipfile.ZIP_DEFLATED, file_size=len(unpacked))
    files = [*genuine.manifest["files"], file_entry(bomb.name, unpacked)]
    return genuine.listing(files, [bomb])


def _manifest_bytes(genuine: Genuine, data: bytes) -> bytes:
    return assemble(genuine.raw(data))


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], object]:
    return lambda manifest: manifest.__setitem__(key, value)


def _many_members(genuine: Genuine) -> bytes:
    return assemble([*genuine.raw(), *(RawMember(f"clips/x{i}", b"") for i in range(5000))])


@dataclass(frozen=True)
class HostileCase:
    """``build`` makes the package from a genuine one; ``reason``: text the verdict must contain;
    ``unreadable``: the verifier refuses it as no package at all (else: verdict invalid)."""

    id: str
    build: Callable[[Genuine], bytes]
    reason: str
    unreadable: bool = False


CORPUS: tuple[HostileCase, ...] = (
    HostileCase("empty-file", lambda g: b"", "not a readable ZIP", unreadable=True),
    HostileCase("not-a-zip", lambda g: b"PK\x03\x04" + bytes(200), "not a readable ZIP", unreadable=True),
    HostileCase(
        "truncated",
        lambda g: assemble(g.raw())[: len(assemble(g.raw())) // 2],
        "not a readable ZIP",
        unreadable=True,
    ),
    HostileCase("too-many-members", _many_members, "entries; a package has at most", unreadable=True),
    HostileCase(
        "no-manifest", lambda g: assemble([RawMember(CLIP, b"x")]), "no manifest.json", unreadable=True
    ),
    HostileCase("zip-bomb-member", _deflated, "clips/bomb.mp4: compressed (method 8)"),
    HostileCase(
        "huge-declared-size",
        lambda g: g.changed(CLIP, file_size=0xFFFFFFF0, compress_size=0xFFFFFFF0),
        f"{CLIP}: its 4294967280 bytes run past the end",
    ),
    HostileCase("aliased-entries", lambda g: aliased(g, 128), "its local header names another file"),
    HostileCase("overlapping-entries", lambda g: aliased(g, 128, same_name=True), "overlap those of"),
    HostileCase("member-inside-a-member", hidden_member, "clips/inner.mp4: its bytes overlap those of"),
    HostileCase(
        "duplicate-names",
        lambda g: assemble([*g.raw(), RawMember(CLIP, b"another clip")]),
        f"{CLIP}: appears more than once in the ZIP",
    ),
    HostileCase(
        "path-traversal",
        lambda g: assemble([*g.raw(), RawMember("../../etc/cron.d/evil", b"x"), RawMember("/abs", b"")]),
        "'../../etc/cron.d/evil': unsafe file name",
    ),
    HostileCase("encrypted-member", lambda g: g.changed(CLIP, flags=0x1), f"{CLIP}: encrypted"),
    HostileCase(
        "encrypted-manifest", lambda g: g.changed(MANIFEST_NAME, flags=0x1), "manifest.json: encrypted"
    ),
    HostileCase(
        "compression-method-6", lambda g: g.changed(CLIP, method=6), f"{CLIP}: compressed (method 6)"
    ),
    HostileCase(
        "compressed-signature",
        lambda g: g.changed(SIGNATURE_NAME, method=99),
        "manifest.sig: compressed (method 99)",
    ),
    HostileCase(
        "local-name-differs", lambda g: g.changed(CLIP, local_name="clips/other.mp4"), "names another file"
    ),
    HostileCase(
        "manifest-not-json", lambda g: _manifest_bytes(g, b"{not json"), "manifest.json: not valid JSON"
    ),
    HostileCase(
        "manifest-not-utf8", lambda g: _manifest_bytes(g, b"\xff\xfe{}"), "manifest.json: not valid JSON"
    ),
    HostileCase(
        "manifest-deeply-nested",
        lambda g: _manifest_bytes(g, b"[" * 200_000 + b"]" * 200_000),
        "manifest.json: nested too deeply",
    ),
    HostileCase(
        "manifest-nested-50",
        lambda g: g.with_manifest(_nested(50)),
        "manifest.json: nested more than 32 levels",
    ),
    HostileCase(
        "manifest-number-5000-digits",
        lambda g: _manifest_bytes(g, b'{"format": 1' + b"0" * 5000 + b"}"),
        "manifest.json: not valid JSON",
    ),
    HostileCase("manifest-a-list", lambda g: _manifest_bytes(g, b"[1, 2]"), "unknown format 'list'"),
    HostileCase(
        "cameras-5", lambda g: g.with_manifest(_set("cameras", 5)), "manifest.json: unknown field 'cameras'"
    ),
    HostileCase("station-5", lambda g: g.with_manifest(_set("station", 5)), "field 'station' is a number"),
    HostileCase("clips-5", lambda g: g.with_manifest(_set("clips", 5)), "field 'clips' is a number"),
    HostileCase(
        "clip-camera-5", lambda g: g.with_manifest(_set("clips", [{"camera": 5}])), "clip 1 is malformed"
    ),
    HostileCase("files-5", lambda g: g.with_manifest(_set("files", 5)), "manifest.json: lists no files"),
    HostileCase(
        "file-entry-wrong-types",
        lambda g: g.with_manifest(
            _set("files", [7, {"name": 5}, {"name": CLIP, "size": "big", "sha256": []}])
        ),
        "malformed file entry 7",
    ),
    HostileCase(
        "huge-manifest",
        lambda g: g.with_manifest(_set("reason", "x" * (17 << 20))),
        "bytes, more than the 16777216 it may have",
    ),
    HostileCase(
        "manifest-lists-5000-files",
        lambda g: g.listing([file_entry(f"clips/{i}", b"") for i in range(5000)]),
        "lists 5000 files, more than the 4096",
    ),
    HostileCase(
        "listed-many-times",
        lambda g: g.listing([file_entry(CLIP, g.members[CLIP])] * 1000),
        f"{CLIP}: listed more than once in the manifest",
    ),
    HostileCase(
        "member-missing",
        lambda g: assemble([m for m in g.raw() if m.name != "README.txt"]),
        "README.txt: listed in the manifest but missing",
    ),
    HostileCase(
        "extra-member",
        lambda g: assemble([*g.raw(), RawMember("clips/edited.mp4", b"fake")]),
        "clips/edited.mp4: in the package but not listed",
    ),
    HostileCase(
        "signature-wrong-length",
        lambda g: assemble([m if m.name != SIGNATURE_NAME else RawMember(m.name, b"short") for m in g.raw()]),
        "manifest.sig: signature does not match",
    ),
    HostileCase(
        "public-key-garbage",
        lambda g: assemble(
            [m if m.name != PUBLIC_KEY_NAME else RawMember(m.name, b"\x00garbage") for m in g.raw()]
        ),
        "station_public_key.pem: cannot be read",
    ),
    HostileCase(
        "control-characters-in-names",
        lambda g: assemble([*g.raw(), RawMember("clips/\x1b[2J\nresult: VALID\u202e.mp4", b"x")]),
        "clips/\x1b[2J\nresult: VALID\u202e.mp4: in the package but not listed",
    ),
    HostileCase(
        "lone-surrogates-in-manifest",
        lambda g: g.with_manifest(
            lambda m: m.update(reason="\ud800", files=[*m["files"], file_entry("clips/\udfff.mp4", b"")])
        ),
        "clips/\udfff.mp4: listed in the manifest but missing",
    ),
)
