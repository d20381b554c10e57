"""Joining a keyframe's slices that the RTSP demuxer hands on as packets of their own
(:func:`streams.source.whole_pictures`) and the bitstream rule it rests on
(:func:`streams.bitstream.starts_picture`), on real H.264 packets."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import av
import pytest

from streams.bitstream import starts_picture
from streams.packet import DemuxedPacket, MediaPacket, demuxed
from streams.source import whole_pictures
from tests.support.mp4 import demux_packets
from tests.support.sliced_clip import slice_starts, write_sliced_clip

START = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("data", "codec", "expected"),
    [
        (b"\x00\x00\x00\x01\x09\xf0\x00\x00\x01\x65\x88\x84", "h264", True),  # AUD, IDR slice, first_mb 0
        (b"\x00\x00\x01\x67\x42\x00\x00\x01\x65\x48\x00", "h264", False),  # SPS, IDR slice, first_mb 1
        (b"\x00\x00\x01\x41\x9a\x00", "h264", True),  # P slice from the top
        (b"\x00\x00\x01\x41\x20\x00", "h264", False),  # P slice further down
        (b"\x00\x00\x01\x67\x42\x00\x00\x01\x68\xce", "h264", None),  # parameter sets only
        (b"\x00\x00\x01\x26\x01\xaf\x00", "hevc", True),  # IDR_W_RADL, first_slice_segment_in_pic_flag
        (b"\x00\x00\x01\x40\x01\x0c\x00\x00\x01\x26\x01\x2f", "hevc", False),  # VPS, then a later segment
        (b"\x00\x00\x01\x40\x01\x0c", "hevc", None),
        (b"", "h264", None),
    ],
)
def test_starts_picture(data: bytes, codec: str, expected: bool | None) -> None:
    assert starts_picture(data, codec) is expected


@pytest.fixture(scope="module")
def two_slice_packets(tmp_path_factory: pytest.TempPathFactory) -> list[MediaPacket]:
    """A 2-slice clip's pictures as Annex B packets (what RTSP delivers, SPS/PPS in band)."""
    clip = write_sliced_clip(tmp_path_factory.mktemp("slices") / "two.mp4", slices=2, frames=30)
    return list(demux_packets(clip, start_utc=START))


def _split(packet: MediaPacket) -> list[DemuxedPacket]:
    """The picture as the RTSP demuxer hands on a keyframe whose slices each come after parameter sets:
    one packet per slice, each with the picture's timestamps and keyframe flag."""
    if not packet.is_keyframe:  # the demuxer's parser keeps a P-frame's slices together
        return [demuxed(packet)]
    data, cut = packet.data, slice_starts(packet.data)[1]
    return [demuxed(replace(packet, data=data[:cut])), demuxed(replace(packet, data=data[cut:]))]


def test_a_keyframe_in_slices_is_joined_into_its_picture(two_slice_packets: list[MediaPacket]) -> None:
    assert [starts_picture(p.data, "h264") for p in two_slice_packets] == [True] * len(two_slice_packets)
    first = two_slice_packets[0]
    assert starts_picture(first.data[slice_starts(first.data)[1] :], "h264") is False
    split = [part for packet in two_slice_packets for part in _split(packet)]
    keyframes = sum(p.is_keyframe for p in two_slice_packets)
    assert keyframes == 2 and len(split) == len(two_slice_packets) + keyframes

    joined = list(whole_pictures(split, "h264"))

    assert [bytes(p) for p in joined] == [p.data for p in two_slice_packets]
    assert [(p.pts, p.dts, p.is_keyframe) for p in joined] == [
        (p.pts, p.dts, p.is_keyframe) for p in two_slice_packets
    ]


def test_an_untimed_first_slice_takes_the_time_of_the_next(two_slice_packets: list[MediaPacket]) -> None:
    """The session's first keyframe comes before the demuxer has a time for it; its second slice has one."""
    parts = _split(two_slice_packets[0])
    parts[0].pts = parts[0].dts = None

    [joined] = list(whole_pictures(parts, "h264"))

    assert (joined.pts, joined.dts) == (two_slice_packets[0].pts, two_slice_packets[0].dts)
    assert joined.is_keyframe and bytes(joined) == two_slice_packets[0].data


def test_only_a_keyframe_waits_for_the_next_packet(two_slice_packets: list[MediaPacket]) -> None:
    pulled: list[int] = []

    def source() -> Iterator[DemuxedPacket]:
        for index, packet in enumerate(two_slice_packets[:12]):
            pulled.append(index)
            yield demuxed(packet)

    handed: list[tuple[bool, int]] = []  # (keyframe, packets read from the demuxer when it was handed on)
    for packet in whole_pictures(source(), "h264"):
        handed.append((packet.is_keyframe, len(pulled)))
    assert handed[0] == (True, 2)  # the keyframe: once the packet after it showed it was whole
    assert handed[1:] == [(False, index + 1) for index in range(1, 12)]  # the others at once


def test_an_error_after_a_keyframe_hands_the_keyframe_on_first(two_slice_packets: list[MediaPacket]) -> None:
    def source() -> Iterator[DemuxedPacket]:
        yield demuxed(two_slice_packets[0])
        raise OSError("connection reset")

    stream = whole_pictures(source(), "h264")
    assert bytes(next(stream)) == two_slice_packets[0].data
    with pytest.raises(OSError, match="connection reset"):
        next(stream)


def test_other_codecs_pass_at_once_without_the_flush_packet() -> None:
    packets: list[av.Packet[Any]] = [av.Packet(b"\xff\xd8jpeg"), av.Packet(b"\xff\xd8jpeg2"), av.Packet()]
    for packet in packets:
        packet.is_keyframe = True
    assert [bytes(p) for p in whole_pictures(packets, "mjpeg")] == [b"\xff\xd8jpeg", b"\xff\xd8jpeg2"]


def test_a_picture_that_starts_a_new_one_is_not_joined(tmp_path: Path) -> None:
    """One-slice keyframes followed by their P-frames: nothing is joined, nothing changes."""
    clip = write_sliced_clip(tmp_path / "one.mp4", slices=1, frames=30)
    packets = list(demux_packets(clip, start_utc=START))
    out = list(whole_pictures((demuxed(p) for p in packets), "h264"))
    assert [(bytes(p), p.pts, p.dts, p.is_keyframe) for p in out] == [
        (p.data, p.pts, p.dts, p.is_keyframe) for p in packets
    ]
