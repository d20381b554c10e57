"""Live view benchmark: time to first frame, added latency of the live path, CPU per viewer.

Run as root (it creates a network namespace, like the browser tests)::

    .venv/bin/python bench/live_bench.py [--viewers 1,8,16] [--measure-s 10] [--no-transcode]

What it does, all inside a throwaway network namespace:
- makes a 1920x1080 25 fps H.264 clip at 4 Mbit/s with a keyframe every 2 s (and the same in H.265 for the
  transcode fallback), serves the H.264 one from the real GStreamer RTSP test server;
- runs a small live station in a separate process (``--serve``: IngestManager + LiveRegistry behind a
  two-route HTTP app), so its CPU time can be read from /proc;
- drives Debian's Chromium (Playwright) as the viewers.

Figures printed:
- time to first frame of a new viewer (offer sent -> first frame decoded, requestVideoFrameCallback), against
  the camera's keyframe interval;
- added latency: packet arrival at the station -> frame decoded in Chromium (rvfc presentationTime), matched
  by RTP timestamp; split into station (arrival -> handed to the sender) and network + browser;
- station CPU (% of one core) with 1, 8 and 16 viewers, passthrough and transcoded (H.265 -> H.264 640 px).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from fractions import Fraction
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CLIP_DIR = Path(tempfile.gettempdir()) / "live-bench-clips"
PORT = 8097
GOP_S = 2.0


def make_clip(path: Path, codec: str, seconds: float = 8.0) -> Path:
    import av
    import numpy as np

    if path.exists():
        return path
    tmp = path.with_suffix(".partial.mp4")
    width, height, fps = 1920, 1080, 25
    with av.open(str(tmp), "w", format="mp4") as container:
        stream: Any = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.bit_rate = 4_000_000
        stream.time_base = Fraction(1, fps * 512)
        gop = int(GOP_S * fps)
        params = f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes=0"
        params += ":bitrate=4000:vbv-maxrate=4000:vbv-bufsize=4000"
        if codec == "libx264":
            stream.options = {"preset": "veryfast", "x264-params": params + ":slices=1"}
        else:
            stream.options = {"preset": "ultrafast", "x265-params": params + ":log-level=error"}
        noise = np.random.default_rng(1).integers(0, 48, (height, width, 3), dtype=np.uint8)
        gradient = (np.arange(width, dtype=np.uint16)[None, :, None] * 255 // width).astype(np.uint8)
        base = (noise + gradient).astype(np.uint8)  # texture so 4 Mbit/s is actually spent
        for index in range(int(seconds * fps)):
            image = np.roll(base, 12 * index, axis=1)
            image[(index * 20) % (height - 40) :][:40] = 255
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = index * 512
            frame.time_base = stream.time_base
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    tmp.replace(path)
    return path


# the station side (separate process) --------------------------------------------------------------------


def serve(camera_urls: dict[str, str], port: int, host: str) -> None:
    import uvicorn
    from fastapi import FastAPI
    from fastapi.responses import HTMLResponse

    from config.schema import CameraConfig
    from console.live import LiveRegistry, LiveSession
    from streams.ingest import IngestManager

    cameras = [
        CameraConfig(id=k, name=k, url=v, open_timeout_s=5, read_timeout_s=5) for k, v in camera_urls.items()
    ]
    ingest = IngestManager(cameras)
    ingest.start()
    state: dict[str, LiveRegistry] = {}
    app = FastAPI()

    def registry() -> LiveRegistry:
        if "live" not in state:
            state["live"] = LiveRegistry(ingest, cameras, record_latency=True)
        return state["live"]

    @app.get("/")
    def page() -> HTMLResponse:
        return HTMLResponse("<!doctype html><title>bench</title><body></body>")

    @app.post("/offer")
    async def offer(body: dict[str, str]) -> dict[str, Any]:
        answer = await registry().answer(
            camera_id=body["camera_id"],
            requested_stream="main",
            sdp=body["sdp"],
            sdp_type="offer",
            user_id=None,
            username="bench",
        )
        return {"session_id": answer.session_id, "sdp": answer.sdp, "type": answer.type}

    @app.post("/close_all")
    async def close_all() -> dict[str, int]:
        live = registry()
        for session_id in list(live._sessions):
            await live.close_session(session_id)
        return {"viewers": live.stats().viewers}

    @app.get("/stats")
    async def stats() -> dict[str, Any]:
        s = registry().stats()
        return {
            "viewers": s.viewers,
            "frames_encoded": s.frames_encoded,
            "senders_encoding": s.senders_encoding,
            "transcoders": s.transcoders,
            "dropped": sum(x.dropped for x in s.sessions),
        }

    @app.get("/latency/{prefix}")
    async def latency(prefix: str) -> list[tuple[int, float, float]]:
        live = registry()
        session: LiveSession = next(s for s in live._sessions.values() if s.id.startswith(prefix))
        return [(pts, arrival.timestamp(), sent) for pts, arrival, sent in session.latency_log]

    print(f"SERVING {os.getpid()}", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")


# the viewer side (Chromium) ----------------------------------------------------------------------

VIEWER_JS = """
window.bench = { pcs: [], frames: [], first: {} };
window.openViewer = async (camera, withVideo, collect) => {
  const started = performance.now();
  const pc = new RTCPeerConnection({ iceServers: [] });
  const tr = pc.addTransceiver('video', { direction: 'recvonly' });
  const codecs = RTCRtpReceiver.getCapabilities('video').codecs.filter((c) => /h264|rtx/i.test(c.mimeType));
  tr.setCodecPreferences(codecs);
  const index = window.bench.pcs.length;
  const video = document.createElement('video');
  video.muted = true; video.autoplay = true; video.playsInline = true;
  video.width = 160; video.height = 90;
  if (withVideo) document.body.appendChild(video);
  const entry = { pc, video, index, session: null, firstFrameMs: null };
  window.bench.pcs.push(entry);
  pc.ontrack = (e) => {
    video.srcObject = new MediaStream([e.track]);
    video.play().catch(() => {});
    const onFrame = (now, meta) => {
      if (entry.firstFrameMs === null) entry.firstFrameMs = performance.now() - started;
      if (collect) window.bench.frames.push({ rtp: meta.rtpTimestamp,
        presented: performance.timeOrigin + meta.presentationTime,
        received: meta.receiveTime ? performance.timeOrigin + meta.receiveTime : null });
      video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
  };
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((resolve) => {
    if (pc.iceGatheringState === 'complete') return resolve();
    pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && resolve());
    setTimeout(resolve, 2000);
  });
  const r = await fetch('/offer', { method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ camera_id: camera, sdp: pc.localDescription.sdp }) });
  const answer = await r.json();
  entry.session = answer.session_id;
  await pc.setRemoteDescription({ type: answer.type, sdp: answer.sdp });
  return index;
};
window.receiving = async () => {
  let count = 0;
  for (const e of window.bench.pcs) {
    const stats = await e.pc.getStats();
    stats.forEach((r) => {
      if (r.type === 'inbound-rtp' && r.kind === 'video' && r.bytesReceived > 0) count += 1;
    });
  }
  return count;
};
window.closeAll = async () => {
  for (const e of window.bench.pcs) { e.pc.close(); e.video.remove(); }
  window.bench.pcs = []; window.bench.frames = [];
  await fetch('/close_all', { method: 'POST' });
};
"""


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_frames(page: Any, count: int, timeout_s: float = 30) -> None:
    page.wait_for_function(
        f"() => window.bench.pcs.length >= {count} && window.bench.pcs.every((e) => e.firstFrameMs !== null)",
        timeout=timeout_s * 1000,
    )


def measure_ttff(page: Any, camera: str, trials: int) -> list[float]:
    values = []
    for _ in range(trials):
        page.evaluate(f"() => openViewer('{camera}', true, false)")
        wait_frames(page, 1)
        values.append(page.evaluate("() => window.bench.pcs[0].firstFrameMs") / 1000)
        page.evaluate("() => closeAll()")
        time.sleep(0.37 * (1 + len(values) % 3))  # join at different points of the GOP
    return values


def measure_latency(page: Any, base: str, camera: str, seconds: float) -> dict[str, float]:
    page.evaluate(f"() => openViewer('{camera}', true, true)")
    wait_frames(page, 1)
    time.sleep(seconds)
    frames = page.evaluate("() => window.bench.frames")
    session = page.evaluate("() => window.bench.pcs[0].session")
    log = page.evaluate(f"() => fetch('{base}/latency/{session}').then((r) => r.json())")
    page.evaluate("() => closeAll()")
    frames = [f for f in frames if f["rtp"] is not None]
    pts_values = [entry[0] for entry in log]
    offsets = Counter((f["rtp"] - p) % 2**32 for f in frames[-200:] for p in pts_values[-400:])
    origin, _ = offsets.most_common(1)[0]
    by_pts = {entry[0]: entry for entry in log}
    total, station, rest = [], [], []
    for frame in frames:
        entry = by_pts.get((frame["rtp"] - origin) % 2**32)
        if entry is None:
            continue
        _, arrival, sent = entry
        total.append(frame["presented"] / 1000 - arrival)
        station.append(sent - arrival)
        rest.append(frame["presented"] / 1000 - sent)
    if not total:
        return {"matched": 0}
    q = statistics.quantiles(total, n=20)
    return {
        "matched": len(total),
        "median_ms": statistics.median(total) * 1000,
        "p95_ms": q[18] * 1000,
        "station_median_ms": statistics.median(station) * 1000,
        "network_browser_median_ms": statistics.median(rest) * 1000,
    }


def measure_cpu(page: Any, base: str, pid: int, camera: str, viewers: int, seconds: float) -> dict[str, Any]:
    for _ in range(viewers):  # no <video> element: Chromium receives, we measure the station only
        page.evaluate(f"() => openViewer('{camera}', false, false)")
    deadline = time.monotonic() + 60
    while page.evaluate("() => receiving()") < viewers and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(2)
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    cpu1, t1 = cpu_seconds(pid), time.monotonic()
    stats = page.evaluate(f"() => fetch('{base}/stats').then((r) => r.json())")
    playing = page.evaluate("() => receiving()")
    page.evaluate("() => closeAll()")
    time.sleep(1)
    percent = 100 * (cpu1 - cpu0) / (t1 - t0)
    return {
        "viewers": viewers,
        "playing": playing,
        "station_cpu_percent": round(percent, 1),
        "per_viewer_percent": round(percent / viewers, 2),
        **stats,
    }


def run_inside(args: argparse.Namespace) -> None:
    from playwright.sync_api import sync_playwright

    from tests.support.netns import NetNamespace  # noqa: F401 - same helpers as the tests
    from tests.support.rtsp_server import RtspServer

    CLIP_DIR.mkdir(exist_ok=True)
    h264 = make_clip(CLIP_DIR / "bench_1080p_4M_gop2_h264.mp4", "libx264")
    hevc = make_clip(CLIP_DIR / "bench_1080p_4M_gop2_hevc.mp4", "libx265") if args.transcode else None
    server = RtspServer({"cam": h264})
    server.start()
    cameras = {"cam": server.url("cam")}
    if hevc is not None:
        cameras["hevc"] = hevc.as_uri()
    station = subprocess.Popen(
        [sys.executable, __file__, "--serve", json.dumps(cameras), "--host", args.host],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert station.stdout is not None
    line = station.stdout.readline()
    pid = int(line.split()[1])
    threading.Thread(target=station.stdout.read, daemon=True).start()
    base = f"http://{args.host}:{PORT}"
    results: dict[str, Any] = {"keyframe_interval_s": GOP_S, "camera": "1920x1080 25 fps H.264 4 Mbit/s"}
    home = Path(tempfile.mkdtemp(prefix="bench-chrome-"))
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium",
                headless=True,
                args=[
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--autoplay-policy=no-user-gesture-required",
                ],
                env={**os.environ, "HOME": str(home)},
            )
            page = browser.new_page()
            for _ in range(100):
                try:
                    page.goto(base + "/", timeout=3000)
                    break
                except Exception:  # noqa: BLE001 - station still starting
                    time.sleep(0.3)
            page.evaluate(VIEWER_JS)
            time.sleep(3)  # camera connected, past the initial burst
            ttff = measure_ttff(page, "cam", args.trials)
            results["time_to_first_frame_s"] = {
                "values": [round(v, 3) for v in ttff],
                "median": round(statistics.median(ttff), 3),
                "max": round(max(ttff), 3),
            }
            results["latency"] = measure_latency(page, base, "cam", args.latency_s)
            print(json.dumps(results), flush=True)
            results["cpu_passthrough"] = []
            for n in args.viewers:
                results["cpu_passthrough"].append(measure_cpu(page, base, pid, "cam", n, args.measure_s))
                print(json.dumps(results["cpu_passthrough"][-1]), flush=True)
            if hevc is not None:
                results["cpu_transcoded"] = []
                for n in args.viewers:
                    results["cpu_transcoded"].append(measure_cpu(page, base, pid, "hevc", n, args.measure_s))
                    print(json.dumps(results["cpu_transcoded"][-1]), flush=True)
            browser.close()
    finally:
        station.terminate()
        station.wait(10)
        server.stop()
    print(json.dumps(results, indent=2))
    print(f"cores: {os.cpu_count()}; load while measuring includes Chromium decoding every viewer")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--viewers", default="1,8,16")
    parser.add_argument("--measure-s", type=float, default=10.0)
    parser.add_argument("--latency-s", type=float, default=8.0)
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--no-transcode", dest="transcode", action="store_false")
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--host", default="10.231.7.1")
    args = parser.parse_args()
    args.viewers = [int(v) for v in str(args.viewers).split(",")]
    if args.serve:
        serve(json.loads(args.serve), PORT, args.host)
        return
    if args.inside:
        run_inside(args)
        return
    from tests.support.netns import NetNamespace, missing_reason

    reason = missing_reason()
    if reason:
        sys.exit(f"live_bench: {reason}")
    with NetNamespace(f"lb{os.getpid() % 10000}", subnet="10.231.7") as namespace:
        command = [*namespace.prefix(), sys.executable, __file__, "--inside", *sys.argv[1:]]
        sys.exit(subprocess.call(command))


if __name__ == "__main__":
    main()
