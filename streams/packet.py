"""What a camera connection delivers to its consumers (recorder, live viewers, frame sampler).

Packets are plain immutable values: consumers build their own ``av.Packet`` from ``data`` when they need one,
so no consumer can disturb another by setting ``packet.stream`` or timestamps.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from typing import TYPE_CHECKING, Any, TypeAlias

import av

if TYPE_CHECKING:
    #: A packet as the demuxer returned it (its stream is the input's, until a muxer sets its own).
    DemuxedPacket: TypeAlias = av.Packet[Any]
else:
    DemuxedPacket = av.Packet  # not subscriptable at run time


@dataclass(frozen=True, slots=True)
class StreamFormat:
    """The video stream of one connection; a reconnect may deliver a different one (new ``connection_id``)."""

    camera_id: str
    stream: str  # "main" or "sub"
    connection_id: int  # increases with every successful (re)connect of this camera stream
    codec: str  # FFmpeg codec name: "h264", "hevc", "mjpeg", ...
    width: int
    height: int
    time_base: Fraction
    extradata: bytes | None  # codec configuration (SPS/PPS for H.264) as the demuxer reported it
    average_fps: float | None


@dataclass(frozen=True, slots=True)
class MediaPacket:
    """One demuxed video packet (an access unit), stamped on arrival."""

    format: StreamFormat
    data: bytes
    pts: int | None  # in format.time_base
    dts: int | None
    duration: int | None
    is_keyframe: bool
    ts_utc: datetime  # presentation time on the wall clock: connection anchor + (pts - anchor pts)
    arrival_utc: datetime  # when the station received it

    @property
    def size(self) -> int:
        return len(self.data)


def media_packet(packet: DemuxedPacket, fmt: StreamFormat, ts_s: float, arrival_s: float) -> MediaPacket:
    """A demuxed packet as an immutable value (its bytes copied); ``ts_s``/``arrival_s`` UTC epoch seconds."""
    return MediaPacket(
        format=fmt,
        data=bytes(packet),
        pts=packet.pts,
        dts=packet.dts,
        duration=packet.duration,
        is_keyframe=packet.is_keyframe,
        ts_utc=datetime.fromtimestamp(ts_s, UTC),
        arrival_utc=datetime.fromtimestamp(arrival_s, UTC),
    )


def demuxed(packet: MediaPacket) -> DemuxedPacket:
    """A new ``av.Packet`` holding ``packet`` as the demuxer would have returned it."""
    out: DemuxedPacket = av.Packet(packet.data)
    out.pts = packet.pts
    out.dts = packet.dts
    if packet.duration is not None:
        out.duration = packet.duration
    out.time_base = packet.format.time_base
    out.is_keyframe = packet.is_keyframe
    return out
