"""Where each member's bytes lie in a ZIP file under verification, checked before any of them is read.

A ZIP's central directory is written by whoever made the file, and nothing in the format stops it from
naming the same bytes many times: 128 directory entries at the offset of one 8 MiB member make a verifier
that trusts them hash 1 GiB out of an 8 MiB upload. So, before a member is hashed:

- :func:`check_directory` reads the end-of-central-directory record (ZIP64 too) and refuses a directory of
  more than :data:`MAX_MEMBERS` entries or :data:`MAX_DIRECTORY_BYTES` bytes *before* ``zipfile`` parses it
  (it would build an object for every entry), one that does not lie where the end records say, and one
  whose entries disagree with the count they declare;
- :func:`locate_members` reads each member's local header and gives its :class:`MemberSpan`: where its data
  starts and ends. A member whose bytes run past the members' area (into the central directory or past the
  end of the file), whose local header is missing or names another file, or whose bytes overlap another
  member's is given a ``problem`` instead, and is never read.

Members that pass lie one after another without overlap inside the file, so hashing all of them reads each
byte of the file at most once.
"""

from __future__ import annotations

import io
import struct
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO, Final

from storage.evidence.finding import Finding, FindingLevel

MAX_MEMBERS: Final = 4096  # a package holds one clip per camera and four more files
MAX_DIRECTORY_BYTES: Final = 4 << 20  # 4096 entries of ~1 KiB each
LOCAL_HEADER: Final = struct.Struct("<4s2B4HL2L2H")
LOCAL_HEADER_MAGIC: Final = b"PK\x03\x04"
_END: Final = struct.Struct("<4s4H2LH")  # end of central directory
_END_MAGIC: Final = b"PK\x05\x06"
_ZIP64_LOCATOR: Final = struct.Struct("<4sLQL")
_ZIP64_LOCATOR_MAGIC: Final = b"PK\x06\x07"
_ZIP64_END: Final = struct.Struct("<4sQ2H2L4Q")
_ZIP64_END_MAGIC: Final = b"PK\x06\x06"
_MAX_COMMENT_BYTES: Final = 0xFFFF
_CENTRAL: Final = struct.Struct("<4s6H3L5H2L")  # a central directory entry's fixed part
_CENTRAL_MAGIC: Final = b"PK\x01\x02"


class ZipLayoutError(zipfile.BadZipFile):
    """The ZIP's directory is too large to be an evidence package, or its end record cannot be found."""


@dataclass(frozen=True)
class MemberSpan:
    """Where a member lies in the file: its local header at ``header_offset``, its (stored) bytes in
    ``[data_offset, end)``. ``problem`` says why it must not be read (None: it may)."""

    name: str
    header_offset: int
    data_offset: int
    end: int
    problem: Finding | None = None

    @property
    def size(self) -> int:
        return self.end - self.data_offset


def file_size(handle: BinaryIO) -> int:
    return handle.seek(0, io.SEEK_END)


def check_directory(handle: BinaryIO) -> None:
    """Refuse a central directory with too many entries or bytes, before ``zipfile`` parses it.

    The figures are taken where ``zipfile`` takes them: from the ZIP64 end record whenever its locator
    precedes the end record (not only when the end record's fields say so), so that the two cannot read
    different directories. The directory must lie exactly where the end records say, just before them,
    and hold the number of entries they declare (walked header by header, at most :data:`MAX_MEMBERS`).

    Raises :class:`ZipLayoutError`; a file with no end record at all is left to ``zipfile`` to refuse.
    """
    size = file_size(handle)
    tail_start = max(0, size - _END.size - _MAX_COMMENT_BYTES)
    handle.seek(tail_start)
    tail = handle.read()
    at = tail.rfind(_END_MAGIC)
    if at < 0 or len(tail) - at < _END.size:
        return
    end_at = tail_start + at
    _magic, _disk, _dir_disk, _disk_entries, entries, directory_bytes, offset, _comment = _END.unpack_from(
        tail, at
    )
    directory_end = end_at
    zip64 = _zip64_directory(handle, end_at)
    if zip64 is not None:
        entries, directory_bytes, offset = zip64
        directory_end = end_at - _ZIP64_LOCATOR.size - _ZIP64_END.size
    elif entries == 0xFFFF or directory_bytes == 0xFFFFFFFF or offset == 0xFFFFFFFF:
        raise ZipLayoutError("the ZIP's end record asks for a ZIP64 end record that is not there")
    if entries > MAX_MEMBERS:
        raise ZipLayoutError(f"the ZIP directory has {entries} entries; a package has at most {MAX_MEMBERS}")
    if directory_bytes > MAX_DIRECTORY_BYTES:
        raise ZipLayoutError(
            f"the ZIP directory is {directory_bytes} bytes; a package's is at most {MAX_DIRECTORY_BYTES}"
        )
    if offset + directory_bytes != directory_end:
        raise ZipLayoutError(
            f"the ZIP directory is said to lie at bytes {offset}..{offset + directory_bytes}, "
            f"but it ends at byte {directory_end}"
        )
    handle.seek(offset)
    found = _count_entries(handle.read(directory_bytes))
    if found != entries:
        raise ZipLayoutError(f"the ZIP directory holds {found} entries where its end record says {entries}")


def _count_entries(directory: bytes) -> int:
    """The entries in a central directory, walked header by header (stops past :data:`MAX_MEMBERS`)."""
    count, at = 0, 0
    while at < len(directory):
        if count > MAX_MEMBERS:
            raise ZipLayoutError(f"the ZIP directory has more than {MAX_MEMBERS} entries")
        if len(directory) - at < _CENTRAL.size or directory[at : at + 4] != _CENTRAL_MAGIC:
            raise ZipLayoutError(f"the ZIP directory's entry {count + 1} is not a directory entry")
        fields = _CENTRAL.unpack_from(directory, at)
        at += _CENTRAL.size + fields[10] + fields[11] + fields[12]  # name, extra, comment
        count += 1
    if at != len(directory):
        raise ZipLayoutError("the ZIP directory's last entry runs past its end")
    return count


def _zip64_directory(handle: BinaryIO, end_offset: int) -> tuple[int, int, int] | None:
    """(entries, directory bytes, directory offset) from the ZIP64 end record just before the end record,
    if there is one."""
    locator_at = end_offset - _ZIP64_LOCATOR.size
    record_at = locator_at - _ZIP64_END.size
    if record_at < 0:
        return None
    handle.seek(record_at)
    data = handle.read(_ZIP64_END.size + _ZIP64_LOCATOR.size)
    if len(data) != _ZIP64_END.size + _ZIP64_LOCATOR.size:
        return None
    if _ZIP64_LOCATOR.unpack_from(data, _ZIP64_END.size)[0] != _ZIP64_LOCATOR_MAGIC:
        return None
    fields = _ZIP64_END.unpack_from(data)
    if fields[0] != _ZIP64_END_MAGIC:
        raise ZipLayoutError("the ZIP64 end record is missing where its locator says")
    if fields[6] != fields[7]:
        raise ZipLayoutError(f"the ZIP64 end record counts {fields[6]} and {fields[7]} entries")
    return int(fields[7]), int(fields[8]), int(fields[9])


def locate_members(
    handle: BinaryIO, members: Sequence[zipfile.ZipInfo], *, members_end: int
) -> list[MemberSpan]:
    """The span of each member (in the order given), each with its problem if it has one.

    ``members_end``: where the members' area ends (the start of the central directory).
    """
    spans = [_locate(handle, info, members_end) for info in members]
    return _mark_overlaps(spans)


def _locate(handle: BinaryIO, info: zipfile.ZipInfo, members_end: int) -> MemberSpan:
    name, offset = info.filename, info.header_offset
    if offset < 0 or offset + LOCAL_HEADER.size > members_end:
        return MemberSpan(name, offset, offset, offset, _problem("member_header_outside", name=name))
    handle.seek(offset)
    fields = LOCAL_HEADER.unpack(handle.read(LOCAL_HEADER.size))
    name_length, extra_length = fields[-2], fields[-1]
    data_offset = offset + LOCAL_HEADER.size + name_length + extra_length
    end = data_offset + info.compress_size
    if fields[0] != LOCAL_HEADER_MAGIC:
        return MemberSpan(name, offset, data_offset, data_offset, _problem("member_no_header", name=name))
    if handle.read(name_length) != _encoded_name(info):
        return MemberSpan(
            name, offset, data_offset, data_offset, _problem("member_header_mismatch", name=name)
        )
    if end > members_end:
        return MemberSpan(
            name,
            offset,
            data_offset,
            data_offset,
            _problem("member_past_end", name=name, size=info.compress_size, end=members_end),
        )
    return MemberSpan(name, offset, data_offset, end)


def _problem(code: str, **params: object) -> Finding:
    return Finding.of(FindingLevel.ERROR, code, **params)


def _encoded_name(info: zipfile.ZipInfo) -> bytes:
    """The name as the directory stored it (UTF-8 when flagged, else code page 437)."""
    if info.flag_bits & 0x800:
        return info.orig_filename.encode("utf-8")
    try:
        return info.orig_filename.encode("cp437")
    except UnicodeEncodeError:
        return info.orig_filename.encode("utf-8")


def _mark_overlaps(spans: list[MemberSpan]) -> list[MemberSpan]:
    """The spans with a problem added to every member whose bytes (header included) overlap another's."""
    problems: dict[int, Finding] = {}
    order = sorted(
        (i for i, span in enumerate(spans) if span.problem is None), key=lambda i: spans[i].header_offset
    )
    reach: int | None = None  # the member reaching furthest so far
    for index in order:
        span = spans[index]
        if reach is not None and span.header_offset < spans[reach].end:
            problems[index] = _problem("member_overlap", name=span.name, other=repr(spans[reach].name))
            problems.setdefault(
                reach, _problem("member_overlap", name=spans[reach].name, other=repr(span.name))
            )
        if reach is None or span.end > spans[reach].end:
            reach = index
    return [
        MemberSpan(s.name, s.header_offset, s.data_offset, s.data_offset, problems[i]) if i in problems else s
        for i, s in enumerate(spans)
    ]
