"""Turn real MP4 files into the :class:`MediaPacket` stream an RTSP camera would deliver, and probe results.

``demux_packets(path, annexb=True)`` converts the file's AVCC packets to Annex B with SPS/PPS in band (what
RTSP delivers) and reports Annex B extradata, like FFmpeg's RTSP demuxer does from ``sprop-parameter-sets``;
``annexb=False`` keeps the file's own AVCC packets and ``avcC`` extradata (a ``file://`` source).
Timestamps are anchored at ``start_utc`` like ingest does: ``ts_utc = start + (pts - first pts) * time_base``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path

import av

from streams.packet import MediaPacket, StreamFormat

START_CODE = b"\x00\x00\x00\x01"


def avcc_to_annexb_extradata(avcc: bytes) -> bytes:
    """``avcC`` record -> ``00 00 00 01 SPS 00 00 00 01 PPS ...`` (RTSP sprop-parameter-sets style)."""
    if not avcc or avcc[0] != 1:
        return avcc
    out = bytearray()
    pos = 5
    count = avcc[pos] & 0x1F
    pos += 1
    for _ in range(count):
        size = int.from_bytes(avcc[pos : pos + 2], "big")
        out += START_CODE + avcc[pos + 2 : pos + 2 + size]
        pos += 2 + size
    count = avcc[pos]
    pos += 1
    for _ in range(count):
        size = int.from_bytes(avcc[pos : pos + 2], "big")
        out += START_CODE + avcc[pos + 2 : pos + 2 + size]
        pos += 2 + size
    return bytes(out)


@dataclass(frozen=True, slots=True)
class DemuxOptions:
    camera_id: str = "cam-1"
    stream: str = "main"
    connection_id: int = 1
    annexb: bool = True
    extradata: bool = True  # False: like a camera whose SDP has no sprop-parameter-sets


def stream_format_of(path: Path, options: DemuxOptions = DemuxOptions()) -> StreamFormat:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        extradata = bytes(stream.codec_context.extradata or b"")
        if options.annexb:
            extradata = avcc_to_annexb_extradata(extradata)
        return StreamFormat(
            camera_id=options.camera_id,
            stream=options.stream,
            connection_id=options.connection_id,
            codec=stream.codec_context.name,
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            time_base=Fraction(stream.time_base or Fraction(1, 90000)),
            extradata=extradata if options.extradata and extradata else None,
            average_fps=float(stream.average_rate) if stream.average_rate else None,
        )


def demux_packets(
    path: Path,
    *,
    start_utc: datetime,
    options: DemuxOptions = DemuxOptions(),
    loops: int = 1,
    pts_offset: int = 0,
) -> Iterator[MediaPacket]:
    """Every video packet of ``path`` (``loops`` times, timestamps continuing) as :class:`MediaPacket`s."""
    fmt = stream_format_of(path, options)
    time_base = fmt.time_base
    base: int | None = None
    offset = pts_offset
    for _ in range(loops):
        end = offset
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            bsf = av.BitStreamFilterContext("h264_mp4toannexb", stream) if options.annexb else None
            for raw in container.demux(stream):
                if raw.size == 0:
                    continue
                for packet in bsf.filter(raw) if bsf is not None else [raw]:
                    pts = (packet.pts if packet.pts is not None else 0) + offset
                    dts = (packet.dts if packet.dts is not None else pts - offset) + offset
                    if base is None:
                        base = pts
                    ts = start_utc + timedelta(seconds=float((pts - base) * time_base))
                    end = max(end, pts + (packet.duration or 0))
                    yield MediaPacket(
                        format=fmt,
                        data=bytes(packet),
                        pts=pts,
                        dts=dts,
                        duration=packet.duration or None,
                        is_keyframe=bool(packet.is_keyframe),
                        ts_utc=ts,
                        arrival_utc=ts,
                    )
        offset = end


@dataclass(frozen=True, slots=True)
class ProbedFile:
    packets: int
    keyframes: int
    first_is_keyframe: bool
    monotonic: bool
    duration_s: float
    decoded_frames: int
    codec: str
    width: int
    height: int
    sha256: str


def probe_file(path: Path, *, decode: bool = True) -> ProbedFile:
    """Demux (and decode) every video packet of ``path`` with PyAV: what a player would see."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        packets = keyframes = decoded = 0
        first_key = False
        monotonic = True
        last_dts: int | None = None
        first_pts: int | None = None
        end_pts = 0
        for packet in container.demux(stream):
            if packet.size == 0:
                continue
            if packets == 0:
                first_key = bool(packet.is_keyframe)
            packets += 1
            keyframes += int(packet.is_keyframe)
            if packet.dts is not None:
                monotonic = monotonic and (last_dts is None or packet.dts > last_dts)
                last_dts = packet.dts
            if packet.pts is not None:
                first_pts = packet.pts if first_pts is None else min(first_pts, packet.pts)
                end_pts = max(end_pts, packet.pts + (packet.duration or 0))
            if decode:
                decoded += len(packet.decode())
        if decode:
            decoded += len(stream.codec_context.decode(None))
        time_base = stream.time_base or Fraction(1, 90000)
        duration = float((end_pts - (first_pts or 0)) * time_base) if packets else 0.0
        return ProbedFile(
            packets=packets,
            keyframes=keyframes,
            first_is_keyframe=first_key,
            monotonic=monotonic,
            duration_s=duration,
            decoded_frames=decoded,
            codec=stream.codec_context.name,
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        )
