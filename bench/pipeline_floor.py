"""Benchmark: what recording costs at each layer, to see how far our recorder is from the floor of its design.

Usage (from the repository root)::

    .venv/bin/python bench/pipeline_floor.py --cameras 32 --seconds 40 [--micro-packets 20000]

For N cameras served by one real GStreamer RTSP server (the 1080p25 ~4 Mbit/s clip of ``record_bench.py``),
each variant runs in its own process(es) one after the other, and its CPU is read from ``/proc`` over the
same window (after a warm-up, so start-up and connecting are excluded):

- ``ffmpeg segmenter``: N ``ffmpeg -c copy -f segment`` processes (the peer; what Frigate runs);
- ``PyAV demux only``: one Python process, one thread per camera, ``container.demux()`` + ``bytes(packet)``;
- ``PyAV demux + remux``: the same plus an ``av.Packet`` per packet muxed into fragmented MP4 (no fsync):
  the least any design that moves each packet through Python on PyAV can cost;
- ``station recorder``: our ``IngestManager`` + one ``SegmentRecorder`` per camera (fsync on, SQLite
  index, 10 s segments), as ``record_bench.py`` runs it.

Then, without any network, the Python cost per packet of our ingest -> fan-out -> recorder path: packets of
the clip fed as fast as possible through a real ``IngestWorker`` (stubbed connection), a real fan-out
subscription and a real ``SegmentRecorder`` on tmpfs (SQLite index, no fsync); CPU of the process / packets.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import av

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from tests.support.rtsp_server import RtspServer, missing_reason  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
CLIP_NAME = "clip-1080p25-4mbit-gop50-40s.mp4"  # made by record_bench.py (``ensure_clip``)
WARMUP_S = 8.0
VARIANTS = ("ffmpeg", "demux", "remux", "station")
LABELS = {
    "ffmpeg": "ffmpeg segmenter (-c copy -f segment), a process per camera",
    "demux": "PyAV demux only, a thread per camera",
    "remux": "PyAV demux + remux to fragmented MP4, a thread per camera",
    "station": "station recorder (ingest + fan-out + SegmentRecorder, fsync, SQLite)",
}


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


# ---------------------------------------------------------------------------------------------- children


def _demux_thread(url: str, out: Path | None, stop: threading.Event) -> None:
    options = {"rtsp_transport": "tcp", "allowed_media_types": "video", "timeout": "2000000"}
    container: Any = av.open(url, options=options, timeout=(10, None))
    video = container.streams.video[0]
    output: Any = None
    stream: Any = None
    if out is not None:
        output = av.open(str(out), "w", format="mp4", options={"movflags": "frag_keyframe+empty_moov"})
        stream = output.add_stream_from_template(video)
    started = False
    try:
        for packet in container.demux(video):
            if stop.is_set():
                break
            if packet.size == 0 or packet.pts is None:
                continue
            data = bytes(packet)
            if output is not None:
                if not started and not packet.is_keyframe:
                    continue
                started = True
                copy = av.Packet(data)
                copy.pts, copy.dts, copy.stream = packet.pts, packet.dts, stream
                copy.time_base = video.time_base
                output.mux(copy)
    finally:
        if output is not None:
            output.close()
        container.close()


def child_threads(urls: Sequence[str], work: Path | None) -> None:
    stop = threading.Event()
    threads = [
        threading.Thread(
            target=_demux_thread, args=(url, None if work is None else work / f"{i}.mp4", stop), daemon=True
        )
        for i, url in enumerate(urls)
    ]
    run_until_interrupted(threads, stop, join_s=10)


def run_until_interrupted(
    threads: Sequence[threading.Thread], stop: threading.Event, *, join_s: float
) -> None:
    """A bench child's life: start ``threads``, say READY, set ``stop`` on SIGINT, then join them."""
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    for thread in threads:
        thread.start()
    print("READY", flush=True)
    while not stop.wait(0.2):
        pass
    for thread in threads:
        thread.join(join_s)


# ---------------------------------------------------------------------------------------------- parent


def measure_pids(pids: Sequence[int], seconds: float) -> float:
    time.sleep(WARMUP_S)
    before = sum(cpu_s(pid) for pid in pids)
    time.sleep(seconds)
    return sum(cpu_s(pid) for pid in pids) - before


def clip_and_variants(
    parser: argparse.ArgumentParser, args: argparse.Namespace, known: Sequence[str]
) -> tuple[Path, list[str]] | None:
    """The bench clip and the ``--variants`` asked for; None (reason printed) when they cannot run."""
    clip = Path(args.data) / CLIP_NAME
    if not clip.exists():
        print(f"{clip} is missing: run bench/record_bench.py once (it encodes the clip)", file=sys.stderr)
        return None
    variants = [v for v in args.variants.split(",") if v]
    unknown = set(variants) - set(known)
    if unknown:
        parser.error(f"unknown variants {sorted(unknown)}; choose from {', '.join(known)}")
    reason = missing_reason()
    if reason and variants:
        print(f"cannot start the RTSP server: {reason}", file=sys.stderr)
        return None
    return clip, variants


def start_ready_child(
    command: list[str], name: str, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    """Start a bench child that prints READY once it runs; RuntimeError when it does not."""
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT, env=env)
    assert child.stdout is not None
    line = child.stdout.readline().strip()
    if line != "READY":
        child.kill()
        raise RuntimeError(f"{name}: child did not start ({line!r})")
    return child


def run_variant(variant: str, server: RtspServer, cameras: list[str], seconds: float, work: Path) -> float:
    """CPU seconds per stream per minute of ``variant`` over the window."""
    work.mkdir(parents=True, exist_ok=True)
    urls = [server.url(camera) for camera in cameras]
    if variant == "ffmpeg":
        procs = []
        for camera, url in zip(cameras, urls, strict=True):
            (work / camera).mkdir()
            procs.append(
                subprocess.Popen(
                    [
                        *("ffmpeg", "-nostdin", "-loglevel", "error", "-rtsp_transport", "tcp", "-i", url),
                        *("-c", "copy", "-f", "segment", "-segment_time", "10", "-reset_timestamps", "1"),
                        str(work / camera / "%05d.mp4"),
                    ],
                )
            )
        try:
            used = measure_pids([p.pid for p in procs], seconds)
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGINT)
            for proc in procs:
                proc.wait(30)
    else:
        config = work / "child.json"
        if variant == "station":  # record_bench.py's own child: our real pipeline, fsync, 10 s segments
            (work / "rec").mkdir()
            cameras_json = [{"id": c, "url": u} for c, u in zip(cameras, urls, strict=True)]
            config.write_text(
                json.dumps(
                    {
                        "cameras": cameras_json,
                        "root": str(work / "rec"),
                        "db": str(work / "index.sqlite3"),
                        "segment_seconds": 10,
                        "fsync": True,
                        "report": str(work / "report.json"),
                    }
                )
            )
            command = [sys.executable, str(Path(__file__).with_name("record_bench.py")), "_ours", str(config)]
        else:
            config.write_text(json.dumps(urls))
            command = [
                sys.executable,
                str(Path(__file__).resolve()),
                "_child",
                variant,
                str(config),
                str(work),
            ]
        child = start_ready_child(command, variant)
        try:
            used = measure_pids([child.pid], seconds)
        finally:
            child.send_signal(signal.SIGINT)
            child.wait(60)
    return used / len(cameras) / (seconds / 60)


def micro_cost(clip: Path, packets: int) -> float:
    """Python CPU per packet (µs) of ingest -> fan-out -> recorder, without network or disk waits."""
    from storage.database import Database
    from storage.migration import upgrade_to_head
    from streams.ingest import IngestWorker
    from streams.packet import DemuxedPacket, StreamFormat
    from streams.recorder import Housekeeper, RecorderSettings, SegmentRecorder
    from streams.source import FileConnection, SourceSpec

    spec = SourceSpec("cam1", "main", f"file://{clip}", "tcp", open_timeout_s=5, read_timeout_s=5)
    probe = FileConnection(spec, 1)
    fmt = probe.format
    probe.close()
    raws: list[tuple[bytes, int, int, bool]] = []  # data, pts, dts, keyframe
    with av.open(str(clip)) as container:
        video = container.streams.video[0]
        annexb = av.BitStreamFilterContext("h264_mp4toannexb", video)
        for packet in container.demux(video):
            if packet.size:
                for out in annexb.filter(packet):
                    assert out.pts is not None and out.dts is not None
                    raws.append((bytes(out), out.pts, out.dts, out.is_keyframe))
    assert len(raws) > 1
    period = raws[-1][1] - raws[0][1] + raws[1][1] - raws[0][1]

    class Replay:
        def __init__(self) -> None:
            self.format: StreamFormat = replace(fmt, connection_id=1)

        def packets(self, stop: threading.Event) -> Iterator[DemuxedPacket]:
            for n in range(packets):  # a new packet each time, as the demuxer returns them
                data, pts, dts, keyframe = raws[n % len(raws)]
                offset = (n // len(raws)) * period
                packet: DemuxedPacket = av.Packet(data)
                packet.pts, packet.dts, packet.is_keyframe = pts + offset, dts + offset, keyframe
                packet.time_base = fmt.time_base
                yield packet
            stop.set()

        def close(self) -> None:
            pass

    moment = [datetime(2026, 1, 1, tzinfo=UTC)]

    def now() -> datetime:  # one frame of arrival time per call: the stream looks real-time
        moment[0] += timedelta(seconds=0.04)
        return moment[0]

    work = Path(tempfile.mkdtemp(dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
    try:
        db = Database(f"sqlite:///{work / 'index.sqlite3'}")
        upgrade_to_head(db.engine)
        worker = IngestWorker(spec, now=now, open_source=lambda _s, _i: Replay())
        settings = RecorderSettings(segment_seconds=10.0, fsync=False)
        recorder = SegmentRecorder(camera_id="cam1", db=db, root=work / "rec", settings=settings)
        housekeeper = Housekeeper()
        recorder.attach(worker.fanout, housekeeper)  # as console.recording does
        began = time.process_time()
        worker.start()
        worker.join(120)
        recorder.stop()
        used = time.process_time() - began
        written = recorder.status().packets_written
        if written != packets:
            raise RuntimeError(f"micro: {written} of {packets} packets written")
        return used / packets * 1e6
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: Sequence[str]) -> int:
    if argv[:1] == ["_child"]:
        variant, config, work = argv[1], Path(argv[2]), Path(argv[3])
        child_threads(json.loads(config.read_text()), work if variant == "remux" else None)
        return 0
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cameras", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=40.0, help="measured window per variant")
    parser.add_argument(
        "--data", type=Path, default=Path("/tmp/record-bench"), help="where the clip is cached"
    )
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--micro-packets", type=int, default=20000, help="0 skips the no-network part")
    args = parser.parse_args(argv)
    checked = clip_and_variants(parser, args, VARIANTS)
    if checked is None:
        return 2
    clip, variants = checked
    print(f"load average at start: {os.getloadavg()[0]:.2f}; {args.cameras} cameras, {args.seconds:.0f} s")
    results: dict[str, float] = {}
    if variants:
        cameras = [f"cam{i:02d}" for i in range(args.cameras)]
        root = Path(tempfile.mkdtemp(prefix="pipeline-floor-"))
        server = RtspServer(dict.fromkeys(cameras, clip), log_dir=root)
        server.start()
        try:
            for variant in variants:
                results[variant] = run_variant(variant, server, cameras, args.seconds, root / variant)
                print(f"  {variant}: {results[variant]:.2f} s CPU per stream per minute", file=sys.stderr)
                time.sleep(3)
        finally:
            server.stop()
            shutil.rmtree(root, ignore_errors=True)
        peer = results.get("ffmpeg")
        print()
        print(f"| {args.cameras} cameras | CPU s / stream / min | vs ffmpeg |")
        print("|---|---:|---:|")
        for variant, value in results.items():
            ratio = f"{value / peer:.2f}x" if peer else "–"
            print(f"| {LABELS[variant]} | {value:.2f} | {ratio} |")
    if args.micro_packets:
        micro = micro_cost(clip, args.micro_packets)
        print()
        print(
            f"Python path without network ({args.micro_packets} packets, 10 s segments, tmpfs, no fsync): "
            f"{micro:.0f} µs per packet = {micro * 25 * 60 / 1e6:.2f} s CPU per 25 fps stream per minute"
        )
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
