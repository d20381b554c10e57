"""Realistic recorder output for tests and benchmarks: fragmented-MP4 H.264 segments plus their index rows.

What the recorder writes (and what this module imitates): one file per segment, H.264 stream copy, each file
starting on a keyframe, fragmented MP4 (``frag_keyframe+empty_moov+default_base_moof``), consecutive in time,
recorded in the ``segments`` table with paths relative to the recordings root.

Two ways to make segments:

``write_segment_set(root, camera_id, start_utc, count=..., segment_s=...)``
    Encodes every segment with libx264 (no B-frames, fixed GOP). Each frame carries its global frame number
    drawn as a row of black/white blocks, so ``read_frame_mark(frame)`` tells which instant a decoded frame
    shows: tests can check that a clip starts and ends on the right frames. Cheap at 640x360.

``replicate_segments(master, root, camera_id, start_utc, count=...)``
    Stream-copies one encoded master segment into ``count`` consecutive segments (distinct files with their
    own index rows; the MP4 muxer starts every file at timestamp 0, as the recorder's files do, so their
    bytes are equal). This is how 20 minutes or 6 hours of 1080p footage are produced in seconds.

``insert_segment_rows(session, camera_id, segments)`` stores the rows (creating the camera row if needed).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from sqlalchemy.orm import Session

from storage.export import SegmentRef
from storage.layout import segment_relative_path
from storage.model import Camera, Segment, SegmentStatus

FRAGMENTED_MP4 = {"movflags": "frag_keyframe+empty_moov+default_base_moof"}
TIME_BASE = Fraction(1, 90000)
MARK_BITS = 20
MARK_BLOCK = 32


@dataclass(frozen=True)
class SegmentFile:
    """One generated segment file and what its index row says about it."""

    camera_id: str
    path: Path  # absolute
    relative_path: str  # relative to the recordings root, as stored in segments.path
    start_utc: datetime
    end_utc: datetime
    first_frame: int  # global frame number of the first frame (frame marks)
    frames: int
    keyframes: int
    sha256: str
    bytes: int


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def mark_image(frame_number: int, width: int, height: int, noise: np.ndarray | None = None) -> np.ndarray:
    """A grey frame with a moving bar and ``frame_number`` written as MARK_BITS blocks in the top row.

    ``noise`` (an image of the same size) is added below the marks, so a bit rate like a real camera's can
    be reached; the caller varies it per frame by rolling it.
    """
    image = np.full((height, width, 3), 96, np.uint8)
    if noise is not None:
        image[MARK_BLOCK:] = noise[MARK_BLOCK:]
    bar = (frame_number * 8) % max(width - 16, 1)
    image[height // 2 :, bar : bar + 16, :] = 200
    for bit in range(MARK_BITS):
        value = 255 if (frame_number >> bit) & 1 else 0
        x = bit * MARK_BLOCK
        image[0:MARK_BLOCK, x : x + MARK_BLOCK, :] = value
    return image


def read_frame_mark(frame: av.VideoFrame) -> int:
    """The frame number drawn by :func:`mark_image` into a decoded frame."""
    gray = frame.to_ndarray(format="gray")
    number = 0
    half = MARK_BLOCK // 2
    for bit in range(MARK_BITS):
        x = bit * MARK_BLOCK
        if gray[half - 4 : half + 4, x + half - 4 : x + half + 4].mean() > 128:
            number |= 1 << bit
    return number


def encode_segment(
    path: Path,
    *,
    first_frame: int,
    frames: int,
    width: int = 640,
    height: int = 360,
    fps: int = 25,
    gop: int = 25,
    bit_rate: int | None = None,
    preset: str = "ultrafast",
    noisy: bool = False,
) -> int:
    """Encode ``frames`` marked frames as one fragmented-MP4 segment; returns the number of keyframes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    options = {"preset": preset, "bf": "0", "g": str(gop), "keyint_min": str(gop), "sc_threshold": "0"}
    keyframes = 0
    with av.open(str(path), "w", format="mp4", options=FRAGMENTED_MP4) as output:
        stream = output.add_stream("libx264", rate=fps, options=options)
        stream.width = width
        stream.height = height
        stream.pix_fmt = "yuv420p"
        stream.time_base = TIME_BASE
        stream.codec_context.gop_size = gop
        if bit_rate is not None:
            stream.bit_rate = bit_rate
        ticks = int(1 / (TIME_BASE * fps))
        rng = np.random.default_rng(first_frame)
        noise = rng.integers(40, 200, (height, width, 3), dtype=np.uint8) if noisy else None
        for index in range(frames):
            shifted = None if noise is None else np.roll(noise, index * 7, axis=1)
            image = mark_image(first_frame + index, width, height, shifted)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = index * ticks
            frame.time_base = TIME_BASE
            for packet in stream.encode(frame):
                keyframes += int(packet.is_keyframe)
                output.mux(packet)
        for packet in stream.encode():
            keyframes += int(packet.is_keyframe)
            output.mux(packet)
    return keyframes


def write_segment_set(
    root: Path,
    camera_id: str,
    start_utc: datetime,
    *,
    count: int,
    segment_s: float = 4.0,
    fps: int = 25,
    gop: int = 25,
    width: int = 640,
    height: int = 360,
    skip: Sequence[int] = (),
) -> list[SegmentFile]:
    """``count`` consecutive encoded segments from ``start_utc``; indexes in ``skip`` are left out (gaps)."""
    frames = round(segment_s * fps)
    result: list[SegmentFile] = []
    for index in range(count):
        seg_start = start_utc + timedelta(seconds=index * frames / fps)
        if index in skip:
            continue
        relative = segment_relative_path(camera_id, seg_start)
        path = root / relative
        keyframes = encode_segment(
            path, first_frame=index * frames, frames=frames, width=width, height=height, fps=fps, gop=gop
        )
        result.append(
            SegmentFile(
                camera_id=camera_id,
                path=path,
                relative_path=relative,
                start_utc=seg_start,
                end_utc=seg_start + timedelta(seconds=frames / fps),
                first_frame=index * frames,
                frames=frames,
                keyframes=keyframes,
                sha256=file_sha256(path),
                bytes=path.stat().st_size,
            )
        )
    return result


def _remux(master: Path, dest: Path) -> tuple[int, int, float]:
    """Stream-copy ``master`` into ``dest``; returns (frames, keyframes, seconds)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    frames = keyframes = 0
    last_end = 0
    with av.open(str(master)) as source, av.open(str(dest), "w", format="mp4", options=FRAGMENTED_MP4) as out:
        in_stream = source.streams.video[0]
        out_stream = out.add_stream_from_template(in_stream)
        time_base = in_stream.time_base or TIME_BASE
        for packet in source.demux(in_stream):
            if packet.size == 0 or packet.dts is None:
                continue
            frames += 1
            keyframes += int(packet.is_keyframe)
            last_end = (packet.pts or packet.dts) + (packet.duration or 0)
            packet.stream = out_stream
            out.mux(packet)
    return frames, keyframes, float(last_end * time_base)


def replicate_segments(
    master: Path,
    root: Path,
    camera_id: str,
    start_utc: datetime,
    *,
    count: int,
) -> list[SegmentFile]:
    """``count`` consecutive segments copied from ``master`` (one encoded segment), each a distinct file."""
    result: list[SegmentFile] = []
    seg_start = start_utc
    for _ in range(count):
        relative = segment_relative_path(camera_id, seg_start)
        path = root / relative
        frames, keyframes, seconds = _remux(master, path)
        seg_end = seg_start + timedelta(seconds=seconds)
        result.append(
            SegmentFile(
                camera_id=camera_id,
                path=path,
                relative_path=relative,
                start_utc=seg_start,
                end_utc=seg_end,
                first_frame=0,
                frames=frames,
                keyframes=keyframes,
                sha256=file_sha256(path),
                bytes=path.stat().st_size,
            )
        )
        seg_start = seg_end
    return result


def insert_segment_rows(
    session: Session,
    camera_id: str,
    segments: Sequence[SegmentFile],
    *,
    camera_name: str | None = None,
    status: SegmentStatus = SegmentStatus.CLOSED,
) -> list[Segment]:
    """Index rows for ``segments`` (and the camera row when missing); flushed, not committed."""
    if session.get(Camera, camera_id) is None:
        session.add(Camera(id=camera_id, name=camera_name or camera_id.replace("-", " ").title()))
        session.flush()
    rows = [
        Segment(
            camera_id=camera_id,
            start_utc=seg.start_utc,
            end_utc=seg.end_utc,
            duration_s=(seg.end_utc - seg.start_utc).total_seconds(),
            bytes=seg.bytes,
            path=seg.relative_path,
            sha256=seg.sha256,
            status=status.value,
            codec="h264",
            keyframes=seg.keyframes,
        )
        for seg in segments
    ]
    session.add_all(rows)
    session.flush()
    return rows


# --- fixtures -------------------------------------------------------------------------------------------

MARKED_START_UTC = datetime(2025, 3, 1, 10, 0, 0, tzinfo=UTC)
MARKED_FPS = 25
MARKED_GOP = 50  # 2 s
MARKED_SEGMENT_S = 4.0


@dataclass(frozen=True)
class MarkedSegments:
    """Six consecutive 4 s segments of camera ``cam-1`` (640x360, 25 fps, GOP 2 s) under ``root``."""

    root: Path
    camera_id: str
    segments: list[SegmentFile]
    fps: int = MARKED_FPS
    gop: int = MARKED_GOP

    def frame_at(self, moment: datetime) -> int:
        """Global frame number shown at ``moment``."""
        return int((moment - MARKED_START_UTC).total_seconds() * self.fps + 1e-6)

    def time_of(self, frame_number: int) -> datetime:
        return MARKED_START_UTC + timedelta(seconds=frame_number / self.fps)


def make_marked_segments(root: Path) -> MarkedSegments:
    """Encode the :class:`MarkedSegments` set under ``root`` (about one second)."""
    segments = write_segment_set(
        root, "cam-1", MARKED_START_UTC, count=6, segment_s=MARKED_SEGMENT_S, fps=MARKED_FPS, gop=MARKED_GOP
    )
    return MarkedSegments(root=root, camera_id="cam-1", segments=segments)


@pytest.fixture(scope="session")
def marked_segments(tmp_path_factory: pytest.TempPathFactory) -> MarkedSegments:
    """Encoded once per session; tests must not modify these files (copy them first)."""
    return make_marked_segments(tmp_path_factory.mktemp("recordings"))


def segment_refs(segments: Sequence[SegmentFile]) -> list[SegmentRef]:
    """What ``storage.export.find_segments`` would return for these files (ids are list positions)."""
    return [
        SegmentRef(
            id=index,
            camera_id=seg.camera_id,
            path=seg.path,
            relative_path=seg.relative_path,
            start_utc=seg.start_utc,
            end_utc=seg.end_utc,
            sha256=seg.sha256,
            bytes=seg.bytes,
        )
        for index, seg in enumerate(segments)
    ]


# --- running a clip cut in a separate process (peak memory, fair timing) -------------------------------


def clip_job(
    dest: Path, camera_id: str, start_utc: datetime, end_utc: datetime, segments: Sequence[SegmentFile]
) -> dict[str, object]:
    """A JSON-ready description of a cut for ``python -m tests.support.clip_job JOB.json``."""
    return {
        "dest": str(dest),
        "camera_id": camera_id,
        "start_utc": start_utc.isoformat(),
        "end_utc": end_utc.isoformat(),
        "segments": [
            [str(s.path), s.relative_path, s.start_utc.isoformat(), s.end_utc.isoformat(), s.sha256, s.bytes]
            for s in segments
        ],
    }
