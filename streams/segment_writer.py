"""One segment file being written: stream copy of :class:`streams.packet.MediaPacket` into fragmented MP4.

The output stream is built from the connection's :class:`StreamFormat` (codec name, width, height, time base)
with ``add_mux_stream``: no codec context is opened, so nothing is encoded (``add_stream("h264")`` would open
libx264, which replaces the camera's SPS/PPS in the ``avcC`` record with its own). H.264/HEVC go in as
Annex B (see :mod:`streams.bitstream`): the muxer takes the parameter sets of the first keyframe for
``avcC``/``hvcC``.

The file is ``<name>.mp4.partial`` while open. The muxer runs on the caller's thread (the camera's ingest
thread in the station); what it outputs goes through a :class:`streams.disk_writer.QueuedFile` to the file
jobs (``jobs``: the station's :class:`streams.disk_writer.DiskWriter` thread, or :data:`INLINE`), so the
caller never waits for the disk. The station's :class:`streams.disk_sync.DiskSyncer` makes the files durable
about once a second (one ``syncfs`` for all cameras). :meth:`SegmentWriter.finish` writes the trailer and
queues the close: ``fsync``, SHA-256 (of the bytes as they were written), rename to ``<name>.mp4``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, BinaryIO

import av

from storage.layout import partial_path
from streams.bitstream import byte_stream_config, to_annexb
from streams.disk_writer import INLINE, FileJobs, QueuedFile
from streams.packet import DemuxedPacket, MediaPacket, StreamFormat, demuxed
from streams.segment_file import HashingFile, sync_directory

logger = logging.getLogger(__name__)

FileOpener = Callable[[Path], BinaryIO]

#: The muxer's I/O buffer. A fragment (about 1 s, 0.5 MB at 4 Mbit/s) goes to the file in one write instead of
#: sixteen through PyAV's default 32 KiB buffer: each write is a call back into Python (and the GIL) from the
#: muxer. Crash safety is unchanged: ``flush_packets`` empties the buffer after every fragment.
MUX_BUFFER_BYTES = 1024 * 1024
#: Footage a file may hold back while the disk is slow before the recorder gives up on it (about 30 s at
#: 4 Mbit/s); the camera thread never waits for the disk, so this bounds the memory a stuck disk costs.
MAX_BACKLOG_BYTES = 16 * 1024 * 1024


def open_new_file(path: Path) -> BinaryIO:
    """Create ``path`` exclusively (never overwrite footage), unbuffered: the muxer buffers already."""
    return path.open("xb", buffering=0)


class UnsupportedStreamError(ValueError):
    """The stream's format cannot be recorded (unknown codec, malformed extradata)."""


class MalformedPacketError(ValueError):
    """One packet could not be converted for muxing; the recorder drops it and goes on."""


class SegmentWriteError(OSError):
    """Writing the segment file failed (disk full, I/O error, muxer refused the data); ``errno`` is kept."""


@dataclass(frozen=True, slots=True)
class WrittenFile:
    path: Path
    bytes: int
    sha256: str
    packets: int
    keyframes: int


def mux_options(fragment_seconds: float) -> dict[str, str]:
    """Fragmented MP4: empty ``moov`` first, then a fragment at every keyframe and ``fragment_seconds``."""
    return {
        "movflags": "frag_keyframe+empty_moov+default_base_moof",
        "frag_duration": str(max(1, round(fragment_seconds * 1_000_000))),
        "flush_packets": "1",
    }


class SegmentWriter:
    """Writes one ``.partial`` file; not thread-safe (one thread muxes into it; its I/O runs on ``jobs``)."""

    def __init__(
        self,
        *,
        path: Path,
        stream_format: StreamFormat,
        fragment_seconds: float = 1.0,
        opener: FileOpener = open_new_file,
        fsync: bool = True,
        jobs: FileJobs = INLINE,
        max_backlog_bytes: int = MAX_BACKLOG_BYTES,
    ) -> None:
        self.path = path
        self.partial = partial_path(path)
        self.format = stream_format
        self.time_base: Fraction = stream_format.time_base
        self._fsync = fsync  # at close (file and directory); while writing, the DiskSyncer's job
        self.packets = 0
        self.keyframes = 0
        self._closed = False
        try:
            self._bytestream = byte_stream_config(stream_format.codec, stream_format.extradata)
        except ValueError as exc:
            raise UnsupportedStreamError(f"cannot record {stream_format.codec}: {exc}") from exc
        try:
            self.partial.parent.mkdir(parents=True, exist_ok=True)
            self._target = HashingFile(opener(self.partial), self.partial)
        except OSError as exc:
            raise SegmentWriteError(
                exc.errno, f"cannot create {self.partial}: {exc.strerror or exc}"
            ) from exc
        self._jobs = jobs
        self._file = QueuedFile(self._target, jobs, max_backlog_bytes=max_backlog_bytes)
        try:
            self._container: Any = av.open(
                self._file,
                mode="w",
                format="mp4",
                options=mux_options(fragment_seconds),
                buffer_size=MUX_BUFFER_BYTES,
            )
            self._stream = self._build_stream(stream_format)
        except ValueError as exc:
            self._close_target()
            raise UnsupportedStreamError(f"cannot record {stream_format.codec}: {exc}") from exc
        except (av.error.FFmpegError, OSError) as exc:
            self._close_target()
            raise _write_error(exc, f"cannot start {self.partial.name}") from exc

    def _build_stream(self, fmt: StreamFormat) -> Any:
        rate = Fraction(fmt.average_fps).limit_denominator(1001) if fmt.average_fps else None
        stream = self._container.add_mux_stream(fmt.codec, rate=rate, width=fmt.width, height=fmt.height)
        stream.time_base = fmt.time_base
        return stream

    @property
    def bytes_written(self) -> int:
        """Bytes the muxer has output so far (some may still be on their way to the disk)."""
        return self._file.tell()

    @property
    def backlog_bytes(self) -> int:
        """Bytes waiting for the disk."""
        return self._file.pending_bytes

    def write(self, packet: MediaPacket, *, pts: int, dts: int) -> None:
        """Mux one packet with timestamps already rebased to this file (``format.time_base``)."""
        self.write_packet(demuxed(packet), pts=pts, dts=dts)

    def write_packet(self, packet: DemuxedPacket, *, pts: int, dts: int) -> None:
        """Mux a demuxed packet itself (its stream and timestamps are changed), timestamps rebased to this
        file. Only the first packet of a file, or a stream that is not Annex B, needs a converted copy."""
        if self.packets == 0 or self._bytestream.length_size:
            try:
                data = to_annexb(bytes(packet), self._bytestream, first_keyframe=self.packets == 0)
            except ValueError as exc:
                raise MalformedPacketError(f"{self.partial.name}: packet dropped: {exc}") from exc
            out: DemuxedPacket = av.Packet(data)
            if packet.duration:
                out.duration = packet.duration
            out.is_keyframe = packet.is_keyframe
            packet = out
        packet.pts = pts
        packet.dts = dts
        packet.time_base = self.time_base
        packet.stream = self._stream
        try:
            self._container.mux(packet)
        except (av.error.FFmpegError, OSError) as exc:
            raise _write_error(exc, f"cannot write {self.partial.name}") from exc
        self.packets += 1
        if packet.is_keyframe:
            self.keyframes += 1

    def finish(self, done: Finished) -> None:
        """Write the trailer here, then, on the file jobs after every queued write: sync, hash, rename
        ``.partial`` to ``.mp4``, and call ``done`` with the result (on the thread that ran the job)."""
        if self._closed:
            raise RuntimeError(f"{self.partial.name} already closed")
        self._closed = True
        packets, keyframes = self.packets, self.keyframes
        try:
            self._container.close()
        except (av.error.FFmpegError, OSError) as exc:
            error = _write_error(exc, f"cannot finish {self.partial.name}")
            self._jobs.submit(lambda: self._fail(error, done))
            return
        self._jobs.submit(lambda: self._finish_now(packets, keyframes, done))

    def close(self) -> WrittenFile:
        """:meth:`finish` and wait for it; raises SegmentWriteError."""
        finished = threading.Event()
        results: list[WrittenFile | SegmentWriteError] = []

        def done(result: WrittenFile | SegmentWriteError) -> None:
            results.append(result)
            finished.set()

        self.finish(done)
        finished.wait()
        if isinstance(results[0], SegmentWriteError):
            raise results[0]
        return results[0]

    def _finish_now(self, packets: int, keyframes: int, done: Finished) -> None:
        target = self._target
        try:
            if self._file.error is not None:
                raise self._file.error
            if self._fsync:
                target.sync()
            digest = target.sha256()
            size = target.bytes_written
            target.close()
            self.partial.replace(self.path)
            if self._fsync:
                sync_directory(self.path.parent)
        except OSError as exc:
            self._fail(_write_error(exc, f"cannot finish {self.partial.name}"), done)
            return
        done(WrittenFile(path=self.path, bytes=size, sha256=digest, packets=packets, keyframes=keyframes))

    def _fail(self, error: SegmentWriteError, done: Finished) -> None:
        self._close_target()
        done(error)

    def abort(self, then: Callable[[], None] | None = None) -> None:
        """Give up on the file after an error; the ``.partial`` stays for :func:`recover_partial`. ``then``
        runs on the file jobs once the file is closed (queued writes done or dropped)."""
        if not self._closed:
            self._closed = True
            try:
                self._container.close()
            except (av.error.FFmpegError, OSError) as exc:
                logger.debug("%s: closing after an error failed too: %s", self.partial.name, exc)

        def close_then() -> None:
            self._close_target()
            if then is not None:
                then()

        self._jobs.submit(close_then)

    def _close_target(self) -> None:
        try:
            self._target.close()
        except OSError as exc:
            logger.warning("%s: closing the file failed: %s", self.partial.name, exc)


Finished = Callable[[WrittenFile | SegmentWriteError], None]  # a file's close, done or failed


def _write_error(exc: BaseException, message: str) -> SegmentWriteError:
    errno = getattr(exc, "errno", None)
    if isinstance(exc.__context__, OSError) and exc.__context__.errno is not None:
        errno = exc.__context__.errno
    detail = getattr(exc, "strerror", None) or str(exc)
    return SegmentWriteError(errno, f"{message}: {detail}")
