"""H.264/HEVC byte-stream helpers for stream copy: everything the recorder writes is Annex B.

The MP4 muxer builds its ``avcC``/``hvcC`` record from the parameter sets of the first keyframe when the
stream has no extradata, and converts Annex B packets itself. So the recorder hands it Annex B packets whose
first keyframe carries the parameter sets: RTSP cameras usually send them in band; when one only announces
them in the SDP (``format.extradata``), they are prepended. AVCC input (MP4 files) is converted here.
"""

from __future__ import annotations

from dataclasses import dataclass

START_CODE = b"\x00\x00\x00\x01"
H264_PARAMETER_SETS = frozenset({7, 8})  # SPS, PPS
HEVC_PARAMETER_SETS = frozenset({32, 33, 34})  # VPS, SPS, PPS
ANNEXB_CODECS = frozenset({"h264", "hevc"})


@dataclass(frozen=True, slots=True)
class ByteStreamConfig:
    """How to turn a connection's packets into Annex B: length prefix size (0 = already Annex B)."""

    codec: str
    length_size: int
    parameter_sets: bytes  # Annex B, possibly empty


def is_annexb(data: bytes) -> bool:
    return data.startswith(START_CODE) or data.startswith(b"\x00\x00\x01")


def byte_stream_config(codec: str, extradata: bytes | None) -> ByteStreamConfig:
    """Read the connection's extradata: Annex B parameter sets, or an ``avcC``/``hvcC`` record."""
    data = extradata or b""
    if codec not in ANNEXB_CODECS or not data or is_annexb(data):
        return ByteStreamConfig(codec=codec, length_size=0, parameter_sets=data)
    if codec == "h264":
        return _from_avcc(data)
    return _from_hvcc(data)


def _from_avcc(data: bytes) -> ByteStreamConfig:
    if len(data) < 7 or data[0] != 1:
        raise ValueError("H.264 extradata is neither Annex B nor an avcC record")
    length_size = (data[4] & 0x03) + 1
    units: list[bytes] = []
    pos = 5
    for count_mask in (0x1F, 0xFF):
        count = data[pos] & count_mask
        pos += 1
        for _ in range(count):
            size = int.from_bytes(data[pos : pos + 2], "big")
            units.append(data[pos + 2 : pos + 2 + size])
            pos += 2 + size
    if pos > len(data):
        raise ValueError("truncated avcC record")
    return ByteStreamConfig("h264", length_size, b"".join(START_CODE + unit for unit in units))


def _from_hvcc(data: bytes) -> ByteStreamConfig:
    if len(data) < 23:
        raise ValueError("HEVC extradata is neither Annex B nor an hvcC record")
    length_size = (data[21] & 0x03) + 1
    units: list[bytes] = []
    pos = 23
    for _ in range(data[22]):
        count = int.from_bytes(data[pos + 1 : pos + 3], "big")
        pos += 3
        for _ in range(count):
            size = int.from_bytes(data[pos : pos + 2], "big")
            units.append(data[pos + 2 : pos + 2 + size])
            pos += 2 + size
    if pos > len(data):
        raise ValueError("truncated hvcC record")
    return ByteStreamConfig("hevc", length_size, b"".join(START_CODE + unit for unit in units))


def length_prefixed_to_annexb(data: bytes, length_size: int) -> bytes:
    out = bytearray()
    pos = 0
    while pos + length_size <= len(data):
        size = int.from_bytes(data[pos : pos + length_size], "big")
        pos += length_size
        if size == 0 or pos + size > len(data):
            raise ValueError("malformed length-prefixed packet")
        out += START_CODE + data[pos : pos + size]
        pos += size
    return bytes(out)


def nal_types(data: bytes, codec: str) -> set[int]:
    """NAL unit types present in an Annex B packet."""
    types: set[int] = set()
    pos = data.find(b"\x00\x00\x01")
    while pos >= 0 and pos + 3 < len(data):
        header = data[pos + 3]
        types.add(header & 0x1F if codec == "h264" else (header >> 1) & 0x3F)
        pos = data.find(b"\x00\x00\x01", pos + 3)
    return types


def starts_picture(data: bytes, codec: str) -> bool | None:
    """Whether the first slice of an Annex B packet is the first of its picture; None without a slice.

    H.264: ``first_mb_in_slice`` is 0 (its ue(v) code is the single bit 1); HEVC:
    ``first_slice_segment_in_pic_flag``. Both are the first bit after the NAL header, the rule FFmpeg's own
    parsers use to find where a picture starts. Pure.
    """
    header_size = 1 if codec == "h264" else 2
    pos = data.find(b"\x00\x00\x01")
    while 0 <= pos < len(data) - 3 - header_size:
        header = data[pos + 3]
        is_slice = header & 0x1F in (1, 2, 5) if codec == "h264" else (header >> 1) & 0x3F <= 31  # VCL
        if is_slice:
            return bool(data[pos + 3 + header_size] & 0x80)
        pos = data.find(b"\x00\x00\x01", pos + 3)
    return None


def to_annexb(data: bytes, config: ByteStreamConfig, *, first_keyframe: bool) -> bytes:
    """One packet as Annex B; the first keyframe of a file gets the parameter sets when it lacks them."""
    if config.codec not in ANNEXB_CODECS:
        return data
    if config.length_size:
        data = length_prefixed_to_annexb(data, config.length_size)
    if first_keyframe and config.parameter_sets:
        wanted = H264_PARAMETER_SETS if config.codec == "h264" else HEVC_PARAMETER_SETS
        if not wanted <= nal_types(data, config.codec):
            data = config.parameter_sets + data
    return data
