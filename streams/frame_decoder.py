"""The live frame path's first step: decode one camera stream at the detection rate.

A :class:`LiveFrameDecoder` runs one named thread (``dec:<camera>``) that reads the camera's packets from a
bounded fan-out subscription (drop-oldest, batched wake-ups, so an unwatched stream keeps its read
batching), decodes them, keeps the frames due at ``fps`` (:func:`streams.frame_sampler.should_sample`) and
hands each on as plain ``(camera, ts_utc, image, stream_break)`` through ``deliver``. ``deliver`` must not
block: the detection side puts frames in its own bounded queue and drops the oldest.

Overload: when ``overloaded()`` says the consumer is behind, only keyframes are decoded (the decoder's
``skip_frame = NONKEY``), which costs a fraction of full decoding; full decoding resumes when it catches
up. Packets lost by a slow subscription, a reconnect or a new stream format restart the decoder on the
next keyframe. The recorder and live viewers never wait for any of this: they are other consumers of the
same fan-out.

Continuity: every packet is checked against the one before (:func:`streams.continuity.stream_break`: a new
connection, timestamps that jump back or forwards beyond a few frame intervals, a new picture size), and the
first frame delivered after a break carries its reason (None on frames that continue the last one), so that
detection starts its per-camera state afresh there. The first frame of all carries ``START``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import av
import av.error
import numpy as np
from numpy.typing import NDArray

from streams.continuity import StreamBreak, StreamPoint, stream_break
from streams.fanout import PacketsDropped, StreamStarted, StreamStopped, Subscription, SubscriptionClosedError
from streams.frame_sampler import should_sample
from streams.packet import MediaPacket, StreamFormat
from streams.thread_name import name_current_thread

log = logging.getLogger(__name__)

# (camera, ts_utc, BGR image, why the stream broke just before this frame or None)
FrameHandler = Callable[[str, datetime, NDArray[np.uint8], StreamBreak | None], None]


@dataclass(frozen=True, slots=True)
class DecoderStats:
    packets: int
    decoded: int  # pictures decoded
    delivered: int  # pictures handed on at the detection rate
    skipped_overload: int  # packets not decoded because the consumer was behind (keyframes only)
    errors: int
    breaks: int  # discontinuities marked on delivered frames (the start included)
    keyframes_only: bool
    width: int
    height: int


def plan_detection_size(width: int, height: int, max_width: int) -> tuple[int, int]:
    """Frames wider than ``max_width`` are scaled down for detection (even sizes); pure."""
    if width <= max_width:
        return width, height
    scaled = max(2, round(height * max_width / width))
    return max_width - max_width % 2, scaled - scaled % 2


class LiveFrameDecoder:
    def __init__(
        self,
        subscription: Subscription,
        camera_id: str,
        *,
        fps: float,
        deliver: FrameHandler,
        overloaded: Callable[[], bool] = lambda: False,
        max_width: int = 1280,
        on_thread_start: Callable[[], None] = lambda: None,
    ) -> None:
        if fps <= 0:
            raise ValueError("fps must be positive")
        self.camera_id = camera_id
        self._subscription = subscription
        self._fps = fps
        self._deliver = deliver
        self._overloaded = overloaded
        self._max_width = max_width
        self._on_thread_start = on_thread_start
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"dec:{camera_id}", daemon=True)
        self._decoder: Any = None
        self._format: StreamFormat | None = None
        self._next_due: float | None = None
        self._keyonly = False
        self._awaiting_keyframe = True
        self._packets = self._decoded = self._delivered = self._skipped = self._errors = 0
        self._size = (0, 0)
        self._picture = (0, 0)  # the decoded picture's size (before scaling for detection)
        self._last_point: StreamPoint | None = None
        self._pending_break: StreamBreak | None = None
        self._stamps: dict[int, datetime] = {}  # pts -> ts_utc of the packets given to the decoder
        self._breaks = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> bool:
        self._stop.set()
        self._subscription.close()
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    def stats(self) -> DecoderStats:
        return DecoderStats(
            packets=self._packets,
            decoded=self._decoded,
            delivered=self._delivered,
            skipped_overload=self._skipped,
            errors=self._errors,
            breaks=self._breaks,
            keyframes_only=self._keyonly,
            width=self._size[0],
            height=self._size[1],
        )

    def _run(self) -> None:
        name_current_thread(f"dec:{self.camera_id}")
        self._on_thread_start()
        while not self._stop.is_set():
            try:
                items = self._subscription.get_many(64, timeout_s=0.5)
            except SubscriptionClosedError:
                return
            for item in items:
                if isinstance(item, MediaPacket):
                    self._on_packet(item)
                elif isinstance(item, StreamStarted):
                    self._open(item.format)
                elif isinstance(item, StreamStopped):
                    self._decoder, self._format = None, None
                elif isinstance(item, PacketsDropped):
                    self._awaiting_keyframe = True  # the reference chain is broken until the next keyframe

    def _open(self, fmt: StreamFormat) -> None:
        try:
            decoder: Any = av.CodecContext.create(fmt.codec, "r")
            if fmt.extradata:
                decoder.extradata = fmt.extradata
            decoder.thread_type = "NONE"
            # A picture may come in several packets (one per slice: cameras that encode slices, and the
            # RTSP demuxer hands them on one by one, all with the picture's pts): the decoder must gather
            # them into one picture, not show each slice as a picture with the rest concealed.
            decoder.options = {"flags2": "+chunks"}
        except (av.error.FFmpegError, ValueError) as exc:
            log.error("%s: cannot decode %s for detection: %s", self.camera_id, fmt.codec, exc)
            self._decoder, self._format = None, None
            self._errors += 1
            return
        self._decoder, self._format = decoder, fmt
        self._awaiting_keyframe = True
        self._next_due = None
        self._stamps.clear()

    def _on_packet(self, packet: MediaPacket) -> None:
        self._packets += 1
        fmt = packet.format
        point = StreamPoint(packet.ts_utc.timestamp(), fmt.connection_id, fmt.width, fmt.height)
        found = stream_break(self._last_point, point, interval_s=self._interval(fmt))
        self._last_point = point
        if found is not None and self._pending_break is None:
            self._pending_break = found
        if self._decoder is None or packet.format != self._format:
            self._open(packet.format)
            if self._decoder is None:
                return
        if self._awaiting_keyframe and not packet.is_keyframe:
            return
        self._awaiting_keyframe = False
        was_keyonly = self._keyonly
        self._set_keyonly(self._overloaded())
        if was_keyonly and not self._keyonly and not packet.is_keyframe:
            # The frames since the last keyframe were not decoded: this one's references are missing.
            self._awaiting_keyframe = True
            return
        if self._keyonly and not packet.is_keyframe:
            self._skipped += 1
            return
        if packet.pts is not None:
            self._stamps[packet.pts] = packet.ts_utc
            if len(self._stamps) > 64:
                del self._stamps[next(iter(self._stamps))]
        source = av.Packet(packet.data)
        source.pts, source.dts = packet.pts, packet.dts
        source.time_base = packet.format.time_base
        try:
            frames = self._decoder.decode(source)
        except (av.error.FFmpegError, ValueError) as exc:
            self._errors += 1
            log.warning("%s: detection decoder error, waiting for a keyframe: %s", self.camera_id, exc)
            self._awaiting_keyframe = True
            return
        for frame in frames:
            self._decoded += 1
            self._on_frame(frame, packet)

    def _interval(self, fmt: StreamFormat) -> float:
        """The stream's frame interval: its announced rate when plausible, else the detection rate."""
        rate = fmt.average_fps
        return 1.0 / rate if rate is not None and 1.0 <= rate <= 120.0 else 1.0 / self._fps

    def _set_keyonly(self, keyonly: bool) -> None:
        if keyonly != self._keyonly:
            self._keyonly = keyonly
            self._decoder.skip_frame = "NONKEY" if keyonly else "DEFAULT"
            log.info("%s: detection %s", self.camera_id, "behind: keyframes only" if keyonly else "caught up")

    def _on_frame(self, frame: Any, packet: MediaPacket) -> None:
        # A picture comes out when the decoder has all of it: with its own packet, or with the next
        # picture's first packet when it came in slices. Its wall time is its own packets'.
        ts = self._stamps.pop(frame.pts, packet.ts_utc) if frame.pts is not None else packet.ts_utc
        if (frame.width, frame.height) != self._picture:
            if self._picture != (0, 0) and self._pending_break is None:
                self._pending_break = StreamBreak.RESIZE  # a new picture size inside one connection
            self._picture = (frame.width, frame.height)
        keep, self._next_due = should_sample(ts.timestamp(), self._next_due, self._fps)
        if not keep and not self._keyonly:
            return
        width, height = plan_detection_size(frame.width, frame.height, self._max_width)
        self._size = (width, height)
        picture = frame if (width, height) == (frame.width, frame.height) else frame.reformat(width, height)
        image = np.asarray(picture.to_ndarray(format="bgr24"), np.uint8)
        self._delivered += 1
        marked, self._pending_break = self._pending_break, None
        if marked is not None:
            self._breaks += 1
            if marked is not StreamBreak.START:
                log.info("%s: stream discontinuity (%s): detection starts afresh", self.camera_id, marked)
        self._deliver(self.camera_id, ts, image, marked)
