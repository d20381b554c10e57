"""Benchmark: where the station's recording CPU goes at N cameras, part by part, next to ffmpeg's segmenter.

Usage (from the repository root; needs the clip that ``record_bench.py`` encodes)::

    .venv/bin/python bench/record_breakdown.py --cameras 64 --seconds 30 --repeats 2

One real GStreamer RTSP server serves N mounts of the 1080p25 ~4 Mbit/s clip. Each variant runs in its own
process(es), one after the other (in rounds, so that drift of the machine spreads over all of them); after
``WARMUP_S`` its user and system CPU (``/proc/<pid>/stat``, all threads) and context switches (every
thread's ``voluntary`` + ``nonvoluntary``) are read over ``--seconds``. ``--processes N`` splits the cameras
of the station variants over N processes (measured in session 6: no gain to speak of):

- ``ffmpeg``: N ``ffmpeg -c copy -f segment`` processes, ``record_bench.py``'s command (the peer);
- ``ffmpeg_sha``: the same plus a watcher process that hashes (SHA-256) every segment ffmpeg has closed,
  reading it back: the peer doing the work our index requires of every file;
- ``jemalloc``: the station with Debian's jemalloc preloaded (``apt install libjemalloc2``);
- ``station``: the station's pipeline as ``console.recording`` wires it (ingest, one recorder per camera
  as a fan-out sink, disk writer, housekeeper with SQLite index, disk syncer, fsync at close; the media
  threads on the CPUs ``recording.media_cpus: auto`` picks; unwatched streams read in batches,
  ``recording.read_batch_ms`` at its default, :mod:`streams.pacing`);
- ``unbatched``: the station reading every packet as it arrives (``recording.read_batch_ms: 0``), as
  before session 13;
- ``unpinned``: the station with its media threads free to run on every CPU (``recording.media_cpus:
  all``), as before session 6; the station itself pins them to one CPU (:mod:`streams.affinity`);
- ``ingest only``: the same ingest (demux, clock, health, fan-out) with no recorder attached;
- ``no index``: the station without index writes (the housekeeper thread is never started);
- ``no fsync``: the station without the disk syncer and without fsync at close;
- ``no hash``: the station with SHA-256 of the files replaced by nothing (patched in the child);
- ``no write``: the station with the muxer's output dropped before the file (no write, no hash);
- ``inline_io``: the station with each file's writes, hashing and close on the camera's own thread
  (``INLINE`` file jobs) instead of the disk-writer thread;
- ``pyav_floor``: the least a recorder on PyAV can do, none of the station's own code: a thread per camera
  on the station's media CPU, ``demux()`` with the station's RTSP options, each demuxed packet muxed as it
  is (no copy) into fragmented MP4 that libavformat writes to the file itself (no Python I/O), a new file
  at the first keyframe after ``--segment-seconds`` (10 s by default, as ffmpeg's); no hash, no index, no
  fsync, no health;
- ``pyav_floor_sha``: the same with the muxer's output going through a Python file object that hashes
  (SHA-256) and writes it, as the index requires of every file;
- ``pyav_demux``: the floor's demux alone (no output), to set against ``ingest``;
- ``pyav_writer``: the floor's demux with the station's ``SegmentWriter`` instead of ``av.open`` (its
  rebasing, its Python file objects, hash, rename at close; file I/O inline, no fsync), to tell the
  writer's cost from the recorder's;
- ``pyav_recorder``: the floor's demux feeding a fan-out with the station's ``SegmentRecorder`` as its sink,
  with the station's disk writer, housekeeper (SQLite index) and disk syncer: the station without the
  ingest worker (no clock, no health; stream time anchored at the first packet).

The patched variants exist to measure; the station never runs them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

sys.path.insert(0, str(REPO_ROOT / "bench"))

import record_bench  # noqa: E402
from pipeline_floor import clip_and_variants, run_until_interrupted, start_ready_child  # noqa: E402
from record_bench import ffmpeg_command  # noqa: E402

from tests.support.rtsp_server import RtspServer  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
WARMUP_S = 8.0
VARIANTS = (
    "ffmpeg",
    "ffmpeg_sha",
    "station",
    "unbatched",
    "jemalloc",
    "unpinned",
    "ingest",
    "no_index",
    "no_fsync",
    "no_hash",
    "no_write",
    "inline_io",
    "pyav_floor",
    "pyav_floor_sha",
    "pyav_demux",
    "pyav_writer",
    "pyav_recorder",
)
#: Debian's jemalloc (``libjemalloc2``), preloaded into the ``jemalloc`` variant's child only.
#: ``--read-batch-ms``: the station variants' ``recording.read_batch_ms`` (None: the station's default)
READ_BATCH_MS: int | None = None
JEMALLOC = Path("/usr/lib/x86_64-linux-gnu/libjemalloc.so.2")
LABELS = {
    "ffmpeg": "ffmpeg segmenter, a process per camera",
    "station": "station (ingest + recorder + disk writer + index + fsync)",
    "ffmpeg_sha": "ffmpeg segmenter + SHA-256 of each closed segment (a watcher process reads it back)",
    "unbatched": "station reading every packet as it arrives (recording.read_batch_ms: 0)",
    "jemalloc": "station with jemalloc instead of glibc's malloc (LD_PRELOAD)",
    "unpinned": "station with its media threads on every CPU (media_cpus: all)",
    "ingest": "ingest only (demux, clock, health, fan-out; no recorder)",
    "no_index": "station without index writes",
    "no_fsync": "station without disk syncer and fsync",
    "no_hash": "station without SHA-256 of the files",
    "no_write": "station without file writes (and so without hashing)",
    "inline_io": "station with file I/O on the camera threads (no disk-writer thread)",
    "pyav_floor": "PyAV floor: demux + mux as is to fragmented MP4 by libavformat (no hash, no index)",
    "pyav_floor_sha": "PyAV floor + SHA-256 of the output (through a Python file object)",
    "pyav_demux": "PyAV floor's demux alone (no output)",
    "pyav_writer": "PyAV floor's demux + the station's SegmentWriter (hash, no fsync, no index)",
    "pyav_recorder": "PyAV floor's demux + fan-out + the station's SegmentRecorder (index, fsync)",
}


def usage(pid: int) -> tuple[float, float, int]:
    """User and system CPU seconds and context switches of every thread of ``pid``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    switches = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            lines = (task / "status").read_text().splitlines()
        except OSError:
            continue  # the thread ended
        switches += sum(int(line.split()[1]) for line in lines if "ctxt_switches" in line)
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK, switches


#: Thread kinds of the CPU-by-thread table, from the native names the station gives its threads
#: (:mod:`streams.thread_name`); the floor variants name theirs ``floor:<camera>``.
THREAD_KINDS = ("camera", "disk-writer", "housekeeping", "disk-sync", "other")


def thread_kind(comm: str) -> str:
    """The kind of a thread from its native name (``/proc/<pid>/task/<tid>/comm``); pure."""
    if comm in ("disk-writer", "housekeeping", "disk-sync"):
        return comm
    if comm == "ffmpeg" or (":" in comm and not comm.startswith(("rec:", "tx:"))):
        return "camera"  # a peer process, ``<camera>:<stream>`` (ingest) or ``floor:<camera>``
    return "other"


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds so far of every live thread of ``pid``, summed by :func:`thread_kind`."""
    kinds = dict.fromkeys(THREAD_KINDS, 0.0)
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            raw = (task / "stat").read_text()
        except OSError:
            continue  # the thread ended
        comm = raw[raw.index("(") + 1 : raw.rindex(")")]
        fields = raw.rsplit(")", 1)[1].split()
        kinds[thread_kind(comm)] += (int(fields[11]) + int(fields[12])) / CLK_TCK
    return kinds


Measured = tuple[float, float, int, dict[str, float]]  # user s, system s, switches / s, CPU s by thread kind


def measure(pids: Sequence[int], seconds: float) -> Measured:
    time.sleep(WARMUP_S)
    before = [usage(pid) for pid in pids]
    threads_before = [thread_cpu(pid) for pid in pids]
    began = time.monotonic()
    time.sleep(seconds)
    after = [usage(pid) for pid in pids]
    threads_after = [thread_cpu(pid) for pid in pids]
    elapsed = time.monotonic() - began
    user = sum(b[0] - a[0] for a, b in zip(before, after, strict=True))
    system = sum(b[1] - a[1] for a, b in zip(before, after, strict=True))
    switches = sum(b[2] - a[2] for a, b in zip(before, after, strict=True))
    kinds = {
        kind: sum(b[kind] - a[kind] for a, b in zip(threads_before, threads_after, strict=True))
        for kind in THREAD_KINDS
    }
    return user, system, round(switches / elapsed), kinds


# ---------------------------------------------------------------------------------------------- child


def child(variant: str, config_path: Path) -> int:
    """One process running the station's recording pipeline (or a measured variant of it) until SIGINT."""
    from config.schema import CameraConfig, RecordingConfig
    from storage.database import Database
    from storage.migration import upgrade_to_head
    from streams import segment_file
    from streams.affinity import available_cpus, plan_media_cpus
    from streams.disk_sync import DiskSyncer
    from streams.disk_writer import INLINE, DiskWriter
    from streams.ingest import IngestManager
    from streams.pacing import NO_PACING, PacingPolicy
    from streams.recorder import Housekeeper, RecorderSettings, SegmentRecorder

    if variant == "no_hash":

        class NoHash:
            def update(self, _data: object) -> None:
                pass

            def hexdigest(self) -> str:
                return "0" * 64

        original_init = segment_file.HashingFile.__init__

        def init_without_hash(self: Any, raw: Any, path: Path) -> None:
            original_init(self, raw, path)
            self._hash = NoHash()

        segment_file.HashingFile.__init__ = init_without_hash  # type: ignore[method-assign]
    if variant == "no_write":

        def dropped(self: Any, data: Any) -> int:
            size = memoryview(data).nbytes
            self._position += size
            self._end = max(self._end, self._position)
            return size

        segment_file.HashingFile.write = dropped  # type: ignore[method-assign]

    config = json.loads(config_path.read_text())
    root = Path(config["root"])
    db = Database(f"sqlite:///{config['db']}")
    upgrade_to_head(db.engine)
    cameras = [CameraConfig(id=c["id"], name=c["id"], url=c["url"]) for c in config["cameras"]]
    fsync = variant != "no_fsync"
    settings = RecorderSettings(segment_seconds=float(config["segment_seconds"]), fsync=fsync)
    # as console.recording: the media threads on the station's default CPUs ("auto")
    cpus = None if variant == "unpinned" else plan_media_cpus("auto", available_cpus(), len(cameras))
    # as console.recording: unwatched streams read in batches (recording.read_batch_ms, its default)
    batch_ms = config.get("read_batch_ms") or RecordingConfig().read_batch_ms
    pacing = NO_PACING if variant == "unbatched" else PacingPolicy(batch_ms / 1000)
    manager = IngestManager(cameras, cpus=cpus, pacing=pacing)
    syncer = DiskSyncer(root, interval_s=settings.fragment_seconds, cpus=cpus) if fsync else None
    if syncer is not None:
        syncer.start()
    disk_writer = DiskWriter(cpus=cpus)
    disk_writer.start()
    housekeeper = Housekeeper(cpus=cpus)
    if variant != "no_index":
        housekeeper.start()
    recorders = []
    if variant != "ingest":
        for camera in cameras:
            jobs = INLINE if variant == "inline_io" else disk_writer
            recorder = SegmentRecorder(camera_id=camera.id, db=db, root=root, settings=settings, jobs=jobs)
            recorder.attach(manager.worker(camera.id).fanout, housekeeper)
            recorders.append(recorder)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    manager.start()
    print("READY", flush=True)
    while not stop.wait(0.5):
        pass
    received = sum(h.packets for h in manager.health())
    written = sum(r.status().packets_written for r in recorders)
    manager.stop()
    for recorder in recorders:
        recorder.stop()
    housekeeper.stop()
    disk_writer.stop()
    if syncer is not None:
        syncer.stop()
    Path(config["report"]).write_text(json.dumps({"received": received, "written": written}))
    return 0


class _HashingOutput:
    """``pyav_floor_sha``'s output: what the muxer writes, hashed and written to the file."""

    def __init__(self, path: Path) -> None:
        self._file = path.open("xb", buffering=0)
        self._hash = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self._hash.update(data)
        return self._file.write(data) or 0

    def close(self) -> None:
        self._file.close()


def _recorder_camera(container: Any, out: Path, stop: threading.Event, shared: dict[str, Any]) -> None:
    """``pyav_recorder``: the floor's loop publishing to a fan-out whose sink is a SegmentRecorder."""
    from datetime import UTC, datetime

    from streams.fanout import Fanout, StreamStarted
    from streams.recorder import RecorderSettings, SegmentRecorder
    from streams.source import _video_format

    video, fmt = _video_format(container, out.name, "main", 1)
    settings = RecorderSettings(segment_seconds=shared["segment_seconds"], fsync=True)
    recorder = SegmentRecorder(
        camera_id=out.name, db=shared["db"], root=out, settings=settings, jobs=shared["jobs"]
    )
    fanout = Fanout(out.name)
    recorder.attach(fanout, shared["housekeeper"])
    tick = float(fmt.time_base)
    origin: tuple[int, float] | None = None
    try:
        for packet in container.demux(video):
            if stop.is_set():
                break
            pts = packet.pts
            if packet.size == 0 or pts is None:
                continue
            arrival = time.time()
            if origin is None:
                if not packet.is_keyframe:
                    continue
                origin = (pts, arrival)
                fanout.publish(StreamStarted(fmt, datetime.fromtimestamp(arrival, UTC)))
            ts = origin[1] + (pts - origin[0]) * tick
            fanout.publish_packet(packet, fmt, ts, arrival)
    finally:
        recorder.stop()
        container.close()


def _floor_camera(
    url: str, out: Path, variant: str, cpus: Any, stop: threading.Event, shared: dict[str, Any]
) -> None:
    import av

    from streams.affinity import pin_current_thread
    from streams.segment_writer import MUX_BUFFER_BYTES, mux_options
    from streams.source import SourceSpec, rtsp_options
    from streams.thread_name import name_current_thread

    name_current_thread(f"floor:{out.name}")
    pin_current_thread(cpus, f"floor-{out.name}")
    spec = SourceSpec(camera_id=out.name, stream="main", url=url, transport="tcp")
    container: Any = av.open(url, options=rtsp_options(spec), timeout=(spec.open_timeout_s, None))
    if variant == "pyav_writer":
        _writer_camera(container, out, stop, shared["segment_seconds"])
        return
    if variant == "pyav_recorder":
        _recorder_camera(container, out, stop, shared)
        return
    video = container.streams.video[0]
    segment_s = shared["segment_seconds"]
    output: Any = None
    stream: Any = None
    began = 0
    files = 0
    try:
        for packet in container.demux(video):
            if stop.is_set():
                break
            pts = packet.pts
            if packet.size == 0 or pts is None or variant == "pyav_demux":
                continue
            if packet.is_keyframe and (output is None or (pts - began) * video.time_base >= segment_s):
                if output is not None:
                    output.close()
                files += 1
                target: Any = out / f"{files:05d}.mp4"
                if variant == "pyav_floor_sha":
                    target = _HashingOutput(target)
                options = mux_options(1.0)
                output = av.open(target, "w", format="mp4", options=options, buffer_size=MUX_BUFFER_BYTES)
                stream = output.add_stream_from_template(video)
                began = pts
            if output is None:
                continue
            packet.stream = stream
            output.mux(packet)
    finally:
        if output is not None:
            output.close()
        container.close()


def _writer_camera(container: Any, out: Path, stop: threading.Event, segment_s: float) -> None:
    """``pyav_writer``: the floor's loop writing through the station's SegmentWriter."""
    from streams.segment_writer import SegmentWriter
    from streams.source import _video_format

    video, fmt = _video_format(container, out.name, "main", 1)
    writer: SegmentWriter | None = None
    began = 0
    files = 0
    try:
        for packet in container.demux(video):
            if stop.is_set():
                break
            pts, dts = packet.pts, packet.dts
            if packet.size == 0 or pts is None or dts is None:
                continue
            if packet.is_keyframe and (writer is None or (pts - began) * video.time_base >= segment_s):
                if writer is not None:
                    writer.close()
                files += 1
                writer = SegmentWriter(path=out / f"{files:05d}.mp4", stream_format=fmt, fsync=False)
                began = dts
            if writer is not None:
                writer.write_packet(packet, pts=pts - began, dts=dts - began)
    finally:
        if writer is not None:
            writer.close()
        container.close()


def floor_child(variant: str, config_path: Path) -> int:
    """The ``pyav_floor`` variants' process: one thread per camera until SIGINT."""
    from streams.affinity import available_cpus, plan_media_cpus

    config = json.loads(config_path.read_text())
    root = Path(config["root"])
    cpus = plan_media_cpus("auto", available_cpus(), len(config["cameras"]))
    shared: dict[str, Any] = {"segment_seconds": float(config["segment_seconds"])}
    services: list[Any] = []
    if variant == "pyav_recorder":  # the station's shared recording services, as in ``child``
        from storage.database import Database
        from storage.migration import upgrade_to_head
        from streams.disk_sync import DiskSyncer
        from streams.disk_writer import DiskWriter
        from streams.recorder import Housekeeper

        shared["db"] = Database(f"sqlite:///{config['db']}")
        upgrade_to_head(shared["db"].engine)
        shared["jobs"] = DiskWriter(cpus=cpus)
        shared["housekeeper"] = Housekeeper(cpus=cpus)
        services = [shared["jobs"], shared["housekeeper"], DiskSyncer(root, interval_s=1.0, cpus=cpus)]
        for service in services:
            service.start()
    stop = threading.Event()
    threads = []
    for camera in config["cameras"]:
        (root / camera["id"]).mkdir()
        args = (camera["url"], root / camera["id"], variant, cpus, stop, shared)
        threads.append(threading.Thread(target=_floor_camera, args=args, daemon=True))
    run_until_interrupted(threads, stop, join_s=30)
    for service in reversed(services):
        service.stop()
    Path(config["report"]).write_text(json.dumps({}))
    return 0


# ---------------------------------------------------------------------------------------------- parent


def measure_then_interrupt(processes: Sequence[subprocess.Popen[Any]], seconds: float) -> Measured:
    """:func:`measure` the processes, then SIGINT them all and wait for them (they finish their files)."""
    try:
        return measure([p.pid for p in processes], seconds)
    finally:
        for process in processes:
            process.send_signal(signal.SIGINT)
        for process in processes:
            process.wait(120)


def run_variant(
    variant: str, server: RtspServer, cameras: list[str], seconds: float, work: Path, processes: int = 1
) -> dict[str, Any]:
    work.mkdir(parents=True)
    urls = [server.url(camera) for camera in cameras]
    if variant in ("ffmpeg", "ffmpeg_sha"):
        procs = []
        for camera, url in zip(cameras, urls, strict=True):
            (work / camera).mkdir()
            procs.append(
                subprocess.Popen(
                    ffmpeg_command(url, work / camera),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        if variant == "ffmpeg_sha":
            procs.append(
                subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "_hasher", str(work)])
            )
        user, system, switches, kinds = measure_then_interrupt(procs, seconds)
        report: dict[str, Any] = {}
    else:
        (work / "rec").mkdir()
        children = []
        for index in range(processes):
            mine = cameras[index::processes]
            config = work / f"child-{index}.json"
            config.write_text(
                json.dumps(
                    {
                        "cameras": [{"id": c, "url": server.url(c)} for c in mine],
                        "root": str(work / "rec"),
                        "db": str(work / f"index-{index}.sqlite3"),
                        "report": str(work / f"report-{index}.json"),
                        "segment_seconds": record_bench.SEGMENT_SECONDS,
                        "read_batch_ms": READ_BATCH_MS,
                    }
                )
            )
            command = [sys.executable, str(Path(__file__).resolve()), "_child", variant, str(config)]
            env = None
            if variant == "jemalloc":
                if not JEMALLOC.is_file():
                    raise RuntimeError(f"jemalloc variant: {JEMALLOC} missing (apt install libjemalloc2)")
                env = {**os.environ, "LD_PRELOAD": str(JEMALLOC)}
            children.append(start_ready_child(command, variant, env=env))
        user, system, switches, kinds = measure_then_interrupt(children, seconds)
        reports = [json.loads((work / f"report-{i}.json").read_text()) for i in range(processes)]
        report = {key: sum(r[key] for r in reports) for key in ("received", "written") if key in reports[0]}
    per = len(cameras) * seconds / 60
    threads = {kind: used / per for kind, used in kinds.items()}
    return {"user": user / per, "system": system / per, "switches": switches, "threads": threads, **report}


def hasher(root: Path) -> int:
    """The ``ffmpeg_sha`` variant's watcher: SHA-256 of every segment ffmpeg has closed, read back from the
    file as an indexer beside ffmpeg would (the newest file of each camera is still being written)."""
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    hashed: set[Path] = set()
    while not stop.wait(0.5):
        for camera in sorted(p for p in root.iterdir() if p.is_dir()):
            for path in sorted(camera.glob("*.mp4"))[:-1]:
                if path in hashed:
                    continue
                digest = hashlib.sha256()
                with path.open("rb") as handle:
                    while chunk := handle.read(1024 * 1024):
                        digest.update(chunk)
                hashed.add(path)
    return 0


def main(argv: Sequence[str]) -> int:
    if argv[:1] == ["_child"]:
        if argv[1].startswith("pyav_"):
            return floor_child(argv[1], Path(argv[2]))
        return child(argv[1], Path(argv[2]))
    if argv[:1] == ["_hasher"]:
        return hasher(Path(argv[1]))
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cameras", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=30.0, help="measured window per variant")
    parser.add_argument("--repeats", type=int, default=1, help="rounds over all variants")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument(
        "--segment-seconds",
        type=float,
        default=record_bench.SEGMENT_SECONDS,
        help="segment length of every variant and of ffmpeg (default 10; the station's own default is 60)",
    )
    parser.add_argument("--data", type=Path, default=Path("/tmp/record-bench"), help="where the clip is")
    parser.add_argument(
        "--read-batch-ms",
        type=int,
        default=None,
        help="station variants (not unbatched): recording.read_batch_ms (default: the station's default)",
    )
    parser.add_argument(
        "--processes", type=int, default=1, help="station variants: the cameras split over N processes"
    )
    args = parser.parse_args(argv)
    checked = clip_and_variants(parser, args, VARIANTS)
    if checked is None:
        return 2
    clip, variants = checked
    global READ_BATCH_MS
    READ_BATCH_MS = args.read_batch_ms
    record_bench.SEGMENT_SECONDS = args.segment_seconds  # read by ffmpeg_command and the children's config
    print(
        f"load average at start: {os.getloadavg()[0]:.2f}; {args.cameras} cameras, {args.seconds:.0f} s, "
        f"{args.segment_seconds:g} s segments"
    )
    cameras = [f"cam{i:02d}" for i in range(args.cameras)]
    root = Path(tempfile.mkdtemp(prefix="record-breakdown-"))
    results: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
    server = RtspServer(dict.fromkeys(cameras, clip), log_dir=root)
    server.start()
    try:
        for round_ in range(args.repeats):
            for variant in variants:
                found = run_variant(
                    variant, server, cameras, args.seconds, root / f"{variant}-{round_}", args.processes
                )
                results[variant].append(found)
                print(f"  {variant}: {json.dumps(found)}", file=sys.stderr)
                time.sleep(3)
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
    peer = results.get("ffmpeg")
    peer_total = min(r["user"] + r["system"] for r in peer) if peer else None
    print()
    print(
        f"| {args.cameras} cameras (best of {args.repeats}) | CPU s / stream / min | user | system "
        "| context switches / s | vs ffmpeg | packets received / written |"
    )
    print("|---|---:|---:|---:|---:|---:|---|")
    for variant, runs in results.items():
        best = min(runs, key=lambda r: r["user"] + r["system"])
        total = best["user"] + best["system"]
        ratio = f"{total / peer_total:.2f}x" if peer_total else "–"
        packets = f"{best['received']} / {best['written']}" if "received" in best else "–"
        print(
            f"| {LABELS[variant]} | {total:.3f} | {best['user']:.3f} | {best['system']:.3f} "
            f"| {best['switches']:,} | {ratio} | {packets} |"
        )
    print()
    print("CPU s / stream / min by thread, the best round above (an ffmpeg process counts as a camera):")
    print()
    print("| variant | " + " | ".join(THREAD_KINDS) + " |")
    print("|---|" + "---:|" * len(THREAD_KINDS))
    for variant, runs in results.items():
        best = min(runs, key=lambda r: r["user"] + r["system"])
        cells = " | ".join(f"{best['threads'][kind]:.3f}" for kind in THREAD_KINDS)
        print(f"| {variant} | {cells} |")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
