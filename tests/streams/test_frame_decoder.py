"""The live frame decoder on real H.264 packets through a real fan-out subscription: pictures that come in
several packets (one per slice, as the RTSP demuxer hands on a multi-slice camera's frames) are decoded
whole, and the first frame after a reconnect carries its discontinuity mark."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from numpy.typing import NDArray

from streams.continuity import StreamBreak
from streams.fanout import Fanout, StreamStarted
from streams.frame_decoder import LiveFrameDecoder
from streams.packet import MediaPacket
from tests.support.mp4 import demux_packets, stream_format_of

START = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
FPS = 10


def _two_slice_clip(path: Path, frames: int = 30) -> Path:
    """A small H.264 clip whose every picture is two slices (x264 ``slices=2``), a keyframe every 10."""
    rng = np.random.default_rng(5)
    texture = rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        stream.time_base = Fraction(1, FPS)
        stream.options = {"preset": "ultrafast", "x264-params": "keyint=10:min-keyint=10:scenecut=0:slices=2"}
        for index in range(frames):
            picture = np.roll(texture, index * 4, axis=1)
            frame = av.VideoFrame.from_ndarray(picture, format="bgr24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def _slices(packet: MediaPacket) -> list[MediaPacket]:
    """The packet cut before its second slice (Annex B), as the RTSP demuxer delivers it."""
    data = packet.data
    starts = [i for i in range(len(data) - 3) if data[i : i + 3] == b"\x00\x00\x01"]
    slices = [i for i in starts if data[i + 3] & 0x1F in (1, 5)]
    if len(slices) < 2:
        return [packet]
    cut = slices[1] - (1 if data[slices[1] - 1] == 0 else 0)  # a 4-byte start code begins one earlier
    return [replace(packet, data=data[:cut]), replace(packet, data=data[cut:])]


def _decode(packets: list[MediaPacket | StreamStarted]) -> list[tuple[datetime, NDArray[np.uint8], object]]:
    fanout = Fanout("test")
    subscription = fanout.subscribe("detection", maxsize=1024)
    got: list[tuple[datetime, NDArray[np.uint8], object]] = []
    done = threading.Event()

    def deliver(camera: str, ts: datetime, image: NDArray[np.uint8], mark: StreamBreak | None) -> None:
        got.append((ts, image, mark))

    decoder = LiveFrameDecoder(subscription, "cam-1", fps=FPS, deliver=deliver)
    decoder.start()
    for item in packets:
        fanout.publish(item)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not done.is_set():
        if decoder.stats().packets >= sum(isinstance(p, MediaPacket) for p in packets):
            done.set()
        time.sleep(0.05)
    time.sleep(0.2)
    decoder.stop()
    return got


def test_a_picture_in_two_packets_is_decoded_whole_with_its_own_time(tmp_path: Path) -> None:
    clip = _two_slice_clip(tmp_path / "slices.mp4")
    with av.open(str(clip)) as container:
        expected = [np.asarray(f.to_ndarray(format="bgr24"), np.uint8) for f in container.decode(video=0)]
    fmt = stream_format_of(clip)
    packets = [p for whole in demux_packets(clip, start_utc=START) for p in _slices(whole)]
    assert len(packets) > len(expected)  # the pictures really came in pieces
    got = _decode([StreamStarted(fmt, START), *packets])
    assert len(got) >= len(expected) - 1  # the last one waits for a next picture that never comes
    for index, (ts, image, _) in enumerate(got):
        assert ts == START + timedelta(seconds=index / FPS)
        assert float(np.abs(image.astype(int) - expected[index]).mean()) < 0.5


def test_the_first_frame_after_a_reconnect_is_marked(tmp_path: Path) -> None:
    clip = _two_slice_clip(tmp_path / "slices.mp4", frames=20)
    fmt = stream_format_of(clip)
    first = list(demux_packets(clip, start_utc=START))
    later = START + timedelta(seconds=2.0)  # continuous in time: only the connection tells
    second_fmt = replace(fmt, connection_id=fmt.connection_id + 1)
    second = [replace(p, format=second_fmt) for p in demux_packets(clip, start_utc=later)]
    got = _decode([StreamStarted(fmt, START), *first, StreamStarted(second_fmt, later), *second])
    marks = [(ts, mark) for ts, _, mark in got if mark is not None]
    assert marks == [(START, StreamBreak.START), (later, StreamBreak.RECONNECT)]
