"""Live view tracks for WebRTC: H.264 passthrough, and a bounded transcode for what browsers cannot play.

:class:`LiveTrack` is an aiortc video track whose ``recv()`` returns ``av.Packet`` objects built from the
camera's own H.264 access units (Annex B, SPS/PPS in band), with pts on the 90 kHz RTP video clock. aiortc's
sender then only packetizes them (``encoder.pack``): nothing is decoded or encoded on the live path. Each
viewer has its own track reading its own bounded ``LATEST`` subscription, so a slow viewer skips to the
newest keyframe and a dead one costs at most ``maxsize`` queued packets.

Cameras that send H.265 or MJPEG are turned into H.264 by one :class:`TranscodeWorker` per camera stream
(at most ``max_width`` pixels wide and ``max_fps`` frames a second); it publishes its packets through its own
:class:`streams.fanout.Fanout`, so viewers of a transcoded camera use the same :class:`LiveTrack`.

RTP time (pure, :func:`plan_rtp_pts`): within a connection the 90 kHz pts follow the camera's pts exactly;
after a reconnect (new ``connection_id``) they continue from the last pts sent plus the wall-clock gap, so
the browser never sees time go backwards.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from fractions import Fraction
from typing import Any, Final

import av
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from streams.fanout import (
    Fanout,
    FanoutPolicy,
    PacketsDropped,
    StreamStarted,
    StreamStopped,
    Subscription,
    SubscriptionClosedError,
)
from streams.packet import MediaPacket, StreamFormat
from streams.thread_name import name_current_thread

log = logging.getLogger(__name__)

VIDEO_CLOCK_RATE: Final = 90_000
VIDEO_TIME_BASE: Final = Fraction(1, VIDEO_CLOCK_RATE)
WEBRTC_CODECS: Final = frozenset({"h264"})  # what we can hand to a browser without transcoding
DEFAULT_FRAME_TICKS: Final = VIDEO_CLOCK_RATE // 25


def is_webrtc_playable(codec: str | None) -> bool:
    """True when packets of ``codec`` can be sent to a browser as they are (unknown: assume H.264)."""
    return codec is None or codec in WEBRTC_CODECS


# RTP clock (pure) ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RtpClock:
    """Where the 90 kHz output clock stands: the connection it follows and how it maps its pts."""

    connection_id: int | None = None
    first_pts: int = 0  # first pts of this connection, in its own time base
    base: int = 0  # output pts that first_pts maps to
    last_out: int | None = None  # last output pts
    last_ts_utc: datetime | None = None


def to_video_clock(pts: int, time_base: Fraction) -> int:
    return round(pts * time_base * VIDEO_CLOCK_RATE)


def plan_rtp_pts(clock: RtpClock, packet: MediaPacket) -> tuple[RtpClock, int]:
    """The packet's pts on the 90 kHz clock, and the clock after it. Output never goes backwards."""
    pts = packet.pts if packet.pts is not None else clock.first_pts
    fmt = packet.format
    if clock.connection_id != fmt.connection_id:
        if clock.last_out is None:
            base = 0
        else:
            gap = DEFAULT_FRAME_TICKS
            if clock.last_ts_utc is not None:
                gap = max(gap, round((packet.ts_utc - clock.last_ts_utc).total_seconds() * VIDEO_CLOCK_RATE))
            base = clock.last_out + gap
        clock = RtpClock(connection_id=fmt.connection_id, first_pts=pts, base=base)
    out = clock.base + to_video_clock(pts - clock.first_pts, fmt.time_base)
    if clock.last_out is not None and out <= clock.last_out:
        out = clock.last_out + 1  # a camera repeating or reordering pts: keep RTP time monotonic
    return replace(clock, last_out=out, last_ts_utc=packet.ts_utc), out


# The track -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LiveTrackStats:
    packets: int
    keyframes: int
    bytes: int
    dropped: int  # packets this viewer lost because it was slow (its subscription skipped them)
    skipped_unplayable: int  # packets of a codec the browser cannot take (camera changed codec)
    frames_encoded: int  # always 0: this track never returns raw frames
    first_packet_monotonic: float | None
    last_arrival_utc: datetime | None


PacketHook = Callable[[MediaPacket, int], None]


class LiveTrack(MediaStreamTrack):
    """A WebRTC video track that passes a camera's H.264 packets through, one viewer per track."""

    kind = "video"

    def __init__(
        self,
        subscription: Subscription,
        *,
        camera_id: str,
        on_packet: PacketHook | None = None,
    ) -> None:
        super().__init__()
        self.camera_id = camera_id
        self._subscription = subscription
        self.on_packet = on_packet
        self._clock = RtpClock()
        self._packets = 0
        self._keyframes = 0
        self._bytes = 0
        self._dropped = 0
        self._unplayable = 0
        self._first_packet_monotonic: float | None = None
        self._last_arrival_utc: datetime | None = None
        self.format: StreamFormat | None = None

    async def recv(self) -> av.Packet[Any]:
        """The next packet to send; raises MediaStreamError once the track or its subscription ends."""
        while True:
            if self.readyState != "live":
                raise MediaStreamError
            try:
                item = await self._subscription.get_async()
            except SubscriptionClosedError:
                self.stop()
                raise MediaStreamError from None
            if isinstance(item, StreamStarted):
                self.format = item.format
                continue
            if isinstance(item, StreamStopped):
                log.info("%s: live track waiting, stream stopped (%s)", self.camera_id, item.reason)
                continue
            if isinstance(item, PacketsDropped):
                self._dropped += item.count
                continue
            if not is_webrtc_playable(item.format.codec):
                self._unplayable += 1
                continue
            return self._to_av(item)

    def _to_av(self, item: MediaPacket) -> av.Packet[Any]:
        self._clock, pts = plan_rtp_pts(self._clock, item)
        packet = av.Packet(item.data)
        packet.pts = pts
        packet.dts = pts
        packet.time_base = VIDEO_TIME_BASE
        packet.is_keyframe = item.is_keyframe
        self._packets += 1
        self._bytes += item.size
        self._keyframes += int(item.is_keyframe)
        self._last_arrival_utc = item.arrival_utc
        if self._first_packet_monotonic is None:
            self._first_packet_monotonic = time.monotonic()
        if self.on_packet is not None:
            self.on_packet(item, pts)
        return packet

    def stop(self) -> None:
        super().stop()
        self._subscription.close()

    def queued(self) -> int:
        """Packets waiting for this viewer's sender."""
        return self._subscription.stats().queued

    def stats(self) -> LiveTrackStats:
        return LiveTrackStats(
            packets=self._packets,
            keyframes=self._keyframes,
            bytes=self._bytes,
            dropped=self._subscription.stats().dropped,
            skipped_unplayable=self._unplayable,
            frames_encoded=0,
            first_packet_monotonic=self._first_packet_monotonic,
            last_arrival_utc=self._last_arrival_utc,
        )


# Transcode fallback -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TranscodePolicy:
    max_width: int = 640
    max_fps: float = 10.0
    bitrate_bps: int = 800_000
    keyframe_interval_s: float = 2.0


def plan_transcode_size(width: int, height: int, max_width: int) -> tuple[int, int]:
    """Output size: at most ``max_width`` wide, same aspect ratio, even dimensions (H.264 4:2:0)."""
    if width <= 0 or height <= 0:
        raise ValueError(f"invalid frame size {width}x{height}")
    if width > max_width:
        height = round(height * max_width / width)
        width = max_width
    return max(2, width - width % 2), max(2, height - height % 2)


def should_emit_frame(last_emitted_s: float | None, frame_s: float, max_fps: float) -> bool:
    """Frame-rate limit on stream time: emit when at least 1/max_fps passed since the last emitted frame."""
    if last_emitted_s is None or frame_s < last_emitted_s:
        return True
    return frame_s - last_emitted_s >= (1.0 / max_fps) * 0.999


INTRA_ONLY_CODECS: Final = frozenset({"mjpeg", "jpeg2000", "prores"})


class TranscodeWorker:
    """Turns one camera stream the browser cannot play into bounded H.264, published through a fan-out.

    Runs in its own thread (``transcode-<camera>-<stream>``) from :meth:`start` until :meth:`stop`. Only what
    is needed is decoded: for intra-only codecs (MJPEG) just the frames that will be sent; for inter codecs
    (H.265) every frame is decoded, but only ``max_fps`` of them are scaled and encoded.
    """

    def __init__(
        self,
        source: Subscription,
        *,
        camera_id: str,
        stream: str,
        policy: TranscodePolicy | None = None,
    ) -> None:
        self.camera_id = camera_id
        self.stream = stream
        self.policy = policy or TranscodePolicy()
        self.name = f"transcode-{camera_id}-{stream}"
        self._source = source
        self._fanout = Fanout(self.name)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._connection_id = 0
        self.frames_decoded = 0
        self.frames_encoded = 0
        self.errors = 0

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError(f"{self.name} was already started")
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        self._source.close()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def subscribe(self, name: str, *, maxsize: int = 64) -> Subscription:
        return self._fanout.subscribe(name, policy=FanoutPolicy.LATEST, maxsize=maxsize)

    @property
    def fanout(self) -> Fanout:
        return self._fanout

    def _run(self) -> None:
        name_current_thread(f"tx:{self.camera_id}:{self.stream}")
        session: _TranscodeSession | None = None
        try:
            for item in self._source:
                if self._stop.is_set():
                    break
                if isinstance(item, StreamStarted):
                    session = self._begin(item, session)
                elif isinstance(item, StreamStopped):
                    if session is not None:
                        self._fanout.publish(
                            StreamStopped(session.out_format, item.at_utc, item.reason, None)
                        )
                    session = None
                elif isinstance(item, MediaPacket) and session is not None:
                    self._transcode(session, item)
        finally:
            if session is not None:
                self._fanout.publish(StreamStopped(session.out_format, session.last_at, "stopped", None))
            self._fanout.close()
            log.info("%s/%s: transcoder stopped", self.camera_id, self.stream)

    def _begin(self, started: StreamStarted, previous: _TranscodeSession | None) -> _TranscodeSession:
        if previous is not None:
            self._fanout.publish(StreamStopped(previous.out_format, started.at_utc, "reconnected", None))
        self._connection_id += 1
        fmt = started.format
        width, height = plan_transcode_size(fmt.width or 640, fmt.height or 360, self.policy.max_width)
        out_format = StreamFormat(
            camera_id=fmt.camera_id,
            stream=fmt.stream,
            connection_id=self._connection_id,
            codec="h264",
            width=width,
            height=height,
            time_base=VIDEO_TIME_BASE,
            extradata=None,
            average_fps=min(fmt.average_fps or self.policy.max_fps, self.policy.max_fps),
        )
        session = _TranscodeSession(fmt, out_format, self.policy, started.at_utc)
        self._fanout.publish(StreamStarted(out_format, started.at_utc))
        log.info(
            "%s/%s: transcoding %s %dx%d to H.264 %dx%d at <= %g fps",
            self.camera_id,
            self.stream,
            fmt.codec,
            fmt.width,
            fmt.height,
            width,
            height,
            self.policy.max_fps,
        )
        return session

    def _transcode(self, session: _TranscodeSession, packet: MediaPacket) -> None:
        try:
            outputs = session.feed(packet)
        except av.FFmpegError as exc:
            self.errors += 1
            log.warning("%s/%s: transcode error at pts %s: %s", self.camera_id, self.stream, packet.pts, exc)
            return
        self.frames_decoded = self.frames_decoded + session.take_decoded()
        for out in outputs:
            self.frames_encoded += 1
            self._fanout.publish(out)


class _TranscodeSession:
    """Decoder and encoder of one connection (a reconnect may change codec or size)."""

    def __init__(
        self, source: StreamFormat, out_format: StreamFormat, policy: TranscodePolicy, at: datetime
    ) -> None:
        self.source = source
        self.out_format = out_format
        self.policy = policy
        self.last_at = at
        self._intra_only = source.codec in INTRA_ONLY_CODECS
        self._decoder: Any = av.CodecContext.create(source.codec, "r")
        if source.extradata:
            self._decoder.extradata = source.extradata
        self._encoder: Any = av.CodecContext.create("libx264", "w")
        self._encoder.width = out_format.width
        self._encoder.height = out_format.height
        self._encoder.pix_fmt = "yuv420p"
        self._encoder.time_base = VIDEO_TIME_BASE
        self._encoder.framerate = Fraction(round(policy.max_fps))
        self._encoder.bit_rate = policy.bitrate_bps
        self._encoder.gop_size = max(1, round(policy.keyframe_interval_s * policy.max_fps))
        self._encoder.max_b_frames = 0
        self._encoder.profile = "Constrained Baseline"
        self._encoder.options = {
            "preset": "ultrafast",
            "tune": "zerolatency",
            "x264-params": "repeat-headers=1:bframes=0:scenecut=0:sliced-threads=0",
        }
        self._last_emitted_s: float | None = None
        self._decoded = 0
        self._pending: dict[int, MediaPacket] = {}  # pts -> source packet, for the output's timestamps

    def take_decoded(self) -> int:
        count, self._decoded = self._decoded, 0
        return count

    def feed(self, packet: MediaPacket) -> list[MediaPacket]:
        self.last_at = packet.arrival_utc
        frame_s = float((packet.pts or 0) * self.source.time_base)
        wanted = should_emit_frame(self._last_emitted_s, frame_s, self.policy.max_fps)
        if self._intra_only and not wanted:
            return []  # nothing depends on this frame: do not even decode it
        src = av.Packet(packet.data)
        src.pts = packet.pts
        src.dts = packet.dts
        src.time_base = self.source.time_base
        outputs: list[MediaPacket] = []
        for frame in self._decoder.decode(src):
            self._decoded += 1
            frame_s = float(frame.pts * self.source.time_base) if frame.pts is not None else frame_s
            if not should_emit_frame(self._last_emitted_s, frame_s, self.policy.max_fps):
                continue
            self._last_emitted_s = frame_s
            outputs.extend(self._encode(frame, packet))
        return outputs

    def _encode(self, frame: Any, source: MediaPacket) -> list[MediaPacket]:
        scaled = frame.reformat(width=self.out_format.width, height=self.out_format.height, format="yuv420p")
        pts = to_video_clock(frame.pts if frame.pts is not None else (source.pts or 0), self.source.time_base)
        scaled.pts = pts
        scaled.time_base = VIDEO_TIME_BASE
        self._pending[pts] = source
        out: list[MediaPacket] = []
        for encoded in self._encoder.encode(scaled):
            if encoded.size == 0:
                continue
            origin = self._pending.pop(encoded.pts, source) if encoded.pts is not None else source
            out.append(
                MediaPacket(
                    format=self.out_format,
                    data=bytes(encoded),
                    pts=encoded.pts,
                    dts=encoded.dts,
                    duration=None,
                    is_keyframe=bool(encoded.is_keyframe),
                    ts_utc=origin.ts_utc,
                    arrival_utc=origin.arrival_utc,
                )
            )
        if len(self._pending) > 64:  # the encoder has no delay with zerolatency; never let this grow
            self._pending.clear()
        return out
