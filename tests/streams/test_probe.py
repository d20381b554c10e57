"""Trying a camera URL before it is saved (``streams.probe``), against a real RTSP server: a picture and the
stream's facts when it works; a specific reason when the port is closed, the server never answers, the
password is wrong or the path is unknown; and never the password in what comes back."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.error import StreamError, StreamOpenError, StreamStalledError, StreamUnauthorizedError
from streams.probe import ProbeReason, probe_reason, probe_stream
from tests.support.media import ClipCache, ClipSpec
from tests.support.rtsp_server import RtspServerFactory

pytestmark = [pytest.mark.rtsp, pytest.mark.timeout(90)]

JPEG_MAGIC = b"\xff\xd8\xff"


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections and never says a word."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        yield listener.getsockname()[1]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (StreamUnauthorizedError("unauthorized: 401"), ProbeReason.UNAUTHORIZED),
        (StreamStalledError("no data"), ProbeReason.TIMEOUT),
        (StreamOpenError("timed out connecting: Immediate exit requested"), ProbeReason.TIMEOUT),
        (StreamOpenError("connection refused: [Errno 111] Connection refused"), ProbeReason.REFUSED),
        (StreamOpenError("not found: rtsp://a:***@h/x"), ProbeReason.NOT_FOUND),
        (StreamOpenError("Server returned 404 Not Found"), ProbeReason.NOT_FOUND),
        (StreamOpenError("Invalid data found when processing input"), ProbeReason.CONNECT_FAILED),
    ],
)
def test_probe_reason_of_each_ingest_error(error: StreamError, reason: ProbeReason) -> None:
    assert probe_reason(error) is reason


def test_an_open_that_ran_into_the_deadline_timed_out() -> None:
    error = StreamOpenError("[Errno 1094995529] Invalid data found when processing input")
    assert probe_reason(error, hit_deadline=True) is ProbeReason.TIMEOUT
    assert probe_reason(error, hit_deadline=False) is ProbeReason.CONNECT_FAILED


def test_a_working_camera_gives_a_picture_and_its_format(rtsp_server_factory: RtspServerFactory) -> None:
    server = rtsp_server_factory(auth=("viewer", "s3cret-pw"))
    result = probe_stream(server.url("cam1", "viewer", "s3cret-pw"), timeout_s=5)
    assert result.ok and result.reason is None, result.detail
    assert (result.codec, result.width, result.height) == ("h264", 640, 360)
    assert result.fps == pytest.approx(25, abs=0.5)
    assert result.jpeg is not None and result.jpeg.startswith(JPEG_MAGIC)
    assert result.elapsed_s < 5


def test_wrong_password_is_unauthorized_and_never_echoed(rtsp_server_factory: RtspServerFactory) -> None:
    server = rtsp_server_factory(auth=("viewer", "s3cret-pw"))
    result = probe_stream(server.url("cam1", "viewer", "wrong-pw-77"), timeout_s=5)
    assert not result.ok and result.reason is ProbeReason.UNAUTHORIZED
    assert "wrong-pw-77" not in repr(result)


def test_unknown_path_is_not_found(rtsp_server_factory: RtspServerFactory) -> None:
    server = rtsp_server_factory()
    result = probe_stream(server.url("cam1").replace("/cam1", "/nosuch"), timeout_s=5)
    assert not result.ok and result.reason in (ProbeReason.NOT_FOUND, ProbeReason.CONNECT_FAILED), result


def test_closed_port_is_refused_at_once() -> None:
    started = time.monotonic()
    result = probe_stream(f"rtsp://admin:pw-x1@127.0.0.1:{closed_port()}/x", timeout_s=5)
    assert not result.ok and result.reason is ProbeReason.REFUSED, result
    assert time.monotonic() - started < 4
    assert "pw-x1" not in repr(result)


def test_a_silent_server_times_out_within_the_limit(silent_port: int) -> None:
    started = time.monotonic()
    result = probe_stream(f"rtsp://127.0.0.1:{silent_port}/x", timeout_s=1.5)
    elapsed = time.monotonic() - started
    assert not result.ok and result.reason is ProbeReason.TIMEOUT, result
    assert 1.0 < elapsed < 10


def test_a_stream_that_is_not_h264_is_described_but_flagged(clip_cache: ClipCache) -> None:
    clip: Path = clip_cache.get(ClipSpec(codec="mpeg4", seconds=1.0))
    result = probe_stream(clip.as_uri(), timeout_s=5)
    assert not result.ok and result.reason is ProbeReason.NOT_H264
    assert result.codec == "mpeg4" and (result.width, result.height) == (640, 360)
    assert result.jpeg is not None and result.jpeg.startswith(JPEG_MAGIC)
