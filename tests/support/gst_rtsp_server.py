"""A real RTSP server for tests, run by the SYSTEM interpreter (``/usr/bin/python3``, which has ``gi``).

Each mount serves one H.264 MP4 file, looped for ever, without re-encoding: the file's access units are read
once (``qtdemux ! h264parse ! appsink``) and pushed in real time into an ``appsrc ! h264parse ! rtph264pay``
media of its own for every client (not shared: a shared media let one slow or half-set-up session stall every
other client of that mount, and a reconnect joined the stalled pipeline instead of getting a fresh one).

Usage::

    /usr/bin/python3 gst_rtsp_server.py --port 0 \
        --mount cam1=/tmp/a.mp4 --mount cam2=/tmp/b.mp4 [--auth user:secret] [--digest] [--file-pts]

Frames are stamped when they are pushed, in decoding order, so B-frames lose their reordering;
``--file-pts`` keeps it (each frame is shown its file's composition offset after it is decoded), as a camera
that encodes B-frames sends them.

Prints ``READY <port>`` on stdout once it listens on 127.0.0.1, or ``--address`` (``--port 0`` picks a free
port).
SIGTERM/SIGINT stop it cleanly. This file must stay importable by the venv's tooling (ruff, mypy) even though
the venv has no ``gi``: the GStreamer imports happen inside ``main()``.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

FRAME_DURATION_DEFAULT_NS = 40_000_000  # 25 fps when the file does not say


@dataclass
class AccessUnit:
    data: bytes
    keyframe: bool
    shown_after_ns: int = 0  # pts - dts in the file: > 0 for frames that B-frames come before


@dataclass
class Mount:
    name: str
    path: str
    units: list[AccessUnit] = field(default_factory=list)
    frame_ns: int = FRAME_DURATION_DEFAULT_NS
    caps: str = "video/x-h264,stream-format=byte-stream,alignment=au"
    # live appsrc elements fed by this mount: element -> index of the next access unit
    sources: dict[Any, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--address", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--mount", action="append", default=[], help="NAME=PATH.mp4")
    parser.add_argument("--auth", default=None, help="USER:PASSWORD required on every mount")
    parser.add_argument("--digest", action="store_true", help="digest instead of basic authentication")
    parser.add_argument("--file-pts", action="store_true", help="keep the file's B-frame reordering")
    return parser.parse_args(argv)


def read_access_units(gst: Any, mount: Mount) -> None:
    """Demux the file once into Annex B access units (SPS/PPS repeated before every IDR)."""
    pipeline = gst.parse_launch(
        f'filesrc location="{mount.path}" ! qtdemux ! h264parse config-interval=-1 ! '
        "video/x-h264,stream-format=byte-stream,alignment=au ! appsink name=sink sync=false"
    )
    sink = pipeline.get_by_name("sink")
    pipeline.set_state(gst.State.PLAYING)
    while True:
        sample = sink.emit("pull-sample")
        if sample is None:
            break
        buffer = sample.get_buffer()
        ok, info = buffer.map(gst.MapFlags.READ)
        if ok:
            data = bytes(info.data)
            buffer.unmap(info)
            keyframe = not buffer.has_flags(gst.BufferFlags.DELTA_UNIT)
            shown_after = 0
            if buffer.dts != gst.CLOCK_TIME_NONE and buffer.pts != gst.CLOCK_TIME_NONE:
                shown_after = max(0, buffer.pts - buffer.dts)
            mount.units.append(AccessUnit(data, keyframe, shown_after))
        if len(mount.units) == 1:
            structure = sample.get_caps().get_structure(0)
            found, num, den = structure.get_fraction("framerate")
            if found and num > 0:
                mount.frame_ns = int(1_000_000_000 * den / num)
    pipeline.set_state(gst.State.NULL)
    if not mount.units:
        raise SystemExit(f"no H.264 access units in {mount.path}")


def push_loop(gst: Any, mounts: list[Mount], stop: threading.Event, *, file_pts: bool = False) -> None:
    """Push the next access unit of every mount into each of its live appsrc elements, in real time.
    ``file_pts``: stamp it (dts: now; pts: the file's composition offset later) instead of letting the
    appsrc stamp it on arrival."""
    tick_ns = min(m.frame_ns for m in mounts)
    start = time.monotonic_ns()
    due: dict[str, int] = {m.name: 0 for m in mounts}
    while not stop.is_set():
        now = time.monotonic_ns() - start
        for mount in mounts:
            if due[mount.name] > now:
                continue
            due[mount.name] += mount.frame_ns
            if due[mount.name] < now - 1_000_000_000:  # we were stopped (SIGSTOP): do not burst
                due[mount.name] = now + mount.frame_ns
            with mount.lock:
                items = list(mount.sources.items())
            for source, index in items:
                if source.get_state(0)[1] != gst.State.PLAYING:
                    continue  # not before the media plays: pushing while its pads activate can wedge it
                unit = mount.units[index % len(mount.units)]
                buffer = gst.Buffer.new_wrapped(unit.data)
                buffer.duration = mount.frame_ns
                if file_pts:
                    _stamp_from_file(source, buffer, unit)
                if not unit.keyframe:
                    buffer.set_flags(gst.BufferFlags.DELTA_UNIT)
                source.emit("push-buffer", buffer)
                with mount.lock:
                    if source in mount.sources:
                        mount.sources[source] = index + 1
        sleep_ns = min(due.values()) - (time.monotonic_ns() - start)
        if sleep_ns > 0:
            stop.wait(min(sleep_ns, tick_ns) / 1e9)


def _stamp_from_file(source: Any, buffer: Any, unit: AccessUnit) -> None:
    clock = source.get_clock()
    if clock is None:
        return
    running_ns = clock.get_time() - source.get_base_time()
    buffer.dts = running_ns
    buffer.pts = running_ns + unit.shown_after_ns


# Every element a session's media is built from. Without this preload, and without holding pushes back
# until a media plays (``push_loop``), about one server start in 175 left one of two sessions that connected
# right away answering PLAY and sending RTCP but never a video packet: its appsrc queue grew while every
# element was PLAYING. With both, 0 in 900 starts (tests' flaky "resume within 3 s", found in session 8).
# Which of the two does it is not known; both are cheap.
MEDIA_ELEMENTS = (
    "appsrc", "h264parse", "rtph264pay", "rtpbin", "rtpsession", "rtpssrcdemux", "rtpstorage",
    "funnel", "tee", "queue", "appsink", "udpsrc", "multiudpsink",
)  # fmt: skip


def preload_elements(gst: Any) -> None:
    """Load and initialise the media elements once, in this thread, before any client connects."""
    for name in MEDIA_ELEMENTS:
        element = gst.ElementFactory.make(name, None)
        if element is None:
            raise SystemExit(f"GStreamer element {name!r} is missing")


def main(argv: list[str]) -> int:
    import gi

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtspServer

    args = parse_args(argv)
    Gst.init(None)
    mounts: list[Mount] = []
    for spec in args.mount:
        name, _, path = spec.partition("=")
        mounts.append(Mount(name=name.strip("/"), path=path))
    if not mounts:
        raise SystemExit("at least one --mount NAME=PATH is required")
    for mount in mounts:
        read_access_units(Gst, mount)
    preload_elements(Gst)
    server = GstRtspServer.RTSPServer()
    server.set_address(args.address)
    server.set_service(str(args.port))
    if args.auth:
        user, _, password = args.auth.partition(":")
        # No default token: an anonymous client gets 401 and must authenticate (FFmpeg then retries).
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string("media.factory.role", user)
        if args.digest:
            auth.set_supported_methods(GstRtspServer.RTSPAuthMethod.DIGEST)
            auth.add_digest(user, password, token)
        else:
            auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
        server.set_auth(auth)

    points = server.get_mount_points()
    for mount in mounts:
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(
            f"( appsrc name=src is-live=true format=time do-timestamp={str(not args.file_pts).lower()} "
            f"caps={mount.caps} "
            "max-buffers=100 leaky-type=downstream ! h264parse config-interval=-1 ! "
            "rtph264pay name=pay0 pt=96 config-interval=-1 )"
        )
        factory.set_shared(False)
        if args.auth:
            role = args.auth.partition(":")[0]
            factory.add_role_from_structure(
                Gst.Structure.new_from_string(
                    f"{role},media.factory.access=(boolean)true,media.factory.construct=(boolean)true"
                )
            )
        factory.connect("media-configure", _on_media_configure, mount)
        points.add_factory(f"/{mount.name}", factory)

    if server.attach(None) == 0:
        raise SystemExit(f"cannot listen on {args.address}:{args.port}")
    loop = GLib.MainLoop()
    stop = threading.Event()

    def _quit(*_: object) -> bool:
        stop.set()
        loop.quit()
        return False

    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, _quit)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, _quit)
    pusher = threading.Thread(
        target=push_loop,
        args=(Gst, mounts, stop),
        kwargs={"file_pts": args.file_pts},
        name="push",
        daemon=True,
    )
    pusher.start()
    sys.stdout.write(f"READY {server.get_bound_port()}\n")
    sys.stdout.flush()
    loop.run()
    stop.set()
    pusher.join(2)
    return 0


def _on_media_configure(_factory: Any, media: Any, mount: Mount) -> None:
    source = media.get_element().get_by_name("src")
    with mount.lock:
        mount.sources[source] = 0  # every new media starts on the file's first IDR

    def _gone(*_: object) -> None:
        with mount.lock:
            mount.sources.pop(source, None)

    media.connect("unprepared", _gone)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
