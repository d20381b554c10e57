"""Pytest side of the real RTSP test server (``gst_rtsp_server.py`` run by the system interpreter).

``RtspServer`` starts, kills, restarts (same port) and stalls (SIGSTOP: the sockets stay open, nothing is
sent) the server process. ``host`` and ``command_prefix`` run it elsewhere than 127.0.0.1, e.g. inside a
network namespace (``["ip", "netns", "exec", NAME]``, tests/support/veth_link.py). Fixtures:

- ``rtsp_server``: mounts ``cam1`` and ``cam2`` serving the small 640x360 25 fps clip (GOP 25), no auth.
- ``rtsp_server_factory``: ``rtsp_server_factory({"cam1": path, ...}, auth=("user", "pw"), digest=False,
  file_pts=False)``; ``file_pts`` sends B-frames reordered, as a camera does (see ``gst_rtsp_server.py``).

Both skip the test with a clear reason when the GStreamer RTSP server is not installed.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.support.media import ClipCache

SYSTEM_PYTHON = Path("/usr/bin/python3")
SERVER_SCRIPT = Path(__file__).with_name("gst_rtsp_server.py")
READY_TIMEOUT_S = 30.0

_probe_result: str | None = None


def missing_reason() -> str | None:
    """Why the GStreamer RTSP server cannot run here, or None when it can (checked once per session)."""
    global _probe_result
    if _probe_result is not None:
        return _probe_result or None
    if not SYSTEM_PYTHON.exists():
        _probe_result = f"{SYSTEM_PYTHON} not found (the RTSP test server needs the system python3 with gi)"
        return _probe_result
    probe = (
        "import gi; gi.require_version('Gst', '1.0'); gi.require_version('GstRtspServer', '1.0'); "
        "from gi.repository import Gst, GstRtspServer; Gst.init(None); "
        "missing = [e for e in ('appsrc', 'h264parse', 'rtph264pay', 'qtdemux', 'appsink') "
        "if Gst.ElementFactory.find(e) is None]; print(','.join(missing))"
    )
    done = subprocess.run(
        [str(SYSTEM_PYTHON), "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    if done.returncode != 0:
        _probe_result = (
            "GStreamer RTSP server not available for /usr/bin/python3 (install python3-gi, "
            "gir1.2-gst-rtsp-server-1.0, gstreamer1.0-plugins-{base,good,bad}): " + done.stderr.strip()[-300:]
        )
    elif done.stdout.strip():
        _probe_result = f"GStreamer elements missing: {done.stdout.strip()} (install gstreamer1.0-plugins-*)"
    else:
        _probe_result = ""
    return _probe_result or None


class RtspServerError(RuntimeError):
    """The test server did not come up."""


class RtspServer:
    """A real RTSP server process on ``host`` (127.0.0.1) serving ``mounts`` (name -> H.264 MP4 path)."""

    def __init__(
        self,
        mounts: Mapping[str, Path],
        *,
        auth: tuple[str, str] | None = None,
        digest: bool = False,
        file_pts: bool = False,
        port: int = 0,
        log_dir: Path | None = None,
        host: str = "127.0.0.1",
        command_prefix: Sequence[str] = (),
    ) -> None:
        if not mounts:
            raise ValueError("an RTSP server needs at least one mount")
        self.mounts = dict(mounts)
        self.auth = auth
        self.digest = digest
        self.file_pts = file_pts
        self.port = port
        self.log_dir = log_dir
        self.host = host
        self.command_prefix = tuple(command_prefix)
        self._process: subprocess.Popen[bytes] | None = None
        self._stalled = False
        self.starts = 0

    # lifecycle -------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start and wait until it listens; the first start picks a free port, later ones reuse it."""
        if self._process is not None:
            raise RtspServerError("RTSP test server already running")
        command = [*self.command_prefix, str(SYSTEM_PYTHON), str(SERVER_SCRIPT), "--port", str(self.port)]
        command += ["--address", self.host]
        for name, path in self.mounts.items():
            command += ["--mount", f"{name}={path}"]
        if self.auth is not None:
            command += ["--auth", f"{self.auth[0]}:{self.auth[1]}"]
        if self.digest:
            command.append("--digest")
        if self.file_pts:
            command.append("--file-pts")
        stderr_path = (self.log_dir or Path("/tmp")) / f"rtsp-server-{os.getpid()}-{id(self)}.log"
        # Keep HOME-based caches (GStreamer registry) out of the real home directory.
        environ = {**os.environ, "GST_DEBUG": os.environ.get("GST_DEBUG", "1")}
        deadline = time.monotonic() + READY_TIMEOUT_S
        for attempt in range(20):
            with stderr_path.open("ab") as stderr:
                process = subprocess.Popen(
                    command, stdout=subprocess.PIPE, stderr=stderr, env=environ, start_new_session=True
                )
            line = self._read_ready(process, deadline)
            if line is not None:
                self.port = int(line.split()[1])
                self._process = process
                self._stalled = False
                self.starts += 1
                return
            process.kill()
            process.wait(5)
            # A restart can race the old socket's release: retry briefly on the same port.
            if self.port == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.1 * (attempt + 1))
        tail = stderr_path.read_text(errors="replace")[-2000:] if stderr_path.exists() else ""
        raise RtspServerError(f"RTSP test server did not become ready on port {self.port}:\n{tail}")

    @staticmethod
    def _read_ready(process: subprocess.Popen[bytes], deadline: float) -> str | None:
        assert process.stdout is not None
        buffer = b""
        while time.monotonic() < deadline:
            if process.poll() is not None:
                return None
            ready, _, _ = select.select([process.stdout], [], [], 0.1)
            if not ready:
                continue
            chunk = os.read(process.stdout.fileno(), 4096)
            if not chunk:
                return None
            buffer += chunk
            for line in buffer.decode(errors="replace").splitlines():
                if line.startswith("READY "):
                    return line
        return None

    def stop(self) -> None:
        """Kill the server (like a camera losing power): clients see the connection drop."""
        process, self._process = self._process, None
        if process is None:
            return
        if self._stalled:
            os.killpg(process.pid, signal.SIGCONT)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()
        self._stalled = False

    def restart(self) -> None:
        """Kill and start again on the same port."""
        self.stop()
        self.start()

    def stall(self) -> None:
        """Freeze the server (SIGSTOP): connections stay open but no packet is sent."""
        if self._process is None:
            raise RtspServerError("RTSP test server is not running")
        os.killpg(self._process.pid, signal.SIGSTOP)
        self._stalled = True

    def resume(self) -> None:
        if self._process is None:
            raise RtspServerError("RTSP test server is not running")
        os.killpg(self._process.pid, signal.SIGCONT)
        self._stalled = False

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int:
        """The server process's id (benchmarks read its CPU from ``/proc``)."""
        if self._process is None:
            raise RtspServerError("RTSP test server is not running")
        return self._process.pid

    def url(self, mount: str, user: str | None = None, password: str | None = None) -> str:
        """``rtsp://[user[:password]@]HOST:PORT/mount``."""
        if mount.strip("/") not in self.mounts:
            raise KeyError(f"no mount {mount!r} (have {sorted(self.mounts)})")
        userinfo = ""
        if user is not None:
            userinfo = quote(user, safe="")
            if password is not None:
                userinfo += ":" + quote(password, safe="")
            userinfo += "@"
        return f"rtsp://{userinfo}{self.host}:{self.port}/{mount.strip('/')}"

    def __enter__(self) -> RtspServer:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


RtspServerFactory = Callable[..., RtspServer]


def _require_server() -> None:
    reason = missing_reason()
    if reason is not None:
        pytest.skip(reason)


@pytest.fixture
def rtsp_server_factory(clip_cache: ClipCache, tmp_path: Path) -> Iterator[RtspServerFactory]:
    """Start servers with custom mounts; every one is killed at teardown, even when the test fails."""
    _require_server()
    servers: list[RtspServer] = []

    def _factory(
        mounts: Mapping[str, Path] | None = None,
        *,
        auth: tuple[str, str] | None = None,
        digest: bool = False,
        file_pts: bool = False,
    ) -> RtspServer:
        clip = clip_cache.get()
        server = RtspServer(
            mounts or {"cam1": clip}, auth=auth, digest=digest, file_pts=file_pts, log_dir=tmp_path
        )
        servers.append(server)
        server.start()
        return server

    yield _factory
    for server in servers:
        server.stop()


@pytest.fixture
def rtsp_server(rtsp_server_factory: RtspServerFactory, small_clip: Path) -> RtspServer:
    """A running server with mounts ``cam1`` and ``cam2`` (640x360, 25 fps, a keyframe every second)."""
    return rtsp_server_factory({"cam1": small_clip, "cam2": small_clip})
