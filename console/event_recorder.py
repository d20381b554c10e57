"""Stores what detection reports: event rows, snapshots, footage locks and event clips (thread ``events``).

The detection worker hands every opened and closed event to :class:`EventRecorder` without waiting; this
thread writes the ``events`` row when an event opens (so the wall and the review queue see it at once),
completes it when it closes, locks its footage (pre- and post-roll included) until it is reviewed, and cuts
its clip from the recorded segments once the post-roll is in a closed segment.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from detection.event import DetectionEvent, render_snapshot
from detection.frame import Image
from detection.rule import Episode
from storage.database import Database
from storage.event import close_event, open_event, set_event_clip
from storage.export import NoFootageError, find_segments
from storage.model import Clip
from streams.affinity import pin_current_thread
from streams.clip import ClipError, ClipLabel, cut_clip
from streams.thread_name import name_current_thread

logger = logging.getLogger(__name__)

CLIP_RETRY_S = 10.0  # how often a clip whose footage is not indexed yet is tried again


@dataclass(frozen=True, slots=True)
class ActiveEvent:
    event_id: int
    camera_id: str
    kind: str
    zone: str | None
    start_utc: datetime


@dataclass
class _ClipJob:
    event_id: int
    camera_id: str
    start_utc: datetime
    end_utc: datetime
    due_s: float  # time.monotonic() when to try
    give_up_s: float


@dataclass
class _Pending:
    """Messages from the detection worker to the recorder thread."""

    opened: tuple[str, Episode, Image] | None = None
    closed: DetectionEvent | None = None


@dataclass
class RecorderStats:
    opened: int = 0
    closed: int = 0
    clips: int = 0
    clip_failures: int = 0
    dropped: int = 0
    errors: int = 0
    last_error: str | None = None


@dataclass
class EventRecorder:
    """Stores what the detection worker reports, on its own thread so the worker never waits on the
    database or the disk. The queue is bounded; when it overflows the oldest *open* notice is dropped
    (the close that follows still stores the event)."""

    database: Database
    data_dir: Path
    recordings_dir: Path
    station_name: str
    timezone: str
    pre_s: float
    post_s: float
    camera_names: dict[str, str]
    segment_seconds: dict[str, float]
    retention_days: dict[str, int]
    cpus: frozenset[int] | None = None
    stats: RecorderStats = field(default_factory=RecorderStats)
    _queue: queue.Queue[_Pending | None] = field(default_factory=lambda: queue.Queue(maxsize=512))
    _ids: dict[int, int] = field(default_factory=dict)  # id(episode) -> event row id
    _active: dict[int, ActiveEvent] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _clips: list[_ClipJob] = field(default_factory=list)
    _thread: threading.Thread | None = None

    # worker side (detection thread): never blocks ------------------------------------------------------

    def on_opened(self, camera: str, episode: Episode, image: Image) -> None:
        self._put(_Pending(opened=(camera, episode, image)))

    def on_closed(self, event: DetectionEvent) -> None:
        self._put(_Pending(closed=event))

    def _put(self, item: _Pending) -> None:
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.stats.dropped += 1
            logger.error("detection events: the recorder is behind; an event notice was dropped")

    # thread ------------------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="events", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout_s)

    def active(self) -> list[ActiveEvent]:
        with self._lock:
            return list(self._active.values())

    def _run(self) -> None:
        name_current_thread("events")
        pin_current_thread(self.cpus, "events")
        while True:
            try:
                item = self._queue.get(timeout=1.0)
            except queue.Empty:
                item = _Pending()
            if item is None:
                break
            try:
                if item.opened is not None:
                    self._store_opened(*item.opened)
                if item.closed is not None:
                    self._store_closed(item.closed)
                self._cut_due_clips()
            except Exception as exc:
                self.stats.errors += 1
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                logger.exception("detection events: cannot store an event")

    def _store_opened(self, camera: str, episode: Episode, image: Image) -> None:
        start = datetime.fromtimestamp(episode.start_t_s, UTC)
        with self.database.session() as session:
            row = open_event(
                session,
                camera_id=camera,
                kind=episode.kind,
                zone=episode.zone,
                start_utc=start,
                score=episode.score,
                detail={"box": list(episode.box), "track": episode.track},
            )
            event_id = row.id
        self._ids[id(episode)] = event_id
        with self._lock:
            self._active[event_id] = ActiveEvent(event_id, camera, episode.kind, episode.zone, start)
        self.stats.opened += 1
        path = self._snapshot_path(camera, event_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(render_snapshot(image, episode.box, path=episode.detail.get("owner_path")))

    def _store_closed(self, event: DetectionEvent) -> None:
        event_id = self._event_id(event)
        if event_id is None:
            return
        snapshot = self._snapshot_path(event.camera, event_id)
        if event.snapshot_jpeg is not None:
            snapshot.parent.mkdir(parents=True, exist_ok=True)
            snapshot.write_bytes(event.snapshot_jpeg)
        clip_start = event.start_utc - timedelta(seconds=self.pre_s)
        arrival = dict(event.detail).get("owner_arrival_t_s")
        if isinstance(arrival, int | float):  # littering: the clip shows the owner arriving, too
            clip_start = min(clip_start, datetime.fromtimestamp(float(arrival), UTC) - timedelta(seconds=2))
        clip_end = event.end_utc + timedelta(seconds=self.post_s)
        retention = self.retention_days.get(event.camera, 30)
        with self.database.session() as session:
            close_event(
                session,
                event_id=event_id,
                start_utc=event.start_utc,
                end_utc=event.end_utc,
                score=event.score,
                detail={"box": list(event.box), "track": event.track, **dict(event.detail)},
                snapshot_path=str(snapshot.relative_to(self.data_dir)) if snapshot.exists() else None,
                lock_start_utc=clip_start,
                lock_end_utc=clip_end,
                lock_expires_at=event.end_utc + timedelta(days=retention),
            )
        with self._lock:
            self._active.pop(event_id, None)
        self.stats.closed += 1
        now = time.monotonic()
        segment = self.segment_seconds.get(event.camera, 60.0)
        wait_s = max(0.0, clip_end.timestamp() - time.time()) + 2.0
        self._clips.append(
            _ClipJob(event_id, event.camera, clip_start, clip_end, now + wait_s, now + wait_s + segment + 60)
        )

    def _event_id(self, event: DetectionEvent) -> int | None:
        """The row of a closing event; events that opened and closed between two notices get one now."""
        for key, event_id in list(self._ids.items()):
            with self._lock:
                active = self._active.get(event_id)
            if (
                active is not None
                and active.camera_id == event.camera
                and active.kind == event.kind
                and (active.zone == event.zone)
            ):
                del self._ids[key]
                return event_id
        with self.database.session() as session:
            row = open_event(
                session,
                camera_id=event.camera,
                kind=event.kind,
                zone=event.zone,
                start_utc=event.start_utc,
                score=event.score,
                detail={},
            )
            return row.id

    def _snapshot_path(self, camera: str, event_id: int) -> Path:
        return self.data_dir / "events" / camera / f"{event_id}.jpg"

    def clip_path(self, camera: str, event_id: int) -> Path:
        return self.data_dir / "events" / camera / f"{event_id}.mp4"

    def _cut_due_clips(self) -> None:
        now = time.monotonic()
        for job in [j for j in self._clips if j.due_s <= now]:
            done = self._cut(job, final=now >= job.give_up_s)
            if done:
                self._clips.remove(job)
            else:
                job.due_s = now + CLIP_RETRY_S

    def _cut(self, job: _ClipJob, *, final: bool) -> bool:
        with self.database.session() as session:
            sources = find_segments(
                session,
                camera_id=job.camera_id,
                start_utc=job.start_utc,
                end_utc=job.end_utc,
                recordings_dir=self.recordings_dir,
            )
        covered = max((s.end_utc for s in sources), default=None)
        if not final and (covered is None or covered < job.end_utc):
            return False  # the post-roll is still in the segment being written
        dest = self.clip_path(job.camera_id, job.event_id)
        label = ClipLabel(
            self.station_name,
            self.timezone,
            job.camera_id,
            self.camera_names.get(job.camera_id, job.camera_id),
        )
        try:
            result = cut_clip(dest, label, job.start_utc, job.end_utc, sources)
        except (NoFootageError, ClipError, OSError, ValueError) as exc:
            self.stats.clip_failures += 1
            logger.warning("%s: no clip for event %d: %s", job.camera_id, job.event_id, exc)
            return True
        first = result.files[0]
        digest = hashlib.sha256(first.path.read_bytes()).hexdigest()
        with self.database.session() as session:
            clip = Clip(
                camera_id=job.camera_id,
                start_utc=first.start_utc,
                end_utc=result.files[-1].end_utc,
                path=str(first.path.relative_to(self.data_dir)),
                sha256=digest,
                bytes=first.path.stat().st_size,
                kind="event",
            )
            session.add(clip)
            session.flush()
            set_event_clip(session, event_id=job.event_id, clip=clip)
        self.stats.clips += 1
        return True
