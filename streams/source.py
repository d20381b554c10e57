"""One connection to a camera stream: open it with PyAV, demux (never decode), close it.

``open_connection(spec, connection_id)`` returns an ``RtspConnection`` for ``rtsp://``/``rtsps://`` URLs or a
``FileConnection`` for ``file:///clip.mp4`` (read in real time, looped, with continuous timestamps). PyAV
errors are translated here, once, into ``streams.error`` types whose messages have the URL redacted.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

import av
import av.error

from config.secret import redact_text, redact_url
from streams.bitstream import ANNEXB_CODECS, starts_picture
from streams.error import (
    StreamEndedError,
    StreamError,
    StreamFormatError,
    StreamOpenError,
    StreamStalledError,
    StreamUnauthorizedError,
)
from streams.packet import DemuxedPacket, StreamFormat

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """Where and how to connect. ``url`` may hold credentials: use ``redacted_url`` for anything shown."""

    camera_id: str
    stream: str  # "main" or "sub"
    url: str
    transport: str = "tcp"  # "tcp" or "udp" (RTSP only)
    open_timeout_s: float = 5.0
    read_timeout_s: float = 5.0

    def __post_init__(self) -> None:
        if self.transport not in ("tcp", "udp"):
            raise ValueError(f"transport must be 'tcp' or 'udp', not {self.transport!r}")
        if self.open_timeout_s <= 0 or self.read_timeout_s <= 0:
            raise ValueError("timeouts must be positive")

    @property
    def redacted_url(self) -> str:
        return redact_url(self.url)

    @property
    def is_file(self) -> bool:
        return urlsplit(self.url).scheme.lower() == "file"

    def __repr__(self) -> str:  # dataclass repr would show the password
        return f"SourceSpec({self.camera_id!r}, {self.stream!r}, {self.redacted_url!r}, {self.transport!r})"


class Connection(Protocol):
    format: StreamFormat

    def packets(self, stop: threading.Event) -> Iterator[DemuxedPacket]:
        """Demuxed packets (times in ``format.time_base``; H.264/HEVC as Annex B) until ``stop`` is set;
        raises StreamError subclasses when the stream breaks. The consumer owns each packet it gets."""
        ...

    def close(self) -> None: ...


def _message(exc: BaseException) -> str:
    return redact_text(str(exc)) or type(exc).__name__


def translate_open_error(exc: Exception) -> StreamError:
    """Map a PyAV/OS error raised while opening to our error tree (message redacted)."""
    message = _message(exc)
    if isinstance(exc, av.error.HTTPUnauthorizedError | av.error.HTTPForbiddenError):
        return StreamUnauthorizedError(f"unauthorized: {message}")
    if isinstance(exc, PermissionError):
        # EPERM/EACCES from the OS (a firewall rule, an unreadable file): not the camera refusing our
        # credentials, so the normal back-off applies, not the slow retry for a wrong password.
        return StreamOpenError(f"permission denied: {message}")
    if isinstance(exc, av.error.ExitError | TimeoutError):
        return StreamOpenError(f"timed out connecting: {message}")
    if isinstance(exc, av.error.HTTPNotFoundError | FileNotFoundError):
        return StreamOpenError(f"not found: {message}")
    if isinstance(exc, ConnectionRefusedError):
        return StreamOpenError(f"connection refused: {message}")
    return StreamOpenError(message)


def translate_read_error(exc: Exception) -> StreamError:
    message = _message(exc)
    if isinstance(exc, av.error.ExitError | TimeoutError):
        return StreamStalledError(f"no data within the read timeout: {message}")
    if isinstance(exc, EOFError):
        return StreamEndedError(f"stream ended: {message}")
    return StreamEndedError(f"read failed: {message}")


def _video_format(
    container: Any, camera_id: str, stream: str, connection_id: int
) -> tuple[Any, StreamFormat]:
    if not container.streams.video:
        raise StreamFormatError("no video stream")
    video = container.streams.video[0]
    ctx = video.codec_context
    codec = ctx.name if ctx is not None else None
    if not codec or codec == "none":
        raise StreamFormatError("video stream with an unknown codec")
    if video.time_base is None or video.time_base <= 0:
        raise StreamFormatError("video stream without a time base")
    rate = video.average_rate or video.base_rate or video.guessed_rate
    fmt = StreamFormat(
        camera_id=camera_id,
        stream=stream,
        connection_id=connection_id,
        codec=codec,
        width=int(ctx.width or 0),
        height=int(ctx.height or 0),
        time_base=Fraction(video.time_base),
        extradata=bytes(ctx.extradata) if ctx.extradata else None,
        average_fps=float(rate) if rate else None,
    )
    return video, fmt


def rtsp_options(spec: SourceSpec) -> dict[str, str]:
    """FFmpeg RTSP demuxer options for ``spec``; pure.

    ``timeout`` is FFmpeg's socket I/O timeout in microseconds (TCP connect and every read; UDP polling). It
    is half the read timeout because FFmpeg's H.264 parser holds one access unit until the next starts, so a
    stall surfaces only after the read that follows: detection stays within ``read_timeout_s``, and
    ``stop()`` of a worker blocked on a stalled camera returns within half of it.
    """
    return {
        "rtsp_transport": spec.transport,
        "allowed_media_types": "video",
        "timeout": str(max(1, round(spec.read_timeout_s / 2 * 1_000_000))),
        # no frame-rate probing by timestamps (20 frames): the rate comes from the SPS timing info when the
        # camera sends it, else the 25 fps default applies. A (re)connect is ~0.8 s faster (1.16 -> 0.36 s).
        "fpsprobesize": "0",
    }


class RtspConnection:
    """An open RTSP session (demux only)."""

    def __init__(self, spec: SourceSpec, connection_id: int) -> None:
        self.spec = spec
        options = rtsp_options(spec)
        try:
            # PyAV's deadline bounds the whole open; reads are bounded by FFmpeg's own socket timeout only
            # (read timeout None), so PyAV's interrupt callback returns at once without taking the GIL --
            # with a read deadline it takes the GIL on every I/O wait of every camera (half of our CPU at
            # 16 cameras went to those hand-offs).
            self._container: Any = av.open(spec.url, options=options, timeout=(spec.open_timeout_s, None))
        except (av.error.FFmpegError, OSError) as exc:
            raise translate_open_error(exc) from None  # the cause's message holds the password
        try:
            self._video, self.format = _video_format(
                self._container, spec.camera_id, spec.stream, connection_id
            )
        except StreamError:
            self._container.close()
            raise

    def packets(self, stop: threading.Event) -> Iterator[DemuxedPacket]:
        # FFmpeg's RTSP demuxer hands over the session's first keyframe before it has a timestamp (dropping
        # it would cost a whole GOP on every (re)connect), and with B-frames the packet after it has a pts
        # but no dts yet. They are held until a packet with a dts orders them, then stamped before it.
        held: list[DemuxedPacket] = []
        ticks = frame_ticks(self.format)
        try:
            for packet in whole_pictures(self._container.demux(self._video), self.format.codec):
                if held:
                    if packet.dts is None and len(held) < MAX_HELD_PACKETS:
                        held.append(packet)
                        continue
                    yield from _stamped(held, packet, ticks)
                    held = []
                elif packet.pts is None and packet.dts is None and packet.is_keyframe:
                    held.append(packet)
                    continue
                yield packet
                if stop.is_set():
                    return
        except (av.error.FFmpegError, OSError) as exc:
            raise translate_read_error(exc) from None
        raise StreamEndedError("the server ended the stream")

    def close(self) -> None:
        try:
            self._container.close()
        except (av.error.FFmpegError, OSError) as exc:
            log.debug("%s/%s: error closing: %s", self.spec.camera_id, self.spec.stream, _message(exc))


def whole_pictures(packets: Iterable[DemuxedPacket], codec: str) -> Iterator[DemuxedPacket]:
    """``packets`` without the demuxer's flush packet, a keyframe's slices joined into one packet.

    FFmpeg's H.264/HEVC parser starts a new packet at every parameter set, so a camera that repeats them
    before each slice of a keyframe (and GStreamer's ``h264parse config-interval=-1``) has each slice handed
    on as a packet of its own, all with the picture's timestamp. Recorded as they came, each became an MP4
    sample of its own (the second nudged a tick later to keep the dts increasing), decoded as a picture with
    the rest concealed -- and so was every picture that refers to it, up to the next keyframe. So a
    keyframe is held until the next packet, and the packets whose first slice continues its picture
    (:func:`streams.bitstream.starts_picture`) are appended to it; other pictures pass at once (only a
    keyframe is delayed, by one packet). Its timestamps are the first of its parts that has them (the
    session's first keyframe comes untimed; its second slice has the time).
    """
    if codec not in ANNEXB_CODECS:
        yield from (packet for packet in packets if packet.size)
        return
    parts: list[DemuxedPacket] = []  # the keyframe being gathered: its first packet, then its other slices
    try:
        for packet in packets:
            if packet.size == 0:
                continue  # the demuxer's flush packet at the end
            if parts:
                if starts_picture(bytes(packet), codec) is False:
                    parts.append(packet)
                    continue
                yield _joined(parts)
                parts = []
            if packet.is_keyframe:
                parts.append(packet)
            else:
                yield packet
    except (av.error.FFmpegError, OSError):
        if parts:
            yield _joined(parts)  # what came before the error is footage
        raise
    if parts:
        yield _joined(parts)


def _joined(parts: Sequence[DemuxedPacket]) -> DemuxedPacket:
    first = parts[0]
    if len(parts) == 1:
        return first
    joined: DemuxedPacket = av.Packet(b"".join(bytes(part) for part in parts))
    joined.pts = next((part.pts for part in parts if part.pts is not None), None)
    joined.dts = next((part.dts for part in parts if part.dts is not None), None)
    if first.duration:
        joined.duration = first.duration
    if first.time_base is not None:
        joined.time_base = first.time_base
    joined.is_keyframe = True
    joined.is_corrupt = any(part.is_corrupt for part in parts)
    return joined


def frame_ticks(fmt: StreamFormat) -> int:
    """One frame's duration in the stream's time base (25 fps when the stream does not say); pure."""
    fps = fmt.average_fps or 25.0
    return max(1, round(1 / (fps * fmt.time_base)))


MAX_HELD_PACKETS = 16  # an untimed keyframe and the packets after it without a dts, held at most

Stamp = tuple[int | None, int | None]  # (pts, dts) in the stream's time base


def plan_backdated_stamps(held: Sequence[Stamp], successor: Stamp, ticks: int) -> list[Stamp]:
    """Timestamps for ``held``: an untimed keyframe and the packets after it that have no dts, in decoding
    order; ``successor`` is the first packet after them (normally the first with a dts). Pure.

    Each missing dts is one frame before the next packet's, but never after the packet's own pts; the
    keyframe is shown one frame before the earliest pts that follows. So the dts keep increasing into the
    successor's, also with B-frames, where the packet after the keyframe is a P-frame shown several frames
    later: one frame before *its* pts (the former rule) came after the dts of the B-frames that follow, the
    ingest saw the time go backwards and started a new logical connection after two packets -- a 0.1 s
    file and a lost GOP on every (re)connect (issue 26). Times may go below zero (a dts before the first
    pts, as with B-frames in a file). Unchanged when nothing after the keyframe has a time.
    """
    after: list[Stamp] = [*held[1:], successor]
    shown = [pts for pts, _ in after if pts is not None]
    next_dts = successor[1] if successor[1] is not None else successor[0]
    if next_dts is None:
        next_dts = min(shown) if shown else None
    if next_dts is None or not held:
        return list(held)
    stamps: list[Stamp] = []
    for pts, dts in reversed(held[1:]):
        if dts is None:
            dts = next_dts - ticks if pts is None else min(pts, next_dts - ticks)
        stamps.append((dts if pts is None else pts, dts))
        next_dts = dts
    key_pts = (min(shown) if shown else next_dts) - ticks
    stamps.append((key_pts, min(key_pts, next_dts - ticks)))
    stamps.reverse()
    return stamps


def _stamped(held: Sequence[DemuxedPacket], successor: DemuxedPacket, ticks: int) -> Iterator[DemuxedPacket]:
    stamps = plan_backdated_stamps([(p.pts, p.dts) for p in held], (successor.pts, successor.dts), ticks)
    for packet, (pts, dts) in zip(held, stamps, strict=True):
        if pts is not None:
            packet.pts = pts
        if dts is not None:
            packet.dts = dts
        yield packet


def annexb_extradata(avcc: bytes) -> bytes | None:
    """SPS/PPS from an MP4 ``avcC`` record as Annex B (start codes), or None when it is not one."""
    if len(avcc) < 7 or avcc[0] != 1:
        return None
    out = bytearray()
    pos = 5
    try:
        for count_mask in (0x1F, 0xFF):
            count = avcc[pos] & count_mask
            pos += 1
            for _ in range(count):
                size = int.from_bytes(avcc[pos : pos + 2], "big")
                pos += 2
                if pos + size > len(avcc):
                    return None
                out += b"\x00\x00\x00\x01" + avcc[pos : pos + size]
                pos += size
    except IndexError:
        return None
    return bytes(out) or None


class FileConnection:
    """A local video file played in real time (paced by pts), looped, with continuous timestamps.

    MP4 H.264/HEVC is converted to Annex B with SPS/PPS in band, exactly like an RTSP camera delivers it.
    """

    def __init__(self, spec: SourceSpec, connection_id: int) -> None:
        self.spec = spec
        self.path = Path(unquote(urlsplit(spec.url).path))
        try:
            self._container: Any = av.open(str(self.path))
        except (av.error.FFmpegError, OSError) as exc:
            raise translate_open_error(exc) from None
        try:
            self._video, fmt = _video_format(self._container, spec.camera_id, spec.stream, connection_id)
        except StreamError:
            self._container.close()
            raise
        self._filter_name: str | None = None
        extradata = fmt.extradata
        if fmt.codec in ("h264", "hevc") and extradata and extradata[0] == 1:  # avcC / hvcC: MP4 style
            self._filter_name = "h264_mp4toannexb" if fmt.codec == "h264" else "hevc_mp4toannexb"
            extradata = annexb_extradata(extradata) if fmt.codec == "h264" else None
        self.format = StreamFormat(
            camera_id=fmt.camera_id,
            stream=fmt.stream,
            connection_id=fmt.connection_id,
            codec=fmt.codec,
            width=fmt.width,
            height=fmt.height,
            time_base=fmt.time_base,
            extradata=extradata,
            average_fps=fmt.average_fps,
        )

    def packets(self, stop: threading.Event) -> Iterator[DemuxedPacket]:
        offset = 0  # added to every pts/dts: grows by the clip length at each loop
        first_pts: int | None = None
        end_pts = 0  # pts just after the last packet of the current loop (before offset)
        started = time.monotonic()
        time_base = self.format.time_base
        while not stop.is_set():
            delivered = 0
            bsf = av.BitStreamFilterContext(self._filter_name, self._video) if self._filter_name else None
            try:
                for packet in self._container.demux(self._video):
                    if packet.size == 0 or packet.pts is None:
                        continue
                    if first_pts is None:
                        first_pts = packet.pts
                    duration = packet.duration or frame_ticks(self.format)
                    end_pts = max(end_pts, packet.pts + duration)
                    outputs = bsf.filter(packet) if bsf is not None else [packet]
                    for out in outputs:
                        if out.pts is not None:
                            out.pts += offset
                        if out.dts is not None:
                            out.dts += offset
                        if out.pts is not None and stop.wait(
                            max(0.0, started + float((out.pts - first_pts) * time_base) - time.monotonic())
                        ):
                            return
                        delivered += 1
                        yield out
            except (av.error.FFmpegError, OSError) as exc:
                raise translate_read_error(exc) from None
            if delivered == 0 or first_pts is None:
                raise StreamFormatError("the file has no video packets")
            offset += end_pts - first_pts
            end_pts = 0
            try:
                self._container.seek(0, stream=self._video)
            except (av.error.FFmpegError, OSError) as exc:
                raise translate_read_error(exc) from None
            log.debug("%s/%s: file looped", self.spec.camera_id, self.spec.stream)

    def close(self) -> None:
        try:
            self._container.close()
        except (av.error.FFmpegError, OSError) as exc:
            log.debug("%s/%s: error closing: %s", self.spec.camera_id, self.spec.stream, _message(exc))


def open_connection(spec: SourceSpec, connection_id: int) -> Connection:
    """Connect; raises StreamOpenError (StreamUnauthorizedError for 401/403) or StreamFormatError."""
    if spec.is_file:
        return FileConnection(spec, connection_id)
    return RtspConnection(spec, connection_id)
