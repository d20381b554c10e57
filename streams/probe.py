"""Try a camera URL before it is saved: connect with the ingest's own code, wait for the first keyframe,
decode it to a JPEG, and say what the stream is (codec, resolution, frame rate) or why it failed.

:func:`probe_stream` is blocking (run it in a worker thread) and bounded by ``timeout_s`` for the open and
for every read; it opens one connection and closes it before returning. A failure is a :class:`ProbeResult`
with a machine-readable ``reason`` (:class:`ProbeReason`) and the redacted English detail, never an exception,
and never a password: errors come through :func:`streams.source.translate_open_error`, which redacts.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from enum import StrEnum

from streams.error import (
    StreamError,
    StreamFormatError,
    StreamStalledError,
    StreamUnauthorizedError,
)
from streams.packet import media_packet
from streams.snapshot import SnapshotDecodeError, encode_snapshot
from streams.source import Connection, SourceSpec, open_connection

PROBE_CAMERA_ID = "probe"
SNAPSHOT_MAX_WIDTH = 960
DEADLINE_SHARE = 0.9  # an open that failed after this share of the timeout ran into the deadline


class ProbeReason(StrEnum):
    """Why a probe failed (or ``not_h264``: it worked, but the stream is not H.264)."""

    REFUSED = "refused"
    TIMEOUT = "timeout"
    UNAUTHORIZED = "unauthorized"
    NOT_FOUND = "not_found"
    NO_VIDEO = "no_video"
    NOT_H264 = "not_h264"
    NO_PICTURE = "no_picture"
    CONNECT_FAILED = "connect_failed"


@dataclass(frozen=True, slots=True)
class ProbeResult:
    ok: bool
    reason: ProbeReason | None = None
    detail: str | None = None  # English, redacted: for the log and the audit, not for the page
    codec: str | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    jpeg: bytes | None = None
    elapsed_s: float = 0.0


def probe_reason(error: StreamError, *, hit_deadline: bool = False) -> ProbeReason:
    """The reason of an ingest error (pure). Open errors carry their kind as the first words of the message
    (:func:`streams.source.translate_open_error`); ``hit_deadline``: the attempt lasted the whole timeout
    (FFmpeg reports an interrupted RTSP handshake as "invalid data", not as a timeout)."""
    if isinstance(error, StreamUnauthorizedError):
        return ProbeReason.UNAUTHORIZED
    if isinstance(error, StreamStalledError):
        return ProbeReason.TIMEOUT
    if isinstance(error, StreamFormatError):
        return ProbeReason.NO_VIDEO
    text = str(error).lower()
    for prefix, reason in (
        ("timed out", ProbeReason.TIMEOUT),
        ("connection refused", ProbeReason.REFUSED),
        ("not found", ProbeReason.NOT_FOUND),
    ):
        if text.startswith(prefix):
            return reason
    if "401" in text or "unauthorized" in text:
        return ProbeReason.UNAUTHORIZED
    if "404" in text:
        return ProbeReason.NOT_FOUND
    return ProbeReason.TIMEOUT if hit_deadline else ProbeReason.CONNECT_FAILED


def probe_stream(url: str, *, transport: str = "tcp", timeout_s: float = 5.0) -> ProbeResult:
    """Connect to ``url``, take the first keyframe as a JPEG and describe the stream. Blocking."""
    started = time.monotonic()
    spec = SourceSpec(
        camera_id=PROBE_CAMERA_ID,
        stream="main",
        url=url,
        transport=transport,
        open_timeout_s=timeout_s,
        # FFmpeg's socket timeout is half the read timeout: keep it past the open deadline, so that a server
        # that never answers ends as "timed out" (PyAV's deadline) rather than as FFmpeg's "invalid data"
        read_timeout_s=2 * timeout_s + 1.0,
    )
    try:
        connection = open_connection(spec, 0)
    except StreamError as exc:
        elapsed = time.monotonic() - started
        reason = probe_reason(exc, hit_deadline=elapsed >= timeout_s * DEADLINE_SHARE)
        return ProbeResult(False, reason, str(exc), elapsed_s=elapsed)
    try:
        return _first_picture(connection, started, timeout_s)
    finally:
        connection.close()


def _first_picture(connection: Connection, started: float, timeout_s: float) -> ProbeResult:
    fmt = connection.format
    fps = round(fmt.average_fps, 2) if fmt.average_fps else None

    def result(reason: ProbeReason | None, detail: str | None, jpeg: bytes | None = None) -> ProbeResult:
        return ProbeResult(
            ok=reason is None,
            reason=reason,
            detail=detail,
            codec=fmt.codec,
            width=fmt.width or width,
            height=fmt.height or height,
            fps=fps,
            jpeg=jpeg,
            elapsed_s=time.monotonic() - started,
        )

    width = height = None
    deadline = started + timeout_s
    try:
        for packet in connection.packets(threading.Event()):
            if packet.is_keyframe:
                now = time.time()
                keyframe = media_packet(packet, fmt, now, now)
                jpeg, width, height = encode_snapshot(keyframe, max_width=SNAPSHOT_MAX_WIDTH)
                return result(None if fmt.codec == "h264" else ProbeReason.NOT_H264, None, jpeg)
            if time.monotonic() > deadline:
                break
    except StreamError as exc:
        return result(probe_reason(exc), str(exc))
    except SnapshotDecodeError as exc:
        return result(ProbeReason.NO_PICTURE, str(exc))
    return result(ProbeReason.TIMEOUT, f"no keyframe within {timeout_s:g} s")
