"""File sources (``file:///clip.mp4``): real-time, looped, continuous timestamps; bad inputs; demo clips."""

from __future__ import annotations

import logging
import time
from fractions import Fraction
from pathlib import Path

import av
import pytest

from streams.backoff import BackoffPolicy
from streams.demo import make_demo_clips
from streams.error import StreamOpenError, StreamUnauthorizedError
from streams.fanout import StreamStarted
from streams.health import HealthState
from streams.ingest import IngestWorker
from streams.packet import MediaPacket
from streams.source import Connection, SourceSpec, annexb_extradata, open_connection, translate_open_error
from tests.streams.ingest_helpers import drain, wait_for
from tests.support.media import ClipCache, ClipSpec

pytestmark = pytest.mark.timeout(60)
FAST = BackoffPolicy(fast_s=0.3, cap_s=0.5)
ONE_SECOND = ClipSpec(seconds=1.0, gop=25)


def _file_spec(path: Path, camera_id: str = "demo") -> SourceSpec:
    return SourceSpec(camera_id, "main", path.as_uri(), read_timeout_s=2, open_timeout_s=2)


def test_file_source_loops_in_real_time_with_continuous_timestamps(clip_cache: ClipCache) -> None:
    clip = clip_cache.get(ONE_SECOND)
    worker = IngestWorker(_file_spec(clip), backoff=FAST)
    sub = worker.subscribe("recorder", maxsize=1000)
    started = time.monotonic()
    worker.start()
    try:
        time.sleep(2.6)
        items = drain(sub)
        health = worker.health()
    finally:
        worker.stop()
    assert isinstance(items[0], StreamStarted)
    fmt = items[0].format
    assert fmt.extradata is not None and fmt.extradata.startswith(b"\x00\x00\x00\x01")
    packets = [p for p in items if isinstance(p, MediaPacket)]
    assert 55 <= len(packets) <= 70, len(packets)  # real time: about 25 a second, not as fast as possible
    step = round(1 / (25 * fmt.time_base))
    pts = [p.pts or 0 for p in packets]
    assert pts == [pts[0] + i * step for i in range(len(pts))]  # continuous across two loops
    assert [i for i, p in enumerate(packets) if p.is_keyframe] == [0, 25, 50][: (len(packets) - 1) // 25 + 1]
    assert all(p.data.startswith((b"\x00\x00\x00\x01", b"\x00\x00\x01")) for p in packets)  # Annex B
    assert packets[25].data.find(b"\x00\x00\x00\x01\x67") >= 0  # SPS in band on every keyframe
    span_s = (packets[-1].ts_utc - packets[0].ts_utc).total_seconds()
    assert abs(span_s - (len(packets) - 1) / 25) < 0.1
    assert time.monotonic() - started >= 2.5
    assert health.state is HealthState.ONLINE and health.transport == "file"
    assert health.keyframe_interval_frames == 25


def test_missing_file_is_offline_with_a_clear_error(tmp_path: Path) -> None:
    worker = IngestWorker(_file_spec(tmp_path / "nope.mp4"), backoff=FAST)
    worker.start()
    try:
        wait_for(lambda: worker.health().last_error is not None, 5)
        health = worker.health()
    finally:
        worker.stop()
    assert health.state is HealthState.OFFLINE
    assert health.last_error is not None and "not found" in health.last_error


def _audio_only(path: Path) -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=8000)
        frame = av.AudioFrame(format="fltp", layout="mono", samples=1024)
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
        frame.sample_rate, frame.pts, frame.time_base = 8000, 0, Fraction(1, 8000)
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def test_stream_without_video_is_reported_not_crashed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    worker = IngestWorker(_file_spec(_audio_only(tmp_path / "audio.mp4"), "audio-cam"), backoff=FAST)
    worker.start()
    try:
        wait_for(lambda: worker.health().last_error is not None, 5)
        health = worker.health()
    finally:
        assert worker.stop()
    assert health.state is HealthState.OFFLINE
    assert health.last_error == "bad_format: no video stream"
    assert "audio-cam/main" in caplog.text


@pytest.mark.skipif("libx265" not in av.codecs_available, reason="PyAV built without libx265")
def test_hevc_camera_is_still_delivered_for_stream_copy(clip_cache: ClipCache) -> None:
    clip = clip_cache.get(ClipSpec(width=320, height=240, seconds=1.0, codec="libx265"))
    worker = IngestWorker(_file_spec(clip), backoff=FAST)
    sub = worker.subscribe("recorder")
    worker.start()
    try:
        time.sleep(1.2)
        items = drain(sub)
    finally:
        worker.stop()
    packets = [p for p in items if isinstance(p, MediaPacket)]
    assert packets and packets[0].format.codec == "hevc" and packets[0].is_keyframe


def test_unexpected_error_in_a_worker_is_logged_reported_and_retried(
    small_clip: Path, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[int] = []

    def flaky_open(spec: SourceSpec, connection_id: int) -> Connection:
        calls.append(connection_id)
        if len(calls) == 1:
            raise RuntimeError("bug in a decoder wrapper")
        return open_connection(spec, connection_id)

    caplog.set_level(logging.ERROR)
    worker = IngestWorker(_file_spec(small_clip), backoff=FAST, open_source=flaky_open)
    worker.start()
    try:
        wait_for(lambda: worker.health().state is HealthState.ONLINE, 5)
        health = worker.health()
    finally:
        worker.stop()
    assert health.last_error == "internal_error: bug in a decoder wrapper"
    assert len(calls) == 2
    assert "Traceback" in caplog.text and "demo/main" in caplog.text


def test_connection_errors_are_typed_and_redacted() -> None:
    spec = SourceSpec("cam1", "main", "rtsp://admin:s3cr3t@127.0.0.1:1/x", open_timeout_s=1, read_timeout_s=1)
    with pytest.raises(StreamOpenError) as caught:
        open_connection(spec, 1)
    assert "s3cr3t" not in str(caught.value) and "s3cr3t" not in repr(spec)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_avcc_extradata_becomes_annexb() -> None:
    sps, pps = b"\x67\x42\xc0\x1e\xda", b"\x68\xce\x0f\xc8"
    avcc = b"\x01\x42\xc0\x1e\xff\xe1" + len(sps).to_bytes(2, "big") + sps + b"\x01"
    avcc += len(pps).to_bytes(2, "big") + pps
    assert annexb_extradata(avcc) == b"\x00\x00\x00\x01" + sps + b"\x00\x00\x00\x01" + pps
    assert annexb_extradata(b"\x00\x00\x00\x01" + sps) is None
    assert annexb_extradata(avcc[:9]) is None


def test_demo_clips_are_h264_with_one_second_gop(tmp_path: Path) -> None:
    paths = make_demo_clips(tmp_path, count=2, width=320, height=180, seconds=2)
    assert [p.name.split("_")[0] for p in paths] == ["demo-yard", "demo-entrance"]
    for path in paths:
        with av.open(str(path)) as container:
            video = container.streams.video[0]
            assert video.codec_context.name == "h264"
            keys = [p.pts for p in container.demux(video) if p.is_keyframe and p.size]
        assert len(keys) == 2
    mtime = paths[0].stat().st_mtime_ns
    assert make_demo_clips(tmp_path, count=1, width=320, height=180, seconds=2)[0].stat().st_mtime_ns == mtime
    with pytest.raises(ValueError, match="count"):
        make_demo_clips(tmp_path, count=9)


def test_os_permission_errors_are_not_mistaken_for_a_wrong_camera_password() -> None:
    denied = translate_open_error(PermissionError(1, "Operation not permitted"))
    assert isinstance(denied, StreamOpenError) and not isinstance(denied, StreamUnauthorizedError)
    assert str(denied).startswith("permission denied")
    refused = av.error.HTTPUnauthorizedError(-825242872, "Server returned 401 Unauthorized")
    assert isinstance(translate_open_error(refused), StreamUnauthorizedError)
