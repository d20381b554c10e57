"""Snapshots: the newest keyframe of a camera stream, decoded on demand to a JPEG.

:class:`KeyframeKeeper`, a sink of the camera's fan-out, keeps only the newest keyframe (and its format).
:func:`encode_snapshot` decodes that one packet and encodes a JPEG with PyAV's MJPEG encoder, optionally
scaled down for thumbnails. :class:`SnapshotCache` keeps each result for a short time (``max_age_s``) so a
wall of thumbnails polled by several clients decodes each keyframe once.
Nothing here decodes the stream continuously.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import av

from streams.fanout import Fanout, StreamStarted, StreamStopped
from streams.packet import DemuxedPacket, MediaPacket, StreamFormat, media_packet

log = logging.getLogger(__name__)

JPEG_QSCALE: Final = 4  # MJPEG quantiser: 2 (best) .. 31; 4 is visually clean at a modest size


class SnapshotUnavailableError(LookupError):
    """No keyframe has arrived yet for this camera stream (camera offline or just connecting)."""


class SnapshotDecodeError(ValueError):
    """The keyframe could not be decoded into a picture."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    camera_id: str
    stream: str
    jpeg: bytes
    width: int
    height: int
    ts_utc: datetime  # presentation time of the frame
    online: bool  # False when the stream stopped after this keyframe (the picture is the last one seen)


def plan_thumbnail_size(width: int, height: int, max_width: int | None) -> tuple[int, int]:
    """Scale down (never up) to ``max_width``, keeping the aspect ratio, even sizes for 4:2:0 JPEG."""
    if max_width is None or width <= max_width:
        return width, height
    scaled_height = max(2, round(height * max_width / width))
    return max(2, max_width - max_width % 2), scaled_height - scaled_height % 2


def encode_snapshot(packet: MediaPacket, *, max_width: int | None = None) -> tuple[bytes, int, int]:
    """Decode one keyframe and return ``(jpeg, width, height)``; raises SnapshotDecodeError."""
    fmt = packet.format
    try:
        decoder: Any = av.CodecContext.create(fmt.codec, "r")
        if fmt.extradata:
            decoder.extradata = fmt.extradata
        source = av.Packet(packet.data)
        source.pts = packet.pts
        frames = list(decoder.decode(source)) + list(decoder.decode(None))
    except av.FFmpegError as exc:
        raise SnapshotDecodeError(f"{fmt.camera_id}/{fmt.stream}: cannot decode keyframe: {exc}") from exc
    if not frames:
        raise SnapshotDecodeError(f"{fmt.camera_id}/{fmt.stream}: keyframe decoded to no picture")
    frame = frames[-1]
    width, height = plan_thumbnail_size(frame.width, frame.height, max_width)
    picture = frame.reformat(width=width, height=height, format="yuvj420p")
    encoder: Any = av.CodecContext.create("mjpeg", "w")
    encoder.width, encoder.height = width, height
    encoder.pix_fmt = "yuvj420p"
    encoder.time_base = fmt.time_base
    encoder.qscale = JPEG_QSCALE
    picture.pts = 0
    data = b"".join(bytes(p) for p in encoder.encode(picture)) + b"".join(
        bytes(p) for p in encoder.encode(None)
    )
    if not data:
        raise SnapshotDecodeError(f"{fmt.camera_id}/{fmt.stream}: JPEG encoder returned nothing")
    return data, width, height


class KeyframeKeeper:
    """Keeps the newest keyframe of one camera stream: a fan-out sink (:class:`streams.fanout.PacketSink`).

    It runs on the camera's ingest thread and copies a keyframe's bytes (one every GOP, 1-2 s) and nothing
    else: no thread, no queue and no wake-up per packet. It used to read its own subscription in a thread
    of its own, which cost every camera a packet copy and a thread hand-off 25 times a second, all day,
    for a thumbnail. It never raises into the ingest thread.
    """

    def __init__(self, *, camera_id: str, stream: str) -> None:
        self.camera_id = camera_id
        self.stream = stream
        self._lock = threading.Lock()
        self._keyframe: MediaPacket | None = None
        self._online = False
        self._fanout: Fanout | None = None

    def attach(self, fanout: Fanout) -> None:
        """Keep ``fanout``'s keyframes from now on (before the recorder, which rewrites timestamps)."""
        if self._fanout is not None:
            raise RuntimeError(f"keyframe keeper {self.camera_id}/{self.stream} is already attached")
        self._fanout = fanout
        fanout.add_sink(self, first=True)

    def stop(self) -> None:
        fanout, self._fanout = self._fanout, None
        if fanout is not None:
            fanout.remove_sink(self)

    def latest(self) -> tuple[MediaPacket | None, bool]:
        with self._lock:
            return self._keyframe, self._online

    # PacketSink, on the ingest thread ----------------------------------------------------------------

    def on_control(self, item: StreamStarted | StreamStopped) -> None:
        with self._lock:
            self._online = isinstance(item, StreamStarted)

    def on_packet(self, packet: DemuxedPacket, fmt: StreamFormat, ts_s: float, arrival_s: float) -> None:
        if not packet.is_keyframe:
            return
        try:
            keyframe = media_packet(packet, fmt, ts_s, arrival_s)
        except (ValueError, OverflowError, OSError) as exc:  # a timestamp out of range: keep the last one
            log.warning("%s/%s: keyframe not kept: %s", self.camera_id, self.stream, exc)
            return
        with self._lock:
            self._keyframe, self._online = keyframe, True


Monotonic = Callable[[], float]


class SnapshotCache:
    """Snapshots made from each keeper's newest keyframe, kept ``max_age_s`` (thread-safe)."""

    def __init__(self, *, max_age_s: float = 1.5, monotonic: Monotonic = time.monotonic) -> None:
        self.max_age_s = max_age_s
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str, int | None], tuple[float, Snapshot]] = {}
        self.encoded = 0  # how many JPEGs were made (the rest came from the cache)

    def get(self, keeper: KeyframeKeeper, *, max_width: int | None = None) -> Snapshot:
        """Raises SnapshotUnavailableError (no keyframe yet) or SnapshotDecodeError. Blocking (decodes)."""
        key = (keeper.camera_id, keeper.stream, max_width)
        now = self._monotonic()
        keyframe, online = keeper.latest()
        with self._lock:
            cached = self._entries.get(key)
        if cached is not None and now - cached[0] < self.max_age_s:
            return cached[1]
        if keyframe is None:
            raise SnapshotUnavailableError(f"{keeper.camera_id}/{keeper.stream}: no picture received yet")
        if cached is not None and cached[1].ts_utc == keyframe.ts_utc:
            snapshot = cached[1] if cached[1].online == online else _with_online(cached[1], online)
        else:
            jpeg, width, height = encode_snapshot(keyframe, max_width=max_width)
            snapshot = Snapshot(
                camera_id=keeper.camera_id,
                stream=keeper.stream,
                jpeg=jpeg,
                width=width,
                height=height,
                ts_utc=keyframe.ts_utc,
                online=online,
            )
            with self._lock:
                self.encoded += 1
        with self._lock:
            self._entries[key] = (now, snapshot)
        return snapshot


def _with_online(snapshot: Snapshot, online: bool) -> Snapshot:
    return Snapshot(
        camera_id=snapshot.camera_id,
        stream=snapshot.stream,
        jpeg=snapshot.jpeg,
        width=snapshot.width,
        height=snapshot.height,
        ts_utc=snapshot.ts_utc,
        online=online,
    )
