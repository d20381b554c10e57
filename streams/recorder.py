"""Continuous recording of one camera stream: keyframe-aligned fragmented-MP4 segments plus their index rows.

:class:`SegmentRecorder` consumes what the fan-out delivers (``MediaPacket``, ``StreamStarted``,
``StreamStopped`` or ``PacketsDropped``) in its own thread named
``recorder-<camera>``. It never re-encodes and never silently loses footage:

- a file starts on a keyframe (packets before the first keyframe of a connection are dropped and counted) and
  is cut at the first keyframe at or after ``segment_seconds``; consecutive files of a connection touch;
- every span without footage becomes a gap row with its reason: connection lost (``camera_unreachable``,
  ``stream_stalled``...), packets lost inside a connection (``recorder_error``), frames the camera or the
  network lost inside a connection (``stream_error``: a timestamp hole longer than ``hole_threshold_s``; the
  file goes on over the hole, playable, and a closed gap row covers exactly the hole), disk errors
  (``disk_full`` / ``disk_io_error`` / ``recorder_error``: :mod:`streams.disk_error`), retention stopping
  the camera (``evidence_only_left`` / ``disk_full``), station stop;
- index writes go through an ordered, bounded outbox (:class:`streams.index_queue.IndexQueue`): while the
  database is unreachable the files are still written and the rows follow once it is back (start-up
  reconcile indexes whatever was lost beyond that); the housekeeping thread that writes them for every
  recorder is :class:`streams.housekeeper.Housekeeper`;
- disk errors close what can be saved (the last complete fragment), raise an alarm in the status and retry
  after ``disk_retry_s`` -- the station never crashes because a disk is full;
- the file I/O (writes, ``fsync``, hashing, rename at close) runs on the file jobs given (``jobs``: the
  station's :class:`streams.disk_writer.DiskWriter` thread; :data:`~streams.disk_writer.INLINE` by
  default), so the camera's thread never waits for the disk; a disk too slow to take the footage is a disk
  error once a file holds back ``max_write_backlog_bytes`` (alarm ``disk_too_slow``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Protocol, runtime_checkable

from sqlalchemy.orm import Session

from config.schema import StationConfig
from storage.database import Database
from storage.gap import add_gap, close_gap, move_gap_start, open_gap
from storage.layout import segment_path, segment_relative_path
from storage.model import GapReason, SegmentStatus, utcnow
from storage.segment import (
    SegmentClose,
    close_segment_row,
    discard_segment,
    open_segment_row,
    update_segment_progress,
)
from streams.disk_error import disk_error_reason
from streams.disk_writer import INLINE, DiskBacklogError, FileJobs
from streams.fanout import Fanout, PacketsDropped, StreamStarted, StreamStopped, SubscriptionClosedError
from streams.housekeeper import HOUSEKEEPING_S, Housekeeper
from streams.index_queue import MAX_PENDING, RETRY_S, DbOp, IndexQueue
from streams.live_segment import FragmentMark, LiveFootage, LiveSegment
from streams.packet import DemuxedPacket, MediaPacket, StreamFormat, demuxed
from streams.segment_file import SegmentFileError, recover_partial
from streams.segment_writer import (
    MAX_BACKLOG_BYTES,
    FileOpener,
    MalformedPacketError,
    SegmentWriteError,
    SegmentWriter,
    UnsupportedStreamError,
    WrittenFile,
    open_new_file,
)
from streams.thread_name import name_current_thread

logger = logging.getLogger(__name__)

RecorderItem = MediaPacket | StreamStarted | StreamStopped | PacketsDropped
#: alarms of a disk error; a database write failing meanwhile (SQLite's, on the same full disk) keeps them
DISK_ALARMS = frozenset({"disk_full", "disk_io_error", "disk_too_slow", "recorder_error"})
BATCH_ITEMS = 64  # items the recorder thread takes from its subscription at once
DRAIN_MAX_ITEMS = 4096  # what stop() still writes from the subscription (the recorder queue is 2048)
# files kept readable until their close reaches the index: the open one and a few closing (more only while
# the database is unreachable, and then their rows are not there to be played anyway)
MAX_LIVE_FILES = 4

_STOP_REASONS: dict[str, GapReason] = {
    "unauthorized": GapReason.UNAUTHORIZED,
    "stalled": GapReason.STREAM_STALLED,
    "ended": GapReason.CAMERA_UNREACHABLE,
    "connect_failed": GapReason.CAMERA_UNREACHABLE,
    "error": GapReason.CAMERA_UNREACHABLE,
    "stopped": GapReason.STATION_STOPPED,
    "disabled": GapReason.CAMERA_DISABLED,
}


@dataclass(frozen=True, slots=True)
class TimestampHole:
    """Frames missing between two packets of one connection."""

    start_utc: datetime  # end of the last frame received
    end_utc: datetime  # start of the next frame received
    missing_frames: int

    @property
    def detail(self) -> str:
        seconds = (self.end_utc - self.start_utc).total_seconds()
        return f"{self.missing_frames} frames missing (timestamps jump {seconds:.2f} s)"


def frame_interval_s(fmt: StreamFormat, observed_s: float) -> float:
    """One frame's duration: the stream's nominal rate, else the last observed interval, else 25 fps; pure."""
    if fmt.average_fps:
        return 1.0 / fmt.average_fps
    return observed_s if observed_s > 0 else 0.04


def plan_hole(
    covered_until: datetime, next_ts: datetime, *, frame_interval_s: float, threshold_s: float
) -> TimestampHole | None:
    """The hole between footage covered until ``covered_until`` and a frame at ``next_ts``, if it is one.

    A hole is longer than ``max(threshold_s, 3 frame intervals)``; shorter jumps are jitter. Pure.
    """
    seconds = (next_ts - covered_until).total_seconds()
    if seconds <= max(threshold_s, 3 * frame_interval_s):
        return None
    missing = max(1, round(seconds / frame_interval_s)) if frame_interval_s > 0 else 1
    return TimestampHole(covered_until, next_ts, missing)


def progress_due(elapsed_s: float, settings: RecorderSettings) -> bool:
    """Whether the open segment's row is worth updating ``elapsed_s`` into the file; pure.

    Not within the last progress interval before the segment is due to close: the close writes the same
    fields a moment later. With 10 s segments and the 10 s interval this saves a third of the index writes.
    """
    return elapsed_s + settings.progress_interval_s <= settings.segment_seconds


def gap_reason_for(reason: str) -> GapReason:
    """Map an ingest stop reason (or a :class:`GapReason` value) to the gap reason stored; pure."""
    try:
        return GapReason(reason)
    except ValueError:
        return _STOP_REASONS.get(reason, GapReason.STREAM_ERROR)


class RecorderState(StrEnum):
    WAITING = "waiting_for_keyframe"  # connected or starting: the next keyframe starts a file
    RECORDING = "recording"
    NO_SIGNAL = "no_signal"  # the connection ended; a gap is open
    STOPPED_BY_RETENTION = "stopped_by_retention"  # only evidence left / disk full: not recording
    DISK_ERROR = "disk_error"  # a write failed; retrying after disk_retry_s
    UNSUPPORTED = "unsupported_stream"  # this connection's format cannot be recorded
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class RecorderSettings:
    segment_seconds: float = 60.0
    fragment_seconds: float = 1.0
    max_packet_gap_s: float = 5.0  # a silence this long inside a connection cuts the file and opens a gap
    # A shorter timestamp hole stays inside the file (an MP4 plays over it) but is logged as a closed gap row.
    # 1 s is far above the frame-to-frame jitter of a healthy camera (40 ms at 25 fps; B-frame reordering a
    # few frames) yet catches the loss of a single GOP; the effective threshold is never below 3 nominal
    # frame intervals, so a 1-2 fps camera is not reported for its own frame rate.
    hole_threshold_s: float = 1.0
    progress_interval_s: float = 10.0  # how often the open row's end and size are updated
    disk_retry_s: float = 10.0
    db_retry_s: float = RETRY_S
    max_pending_db_ops: int = MAX_PENDING  # see streams.index_queue
    fsync: bool = True
    max_write_backlog_bytes: int = MAX_BACKLOG_BYTES  # per file, while the disk is slow (see disk_writer)

    @classmethod
    def from_config(cls, config: StationConfig, camera_id: str) -> RecorderSettings:
        override = config.camera(camera_id).recording
        segment = override.segment_seconds or config.recording.segment_seconds
        return cls(segment_seconds=float(segment), fragment_seconds=config.recording.fragment_seconds)


@dataclass(frozen=True, slots=True)
class RecorderStatus:
    """A snapshot for ``/api/health`` and ``/metrics`` (``newest_footage_age_s`` is computed at snapshot)."""

    camera_id: str
    stream: str
    state: RecorderState
    current_segment: str | None  # relative path of the file being written
    current_segment_start_utc: datetime | None
    newest_footage_utc: datetime | None  # end of the newest footage written by this run
    newest_footage_age_s: float | None
    last_packet_utc: datetime | None  # arrival of the last packet received (recorded or not)
    bytes_written: int  # by this run, all files
    segments_closed: int
    packets_written: int
    packets_skipped_before_keyframe: int
    packets_dropped_not_recording: int  # received while stopped by retention or a disk error
    packets_lost_upstream: int  # reported by the fan-out (this recorder was too slow)
    packets_malformed: int
    timestamp_fixes: int  # dts that went backwards/repeated and were nudged to stay monotonic
    timestamp_holes: int  # frames missing inside a file (each logged as a stream_error gap row)
    db_pending_ops: int  # index writes waiting for the database
    write_backlog_bytes: int  # footage of the open file waiting for the disk
    gap_reason: GapReason | None  # why the camera is not recording right now (None while recording)
    stop_reason: GapReason | None  # set while retention keeps this camera stopped
    alarm: str | None  # disk_full | recorder_error | evidence_only_left | database_unreachable | ...
    last_error: str | None
    last_error_utc: datetime | None
    db_dropped_ops: int = 0  # index writes dropped: the queue was full, or the database refused them


@runtime_checkable
class ItemSource(Protocol):
    """A fan-out subscription: ``get`` returns None (``get_many`` an empty list) on timeout, and raises
    ``EOFError`` once closed and drained."""

    def get(self, timeout_s: float | None = None) -> object | None: ...

    def get_many(self, limit: int, timeout_s: float | None = None) -> Sequence[object]: ...


@dataclass
class _Segment:
    """The file being written. Times are float UTC epoch seconds (per-packet arithmetic on datetimes was a
    measurable share of a camera's CPU); ``start_utc`` is also kept as the datetime the index row holds."""

    writer: SegmentWriter
    relative: str
    format: StreamFormat
    start_utc: datetime
    start_s: float
    base_dts: int
    end_s: float
    last_ts_s: float
    tick_s: float  # float(format.time_base)
    last_dts: int | None = None
    last_interval_s: float = 0.0
    last_progress_s: float = 0.0  # stream time (UTC epoch seconds) of the last progress write
    clock_offset_s: float | None = None
    muxed: int = 0  # what the muxer had output after the previous packet (it outputs whole fragments)

    @property
    def end_utc(self) -> datetime:
        return _utc(self.end_s)

    @property
    def last_ts_utc(self) -> datetime:
        return _utc(self.last_ts_s)


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class SegmentRecorder:
    """Records one camera stream.

    In the station it is a :class:`streams.fanout.PacketSink` of its camera's fan-out (``attach``): packets
    are muxed on the ingest thread, and the recorder's own thread ``recorder-<camera>`` only does the
    housekeeping (index writes, a retention pause while no packet arrives). ``process`` takes fan-out items
    directly (tests, tools); ``start`` consumes a queue subscription in that thread instead."""

    def __init__(
        self,
        *,
        camera_id: str,
        db: Database,
        root: Path,
        settings: RecorderSettings | None = None,
        stream: str = "main",
        clock: Callable[[], datetime] = utcnow,
        opener: FileOpener = open_new_file,
        jobs: FileJobs = INLINE,
    ) -> None:
        self.camera_id = camera_id
        self.stream = stream
        self.db = db
        self.root = root
        self.settings = settings or RecorderSettings()
        self._clock = clock
        self._opener = opener
        self._jobs = jobs
        self._lock = threading.Lock()  # status fields, outbox, requests: never held across I/O
        self._work = threading.Lock()  # the segment state: whoever handles an item holds it
        self._stop_event = threading.Event()
        self._thread: threading.Thread | None = None
        self._housekeeper: Housekeeper | None = None
        self._index = IndexQueue(
            db,
            owner=camera_id,
            listener=self,
            max_pending=self.settings.max_pending_db_ops,
            retry_s=self.settings.db_retry_s,
        )
        self._disk_retry_at: float | None = None
        # a file that failed to finish on the file jobs' thread: the camera thread handles it as a disk error
        self._failed_file: SegmentWriteError | None = None
        self._pause_request: tuple[GapReason, str] | None = None
        self._pause_changed = False  # a request came in: apply it before the next packet
        self._paused: GapReason | None = None
        self._unsupported_connection: int | None = None
        self._seg: _Segment | None = None
        # files not indexed as closed yet, by relative path: what playback and export may read of them
        self._live: dict[str, LiveSegment] = {}
        self._gap_reason: GapReason | None = None
        self._gap_may_be_open = True  # until the first segment closes whatever an earlier run left open
        self._newest_end: datetime | None = None
        self._state = RecorderState.WAITING
        self._alarm: str | None = None
        self._last_error: str | None = None
        self._last_error_utc: datetime | None = None
        self._last_packet_s: float | None = None  # arrival (UTC epoch seconds) of the newest packet
        self._counters = dict.fromkeys(
            (
                "bytes",
                "segments",
                "packets",
                "skipped",
                "not_recording",
                "lost",
                "malformed",
                "fixes",
                "holes",
            ),
            0,
        )
        self._finished = False

    # ------------------------------------------------------------------ thread

    def start(self, source: ItemSource | Iterable[RecorderItem]) -> None:
        """Consume ``source`` (a subscription or any iterable of items) in thread ``recorder-<camera>``."""
        if self._thread is not None:
            raise RuntimeError(f"{self.camera_id}: recorder already started")
        self._stop_event.clear()
        self._thread = threading.Thread(
            target=self._run, args=(source,), name=f"recorder-{self.camera_id}", daemon=True
        )
        self._thread.start()

    def attach(self, fanout: Fanout, housekeeper: Housekeeper) -> None:
        """Record ``fanout``'s stream as its sink (on the ingest thread); ``housekeeper``'s thread writes the
        index and applies retention requests while no packet arrives."""
        if self._thread is not None or self._housekeeper is not None:
            raise RuntimeError(f"{self.camera_id}: recorder already started")
        self._housekeeper = housekeeper
        housekeeper.add(self)
        fanout.add_sink(self)

    def housekeep(self) -> None:
        """Between items: apply a pause/resume request, write the queued index rows."""
        if self._finished:
            return
        if self._pause_changed:
            with self._work:
                self._apply_pause_request()
        self._flush_db()

    # the PacketSink side (ingest thread) --------------------------------------------------------------

    def on_control(self, item: StreamStarted | StreamStopped) -> None:
        if self._finished:
            return
        with self._work:
            self._apply_pause_request()
            self._handle(item)

    def on_packet(self, packet: DemuxedPacket, fmt: StreamFormat, ts_s: float, arrival_s: float) -> None:
        if self._finished:
            return
        with self._work:
            if self._pause_changed:
                self._apply_pause_request()
            self._on_packet(packet, fmt, ts_s, arrival_s)

    def _run(self, source: ItemSource | Iterable[RecorderItem]) -> None:
        name_current_thread(f"rec:{self.camera_id}")
        try:
            if isinstance(source, ItemSource):
                self._run_source(source)
                return
            for item in source:
                if self._stop_event.is_set():
                    return
                self.process(item)
            self._finish(GapReason.STATION_STOPPED, "stream source ended")
        except Exception:
            logger.exception("%s: recorder thread failed", self.camera_id)
            self._note_error("recorder thread failed (see log)", alarm="recorder_error")
            raise

    def _run_source(self, source: ItemSource) -> None:
        while not self._stop_event.is_set():
            try:
                items = source.get_many(BATCH_ITEMS, timeout_s=0.5)
            except (EOFError, SubscriptionClosedError):
                self._finish(GapReason.STATION_STOPPED, "stream subscription closed")
                return
            if not items:
                self.tick()
            else:
                self.process_many(items)  # type: ignore[arg-type]
        self._drain(source)

    def _drain(self, source: ItemSource) -> None:
        """On stop, write what is already queued (a batched subscription holds up to a batch) -- bounded."""
        drained = 0
        while drained < DRAIN_MAX_ITEMS:
            try:
                items = source.get_many(min(BATCH_ITEMS, DRAIN_MAX_ITEMS - drained), timeout_s=0)
            except (EOFError, SubscriptionClosedError):
                return
            if not items:
                return
            self.process_many(items)  # type: ignore[arg-type]
            drained += len(items)

    def stop(self, *, detail: str = "station stopped", timeout_s: float = 15.0) -> None:
        """Stop the thread, close the file and open a ``station_stopped`` gap; flush index writes."""
        self._stop_event.set()
        if self._housekeeper is not None:
            self._housekeeper.remove(self)
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                logger.error("%s: recorder thread did not stop within %.0f s", self.camera_id, timeout_s)
                return
            self._thread = None
        with self._work:
            self._finish(GapReason.STATION_STOPPED, detail)
        if not self._jobs.wait_idle(timeout_s):  # the close of the last file queues its index row
            logger.error("%s: the last file was not finished within %.0f s", self.camera_id, timeout_s)
        deadline = time.monotonic() + 5.0
        while self._index.pending and time.monotonic() < deadline:
            self._index.retry_now()
            self._index.flush(wait=True)
            if self._index.pending:
                time.sleep(0.2)
        with self._lock:
            self._state = RecorderState.STOPPED

    # ------------------------------------------------------------------ retention control (any thread)

    def pause_recording(self, reason: GapReason, detail: str) -> None:
        with self._lock:
            self._pause_request = (GapReason(reason), detail)
            self._pause_changed = True

    def resume_recording(self) -> None:
        with self._lock:
            self._pause_request = None
            self._pause_changed = True

    # ------------------------------------------------------------------ status

    def status(self) -> RecorderStatus:
        now = self._clock()
        index = self._index.stats()
        with self._lock:
            seg = self._seg
            newest = seg.end_utc if seg is not None else self._newest_end
            c = self._counters
            return RecorderStatus(
                camera_id=self.camera_id,
                stream=self.stream,
                state=self._state,
                current_segment=seg.relative if seg is not None else None,
                current_segment_start_utc=seg.start_utc if seg is not None else None,
                newest_footage_utc=newest,
                newest_footage_age_s=None if newest is None else max(0.0, (now - newest).total_seconds()),
                last_packet_utc=None if self._last_packet_s is None else _utc(self._last_packet_s),
                bytes_written=c["bytes"] + (seg.writer.bytes_written if seg is not None else 0),
                segments_closed=c["segments"],
                packets_written=c["packets"],
                packets_skipped_before_keyframe=c["skipped"],
                packets_dropped_not_recording=c["not_recording"],
                packets_lost_upstream=c["lost"],
                packets_malformed=c["malformed"],
                timestamp_fixes=c["fixes"],
                timestamp_holes=c["holes"],
                db_pending_ops=index.pending,
                write_backlog_bytes=seg.writer.backlog_bytes if seg is not None else 0,
                gap_reason=self._gap_reason if seg is None else None,
                stop_reason=self._paused,
                alarm=self._alarm,
                last_error=self._last_error,
                last_error_utc=self._last_error_utc,
                db_dropped_ops=index.dropped_full + index.dropped_refused,
            )

    def live_footage(self) -> tuple[LiveFootage, ...]:
        """The readable part of each file not indexed as closed yet (the one being written, and one whose
        close is on its way to the index), oldest first: complete fragments the disk already holds."""
        with self._lock:
            live = sorted(self._live.values(), key=lambda segment: segment.start_utc)
        return tuple(footage for segment in live if (footage := segment.readable()) is not None)

    # ------------------------------------------------------------------ processing (recorder thread)

    def process(self, item: RecorderItem) -> None:
        """Handle one item from the fan-out (also usable directly, without the thread)."""
        self.process_many((item,))

    def process_many(self, items: Sequence[RecorderItem]) -> None:
        """Handle items in order, then write the index changes they caused in one transaction."""
        with self._work:
            self._apply_pause_request()
            for item in items:
                self._handle(item)
        self._flush_db()

    def _handle(self, item: RecorderItem) -> None:
        if isinstance(item, MediaPacket):
            self._on_packet(demuxed(item), item.format, item.ts_utc.timestamp(), item.arrival_utc.timestamp())
        elif isinstance(item, StreamStopped):
            detail = f"connection {item.format.connection_id} ended: {item.reason}"
            self._on_stream_end(item.last_ts_utc or item.at_utc, gap_reason_for(item.reason), detail)
        elif isinstance(item, StreamStarted):
            self._on_stream_started(item.format)
        elif isinstance(item, PacketsDropped):
            self._on_packets_dropped(item)

    def tick(self) -> None:
        """Housekeeping while no item arrives: pause/resume requests, index retries, disk retry."""
        with self._work:
            self._apply_pause_request()
        self._flush_db()

    def _on_packet(self, packet: DemuxedPacket, fmt: StreamFormat, ts: float, arrival: float) -> None:
        """One packet (``ts``/``arrival`` in UTC epoch seconds). The first branch is the usual packet of an
        open file, with nothing to decide: every check of the full path below, in its cheapest form."""
        self._last_packet_s = arrival
        seg = self._seg
        if (
            seg is not None
            and fmt is seg.format
            and self._paused is None
            and self._disk_retry_at is None
            and self._failed_file is None
            and -1.0 <= ts - seg.last_ts_s <= self.settings.max_packet_gap_s
            and ts - seg.end_s <= self.settings.hole_threshold_s
            and not (packet.is_keyframe and ts - seg.start_s >= self.settings.segment_seconds)
        ):
            self._write(packet, ts, arrival, seg)
            return
        if fmt.camera_id != self.camera_id:
            return
        failed = self._failed_file
        if failed is not None:
            self._failed_file = None
            if self._disk_retry_at is None:  # stop writing the next file too, back off, then retry
                self._on_disk_error(failed, at=self._newest_end or _utc(ts))
            seg = self._seg
        if self._paused is not None or not self._disk_ready():
            self._count("not_recording")
            return
        if self._unsupported_connection == fmt.connection_id:
            self._count("not_recording")
            return
        if seg is not None:
            if fmt != seg.format:
                self._close_segment()
                if ts - seg.end_s > self.settings.max_packet_gap_s:
                    self._open_gap(seg.end_utc, GapReason.STREAM_ERROR, "connection changed without notice")
            elif self._is_discontinuity(ts, seg):
                self._close_segment()
                silence = ts - seg.last_ts_s
                self._open_gap(seg.end_utc, GapReason.STREAM_ERROR, f"stream time jumped {silence:+.1f} s")
            else:
                self._log_hole(fmt, ts, seg)
                if packet.is_keyframe and self._segment_full(ts, seg):
                    self._close_segment(end_utc=_utc(ts), rolling=True)
        if self._seg is None:
            if not packet.is_keyframe:
                self._count("skipped")
                return
            if not self._start_segment(packet, fmt, ts, arrival):
                return
        seg = self._seg
        if seg is not None:
            self._write(packet, ts, arrival, seg)

    def _is_discontinuity(self, ts: float, seg: _Segment) -> bool:
        delta = ts - seg.last_ts_s
        return delta > self.settings.max_packet_gap_s or delta < -1.0

    def _log_hole(self, fmt: StreamFormat, ts: float, seg: _Segment) -> None:
        """Frames lost inside the connection, short of a cut: the file goes on, a closed gap row says so."""
        hole = plan_hole(
            seg.end_utc,
            _utc(ts),
            frame_interval_s=frame_interval_s(fmt, seg.last_interval_s),
            threshold_s=self.settings.hole_threshold_s,
        )
        if hole is None:
            return
        self._count("holes")
        logger.warning("%s: %s at %s", self.camera_id, hole.detail, hole.start_utc.isoformat())
        self._queue_db(
            f"gap {hole.start_utc.isoformat()} ({hole.missing_frames} frames missing)",
            _add_gap_op(self.camera_id, hole.start_utc, hole.end_utc, GapReason.STREAM_ERROR, hole.detail),
        )

    def _segment_full(self, ts: float, seg: _Segment) -> bool:
        return ts - seg.start_s >= self.settings.segment_seconds

    def _start_segment(self, packet: DemuxedPacket, fmt: StreamFormat, ts: float, arrival: float) -> bool:
        start = _utc(ts)
        path = segment_path(self.root, self.camera_id, start)
        while path.exists() or path.with_name(path.name + ".partial").exists():
            start += timedelta(microseconds=1)  # never overwrite footage, even if the clock repeats
            path = segment_path(self.root, self.camera_id, start)
        try:
            writer = SegmentWriter(
                path=path,
                stream_format=fmt,
                fragment_seconds=self.settings.fragment_seconds,
                opener=self._opener,
                fsync=self.settings.fsync,
                jobs=self._jobs,
                max_backlog_bytes=self.settings.max_write_backlog_bytes,
            )
        except UnsupportedStreamError as exc:
            self._unsupported_connection = fmt.connection_id
            self._note_error(str(exc), alarm="unsupported_stream", state=RecorderState.UNSUPPORTED)
            self._open_gap(self._newest_end or start, GapReason.STREAM_ERROR, str(exc))
            return False
        except SegmentWriteError as exc:
            self._on_disk_error(exc, at=self._newest_end or start)
            return False
        relative = segment_relative_path(self.camera_id, start)
        offset = arrival - ts
        base = packet.dts if packet.dts is not None else (packet.pts or 0)
        start_s = start.timestamp()
        with self._lock:
            self._seg = _Segment(
                writer=writer,
                relative=relative,
                format=fmt,
                start_utc=start,
                start_s=start_s,
                base_dts=base,
                end_s=start_s,
                last_ts_s=start_s,
                tick_s=float(fmt.time_base),
                last_progress_s=start_s,
                clock_offset_s=offset,
            )
            while len(self._live) >= MAX_LIVE_FILES:
                del self._live[min(self._live.values(), key=lambda live: live.start_utc).relative_path]
            self._live[relative] = LiveSegment(self.camera_id, relative, writer.partial, start)
            self._state = RecorderState.RECORDING
            self._gap_reason = None
            if self._alarm in DISK_ALARMS or self._alarm == "unsupported_stream":
                self._alarm = None
        if self._gap_may_be_open:
            self._gap_may_be_open = False
            self._queue_db(f"close gap at {start.isoformat()}", _close_gap_op(self.camera_id, start))
        self._queue_db(
            f"open segment {relative}",
            _open_segment_op(self.camera_id, self.stream, relative, start, fmt, offset),
        )
        logger.info("%s: recording %s", self.camera_id, relative)
        return True

    def _write(self, packet: DemuxedPacket, ts: float, arrival: float, seg: _Segment) -> None:
        duration = packet.duration
        packet_dts, packet_pts, base = packet.dts, packet.pts, seg.base_dts
        if (
            packet_dts is not None
            and packet_pts is not None
            and (seg.last_dts is None or packet_dts - base > seg.last_dts)
        ):  # the usual packet: timestamps in order; what _timestamps does, in its cheapest form
            dts, pts = packet_dts - base, packet_pts - base
            if pts < dts:
                pts = dts
        else:
            dts, pts = self._timestamps(packet, seg)
        try:
            seg.writer.write_packet(packet, pts=pts, dts=dts)
        except MalformedPacketError as exc:
            self._count("malformed")
            logger.warning("%s: %s", self.camera_id, exc)
            return
        except SegmentWriteError as exc:
            self._on_disk_error(exc, at=seg.end_utc)
            return
        muxed = seg.writer.bytes_written
        if muxed != seg.muxed:  # the muxer output the fragment of every packet before this one
            if seg.last_dts is not None:  # (not just the header, at the first packet)
                self._mark_fragment(seg, muxed, seg.end_utc)
            seg.muxed = muxed
        interval = ts - seg.last_ts_s
        if interval > 0:
            seg.last_interval_s = interval
        end = ts + (duration * seg.tick_s if duration else seg.last_interval_s)
        # single writer (the thread holding ``_work``); status() reads these without tearing
        seg.last_dts = dts
        seg.last_ts_s = ts
        if end > seg.end_s:
            seg.end_s = end
        seg.clock_offset_s = arrival - ts
        self._counters["packets"] += 1
        if ts - seg.last_progress_s >= self.settings.progress_interval_s:  # of footage
            seg.last_progress_s = ts
            if not progress_due(ts - seg.start_s, self.settings):
                return
            self._queue_db(
                f"progress {seg.relative}",
                _progress_op(seg.relative, seg.end_utc, seg.writer.bytes_written, seg.writer.keyframes),
                droppable=True,  # superseded by the close
            )

    def _mark_fragment(self, seg: _Segment, size: int, end: datetime) -> None:
        """The file's first ``size`` bytes hold complete fragments of footage up to ``end``."""
        with self._lock:
            live = self._live.get(seg.relative)
            if live is not None:
                self._live[seg.relative] = live.with_mark(FragmentMark(size, end))

    def _forget_live(self, relative: str) -> None:
        with self._lock:
            self._live.pop(relative, None)

    def _timestamps(self, packet: DemuxedPacket, seg: _Segment) -> tuple[int, int]:
        """Rebase to the file's first dts and keep dts strictly increasing (the muxer refuses otherwise)."""
        packet_dts, packet_pts = packet.dts, packet.pts
        if packet_dts is not None:
            dts = packet_dts - seg.base_dts
        elif packet_pts is not None:
            dts = packet_pts - seg.base_dts
        else:
            step = max(1, round(seg.last_interval_s / seg.tick_s))
            dts = (seg.last_dts if seg.last_dts is not None else -step) + step
        pts = packet_pts - seg.base_dts if packet_pts is not None else dts
        if seg.last_dts is not None and dts <= seg.last_dts:
            dts = seg.last_dts + 1
            self._count("fixes")
        return dts, max(pts, dts)

    def _close_segment(self, end_utc: datetime | None = None, *, rolling: bool = False) -> None:
        """Close the open file; ``rolling``: the next one starts with this very packet, so the camera is
        still being recorded and its state stays RECORDING (a health sample between the two files must not
        read "not recording": the soak of session 9 caught 2 of 179 samples at 64 cameras doing so)."""
        seg = self._seg
        if seg is None:
            return
        end = end_utc if end_utc is not None else seg.end_utc
        muxed = seg.writer.bytes_written
        if rolling:
            # the row reaches the next file's start before that file's row is opened: the new row then
            # joins this one's span at once, instead of starting its own span that this row's close
            # (queued only once the file is hashed) would have to merge -- the ORM's slow path, which
            # was most of the index's CPU in the running station
            self._queue_db(
                f"progress {seg.relative}",
                _progress_op(seg.relative, end, muxed, seg.writer.keyframes),
                droppable=True,  # the close writes the same fields (the merge is only slower)
            )
        with self._lock:
            self._seg = None
            self._newest_end = end
            # counted now, while the close waits for the disk (status() must not fall back by a file);
            # corrected to the closed file's size when it is done
            self._counters["bytes"] += muxed
            if self._state is RecorderState.RECORDING and not rolling:
                self._state = RecorderState.WAITING
        seg.writer.finish(lambda result: self._segment_finished(seg, end, result, muxed))
        # the trailer is out: the whole file is footage (readable once written; until its row is closed)
        self._mark_fragment(seg, seg.writer.bytes_written, end)

    def _segment_finished(
        self, seg: _Segment, end: datetime, result: WrittenFile | SegmentWriteError, muxed: int
    ) -> None:
        """The file is closed (or failed to close): queue its index row. Runs on the file jobs' thread.
        ``muxed``: what :meth:`_close_segment` counted for the file already."""
        if isinstance(result, SegmentWriteError):
            with self._lock:
                self._counters["bytes"] -= muxed  # _recover counts what it keeps of the file
            self._lost_at_close(seg, end, self._recover(seg, result), result)
            return
        written = result
        close = SegmentClose(
            end_utc=end,
            duration_s=(end - seg.start_utc).total_seconds(),
            bytes=written.bytes,
            sha256=written.sha256,
            keyframes=written.keyframes,
            clock_offset_s=seg.clock_offset_s,
        )
        with self._lock:
            self._counters["bytes"] += written.bytes - muxed
            self._counters["segments"] += 1
        self._queue_db(f"close segment {seg.relative}", self._close_and_forget(seg.relative, close))
        logger.info(
            "%s: closed %s (%.1f s, %d bytes)", self.camera_id, seg.relative, close.duration_s, close.bytes
        )

    def _lost_at_close(
        self, seg: _Segment, end: datetime, saved_end: datetime | None, exc: SegmentWriteError
    ) -> None:
        """A file that failed to finish (its last fragments never reached the disk): a closed gap row for
        what it lost, the alarm, and the camera thread told to back off as for any disk error. Runs on the
        file jobs' thread."""
        reason = disk_error_reason(exc.errno)
        lost_from = saved_end if saved_end is not None else seg.start_utc
        if end > lost_from:
            self._queue_db(
                f"gap {lost_from.isoformat()} ({seg.relative} not finished)",
                _add_gap_op(self.camera_id, lost_from, end, reason, f"{seg.relative} not finished: {exc}"),
            )
        self._note_error(str(exc), alarm=reason.value)
        self._failed_file = exc
        logger.error("%s: %s could not be finished: %s", self.camera_id, seg.relative, exc)

    def _recover(
        self, seg: _Segment, exc: SegmentWriteError, gap: tuple[GapReason, datetime] | None = None
    ) -> datetime | None:
        """Keep what is complete in the closed ``.partial`` (or drop it if it holds nothing); ``gap``, the
        gap opened where the muxed footage ended, moves back to where the saved footage ends. Runs on the
        file jobs' thread. Returns where the saved footage ends (the file's start when nothing was saved;
        None when the file is left for the start-up reconcile)."""
        partial = seg.writer.partial
        self._forget_live(seg.relative)  # cut and renamed now: readable again once its row is closed
        try:
            finished = recover_partial(partial)
        except SegmentFileError:
            partial.unlink(missing_ok=True)  # header only: provably no footage
            logger.warning("%s: %s held no complete fragment: removed", self.camera_id, partial.name)
            self._queue_db(f"discard {seg.relative}", _discard_op(seg.relative, self._clock()))
            self._move_gap_start(gap, seg.start_utc)
            return seg.start_utc
        except OSError as recover_exc:
            logger.error(
                "%s: %s left for start-up reconcile: %s (after %s)", self.camera_id, partial, recover_exc, exc
            )
            return None
        end = seg.start_utc + timedelta(seconds=finished.probe.duration_s)
        with self._lock:
            if self._newest_end is None or end > self._newest_end:  # a newer file may be closed already
                self._newest_end = end
            self._counters["bytes"] += finished.bytes
            self._counters["segments"] += 1
        close = SegmentClose(
            end_utc=end,
            duration_s=finished.probe.duration_s,
            bytes=finished.bytes,
            sha256=finished.sha256,
            keyframes=finished.probe.keyframes,
            clock_offset_s=seg.clock_offset_s,
        )
        self._queue_db(
            f"close segment {seg.relative} (recovered)",
            self._close_and_forget(seg.relative, close, SegmentStatus.RECOVERED),
        )
        self._move_gap_start(gap, end)
        return end

    def _move_gap_start(self, gap: tuple[GapReason, datetime] | None, start: datetime) -> None:
        if gap is None or start >= gap[1]:
            return
        reason, at = gap
        self._queue_db(
            f"gap {reason.value} starts at {start.isoformat()}",
            lambda session: move_gap_start(
                session, camera_id=self.camera_id, reason=reason, start_utc=at, new_start_utc=start
            ),
        )

    def _on_disk_error(self, exc: SegmentWriteError, *, at: datetime) -> None:
        reason = disk_error_reason(exc.errno)
        alarm = "disk_too_slow" if exc.errno == DiskBacklogError.ERRNO else reason.value
        seg = self._seg
        # the gap opens where the muxed footage ends; the file's recovery (on the file jobs, after the
        # queued writes) moves it back to where the saved footage ends
        gap_start = seg.end_utc if seg is not None else (self._newest_end or at)
        self._disk_retry_at = time.monotonic() + self.settings.disk_retry_s
        self._note_error(
            f"{exc}; retrying in {self.settings.disk_retry_s:.0f} s",
            alarm=alarm,
            state=RecorderState.DISK_ERROR,
        )
        logger.error(
            "%s: %s: not recording, retry in %.0f s", self.camera_id, exc, self.settings.disk_retry_s
        )
        opened = self._gap_reason is not reason
        self._open_gap(gap_start, reason, str(exc))
        if seg is not None:
            with self._lock:
                self._seg = None
                self._live.pop(seg.relative, None)  # _recover decides what is kept of it
            gap = (reason, gap_start) if opened else None

            def recover() -> None:
                self._recover(seg, exc, gap)

            seg.writer.abort(then=recover)

    def _disk_ready(self) -> bool:
        if self._disk_retry_at is None:
            return True
        if time.monotonic() < self._disk_retry_at:
            return False
        self._disk_retry_at = None
        with self._lock:
            self._state = RecorderState.WAITING
        return True

    def _on_stream_end(self, last_ts: datetime, reason: GapReason, detail: str) -> None:
        seg = self._seg
        self._close_segment()
        if self._paused is not None:
            return  # the retention gap stays: it explains the whole span
        start = seg.end_utc if seg is not None else last_ts
        self._open_gap(start, reason, detail)
        with self._lock:
            if self._state is not RecorderState.DISK_ERROR:
                self._state = RecorderState.NO_SIGNAL

    def _on_stream_started(self, fmt: StreamFormat) -> None:
        seg = self._seg
        if seg is not None and fmt != seg.format:
            self._close_segment()
        with self._lock:
            if self._state is RecorderState.NO_SIGNAL:
                self._state = RecorderState.WAITING

    def _on_packets_dropped(self, item: PacketsDropped) -> None:
        self._count("lost", item.count)
        seg = self._seg
        if seg is None:
            return
        self._close_segment()
        self._open_gap(
            seg.end_utc,
            GapReason.RECORDER_ERROR,
            f"recorder fell behind: {item.count} packets lost between "
            f"{item.first_ts_utc.isoformat()} and {item.last_ts_utc.isoformat()}",
        )

    def _apply_pause_request(self) -> None:
        with self._lock:
            request = self._pause_request
            self._pause_changed = False
        if request is not None and self._paused is None:
            reason, detail = request
            seg = self._seg
            self._close_segment()
            start = seg.end_utc if seg is not None else (self._newest_end or self._clock())
            self._open_gap(start, reason, detail)
            with self._lock:
                self._paused = reason
                self._state = RecorderState.STOPPED_BY_RETENTION
                self._alarm = reason.value
            logger.warning("%s: recording stopped by retention: %s", self.camera_id, detail)
        elif request is None and self._paused is not None:
            with self._lock:
                self._paused = None
                self._state = RecorderState.WAITING
                self._alarm = None
            logger.info("%s: recording resumed", self.camera_id)

    def _finish(self, reason: GapReason, detail: str) -> None:
        if self._finished:
            return
        self._finished = True
        seg = self._seg
        self._close_segment()
        start = seg.end_utc if seg is not None else (self._newest_end or self._clock())
        self._open_gap(start, reason, detail)
        self._flush_db(wait=True)

    def _open_gap(self, start: datetime, reason: GapReason, detail: str) -> None:
        if self._gap_reason is reason:
            return
        with self._lock:
            self._gap_reason = reason
        self._gap_may_be_open = True
        self._queue_db(f"open gap {reason.value}", _open_gap_op(self.camera_id, start, reason, detail))

    # ------------------------------------------------------------------ index writes

    def _close_and_forget(
        self, relative: str, close: SegmentClose, status: SegmentStatus = SegmentStatus.CLOSED
    ) -> DbOp:
        """The close of ``relative``'s row; from then on the index serves the file, not :attr:`_live`."""
        close_row = _close_segment_op(relative, close, status)

        def op(session: Session) -> None:
            close_row(session)
            self._forget_live(relative)

        return op

    def _queue_db(self, what: str, op: DbOp, *, droppable: bool = False) -> None:
        self._index.put(what, op, droppable=droppable)

    def _flush_db(self, *, wait: bool = False) -> None:
        """Write the queued index changes (:meth:`streams.index_queue.IndexQueue.flush`)."""
        self._index.flush(wait=wait)

    # the IndexListener side (whichever thread flushes) ------------------------------------------------

    def on_index_unreachable(self, message: str) -> None:
        self._note_error(message, alarm="database_unreachable")

    def on_index_refused(self, message: str) -> None:
        self._note_error(message)

    def on_index_written(self) -> None:
        with self._lock:
            if self._alarm == "database_unreachable":
                self._alarm = None

    def on_housekeeping_failed(self) -> None:
        self._note_error("recorder housekeeping failed (see log)", alarm="recorder_error")

    # ------------------------------------------------------------------ helpers

    def _count(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._counters[name] += amount

    def _note_error(
        self, message: str, *, alarm: str | None = None, state: RecorderState | None = None
    ) -> None:
        with self._lock:
            self._last_error = message
            self._last_error_utc = self._clock()
            if alarm is not None and not (alarm == "database_unreachable" and self._alarm in DISK_ALARMS):
                self._alarm = alarm
            if state is not None:
                self._state = state


def _open_segment_op(
    camera_id: str, stream: str, relative: str, start: datetime, fmt: StreamFormat, offset: float
) -> DbOp:
    def op(session: Session) -> None:
        open_segment_row(
            session,
            camera_id=camera_id,
            stream=stream,
            path=relative,
            start_utc=start,
            codec=fmt.codec,
            width=fmt.width,
            height=fmt.height,
            clock_offset_s=offset,
        )

    return op


def _close_segment_op(
    relative: str, close: SegmentClose, status: SegmentStatus = SegmentStatus.CLOSED
) -> DbOp:
    return lambda session: close_segment_row(session, path=relative, close=close, status=status)


def _progress_op(relative: str, end: datetime, size: int, keyframes: int) -> DbOp:
    return lambda session: update_segment_progress(
        session, path=relative, end_utc=end, bytes_written=size, keyframes=keyframes
    )


def _discard_op(relative: str, at: datetime) -> DbOp:
    return lambda session: discard_segment(session, path=relative, at=at)


def _open_gap_op(camera_id: str, start: datetime, reason: GapReason, detail: str) -> DbOp:
    return lambda session: open_gap(
        session, camera_id=camera_id, start_utc=start, reason=reason, detail=detail
    )


def _add_gap_op(camera_id: str, start: datetime, end: datetime, reason: GapReason, detail: str) -> DbOp:
    return lambda session: add_gap(
        session, camera_id=camera_id, start_utc=start, end_utc=end, reason=reason, detail=detail
    )


def _close_gap_op(camera_id: str, end: datetime) -> DbOp:
    return lambda session: close_gap(session, camera_id=camera_id, end_utc=end)


__all__ = [
    "HOUSEKEEPING_S",
    "Housekeeper",
    "ItemSource",
    "RecorderItem",
    "RecorderSettings",
    "RecorderState",
    "RecorderStatus",
    "SegmentRecorder",
    "TimestampHole",
    "frame_interval_s",
    "gap_reason_for",
    "plan_hole",
]
