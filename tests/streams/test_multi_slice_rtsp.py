"""End to end with cameras that encode several slices per picture: real RTSP server -> ingest -> fan-out ->
SegmentRecorder -> MP4 segments probed and decoded with PyAV, frame by frame against the source clip.

FFmpeg's RTSP demuxer (with its H.264 parser) hands on a keyframe whose slices each carry the parameter sets
(what the test server's ``h264parse config-interval=-1`` sends, and cameras that repeat SPS/PPS per slice) as
one packet per slice, all with the picture's timestamp. Recorded as they came, each keyframe became two MP4
samples (the second nudged one tick later), each decoded as its own picture with half of it concealed. The
connection now joins a keyframe's slices into one packet (``streams.source.whole_pictures``), so every
consumer of the fan-out (recorder, live view, frame decoder, snapshot) gets whole pictures.

Measured (5 December, two-slice clip, 2 s segments): before, a 3 s file held 78 samples for 75 pictures
(6 flagged key for 3 keyframes, each second half one tick long), the recorder counted 7 timestamp fixes and
none of 390 pictures decoded from the files and a clip cut from them matched the source (worst mean error
66.8 grey levels: every GOP decoded from a half-concealed keyframe); after, 75 samples for 75 pictures, no
fix, every picture bit-exact and in sequence. The one-slice clip gives the same figures before and after.
"""

from __future__ import annotations

import hashlib
import itertools
import time
from dataclasses import dataclass
from datetime import timedelta
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from numpy.typing import NDArray
from sqlalchemy import select

from storage.database import Database
from storage.export import find_segments
from storage.layout import resolve_relative
from storage.model import Segment
from streams.backoff import BackoffPolicy
from streams.bitstream import nal_types
from streams.clip import ClipLabel, cut_clip
from streams.ingest import IngestWorker
from streams.packet import MediaPacket
from streams.recorder import RecorderSettings, SegmentRecorder
from streams.source import SourceSpec
from tests.streams.ingest_helpers import drain, wait_for
from tests.support.mp4 import probe_file
from tests.support.rtsp_server import RtspServerFactory
from tests.support.sliced_clip import FPS, slice_starts, write_sliced_clip

pytestmark = [pytest.mark.rtsp, pytest.mark.parametrize("database", ["sqlite"], indirect=True)]

FRAMES = 100  # 4 s, looped by the server
SEGMENTS = 3  # closed 2 s files to wait for


def _digest(image: NDArray[np.uint8]) -> str:
    return hashlib.sha256(image.tobytes()).hexdigest()


def _error(image: NDArray[np.uint8], picture: NDArray[np.uint8]) -> float:
    """Mean absolute difference in grey levels (on every 4th pixel: enough to tell pictures apart)."""
    return float(np.abs(image[::4, ::4].astype(np.int16) - picture[::4, ::4].astype(np.int16)).mean())


def _decoded(path: Path) -> list[NDArray[np.uint8]]:
    """Every picture a player gets from ``path`` (PyAV's default decoder: one picture per sample)."""
    with av.open(str(path)) as container:
        return [np.asarray(frame.to_ndarray(format="gray"), np.uint8) for frame in container.decode(video=0)]


def _avcc_slice_count(data: bytes) -> int:
    """Slices in an MP4 sample (4-byte NAL lengths)."""
    count = pos = 0
    while pos + 4 < len(data):
        count += data[pos + 4] & 0x1F in (1, 5)
        pos += 4 + int.from_bytes(data[pos : pos + 4], "big")
    return count


@dataclass
class Matches:
    """Decoded pictures found in the source clip, in sequence (across consecutive files)."""

    expected: int | None = None  # the source index the next picture should have
    pictures: int = 0
    samples: int = 0
    unmatched: int = 0
    out_of_sequence: int = 0  # a picture dropped, repeated or out of order
    worst: float = 0.0  # mean error of an unmatched picture to the source picture nearest to it

    def add(
        self, pictures: list[NDArray[np.uint8]], reference: dict[str, int], source: list[NDArray[np.uint8]]
    ) -> None:
        for image in pictures:
            self.pictures += 1
            index = reference.get(_digest(image))
            if index is None:
                self.unmatched += 1
                self.worst = max(self.worst, min(_error(image, picture) for picture in source))
                self.expected = None
                continue
            if self.expected is not None and index != self.expected % FRAMES:
                self.out_of_sequence += 1
            self.expected = index + 1


@pytest.mark.timeout(90)
@pytest.mark.parametrize("slices", [1, 2], ids=["one-slice", "two-slices"])
def test_multi_slice_pictures_are_recorded_one_sample_per_picture(
    rtsp_server_factory: RtspServerFactory, database: Database, tmp_path: Path, slices: int
) -> None:
    clip = write_sliced_clip(tmp_path / f"slices{slices}.mp4", slices=slices, frames=FRAMES)
    with av.open(str(clip)) as container:
        assert all(_avcc_slice_count(bytes(p)) == slices for p in container.demux(video=0) if p.size), (
            "the encoder did not make the slices asked for"
        )
    source = _decoded(clip)
    reference = {_digest(image): index for index, image in enumerate(source)}
    assert len(reference) == FRAMES

    server = rtsp_server_factory({"cam1": clip})
    root = tmp_path / "rec"
    spec = SourceSpec("cam1", "main", server.url("cam1"), open_timeout_s=2.0, read_timeout_s=2.0)
    worker = IngestWorker(spec, backoff=BackoffPolicy())
    viewer = worker.subscribe("viewer", maxsize=1024)  # what live view, frame decoder and snapshot get
    recorder = SegmentRecorder(
        camera_id="cam1", db=database, root=root, settings=RecorderSettings(segment_seconds=2, fsync=False)
    )
    recorder.start(worker.subscribe("recorder", maxsize=1024))
    worker.start()
    started = time.monotonic()
    try:
        wait_for(lambda: recorder.status().segments_closed >= SEGMENTS, timeout_s=30)
    finally:
        worker.stop(5)
        recorder.stop()
    status = recorder.status()
    delivered = [item for item in drain(viewer) if isinstance(item, MediaPacket)]

    # the fan-out: one packet per picture, whole, in order
    same_pts = sum(a.pts == b.pts for a, b in itertools.pairwise(delivered))
    split = sum(len(slice_starts(p.data)) != slices for p in delivered)
    keyframes_without_sps = sum(p.is_keyframe and 7 not in nal_types(p.data, "h264") for p in delivered)

    with database.session() as session:
        rows = list(
            session.scalars(select(Segment).where(Segment.camera_id == "cam1").order_by(Segment.start_utc))
        )
    # the export / event clip path: a clip cut by stream copy across two file boundaries
    clip_start, clip_end = (
        rows[0].start_utc + timedelta(seconds=0.5),
        rows[2].start_utc + timedelta(seconds=0.5),
    )
    with database.session() as session:
        refs = find_segments(
            session, camera_id="cam1", start_utc=clip_start, end_utc=clip_end, recordings_dir=root
        )
    label = ClipLabel("station", "Asia/Almaty", "cam1", "cam1")
    [cut] = cut_clip(tmp_path / "clip.mp4", label, clip_start, clip_end, refs).files

    files = [(resolve_relative(root, row.path), row) for row in rows]
    report: list[str] = []
    files_ok: list[bool] = []
    found = Matches()
    for path, row in [*files, (cut.path, None)]:
        if row is None:
            found.expected = None  # the clip is compared on its own
        probed = probe_file(path)
        pictures = _decoded(path)
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            packets = [p for p in container.demux(stream) if p.size]
            tick = float(stream.time_base or Fraction(1, 90_000))
        dts = [p.dts if p.dts is not None else -1 for p in packets]
        # in frames; the server stamps frames as it sends them: jitter on a loaded machine
        steps = [(b - a) * tick * FPS for a, b in itertools.pairwise(dts)]
        keys = sum(p.is_keyframe for p in packets)
        found.add(pictures, reference, source)
        found.samples += len(packets)
        report.append(
            f"{'clip' if row is None else 'file'} {probed.duration_s:.2f} s: {len(packets)} samples, "
            f"{keys} key, {len(pictures)} pictures, "
            f"steps {min(steps, default=0):.2f}..{max(steps, default=0):.2f}"
        )
        files_ok.append(
            (row is None or (row.status == "closed" and probed.sha256 == row.sha256))
            and probed.first_is_keyframe
            and probed.monotonic
            and probed.decoded_frames == probed.packets == len(pictures)
            # a slice recorded as a sample of its own was one tick long (its dts nudged past its picture's)
            and all(b - a > 1 for a, b in itertools.pairwise(dts))
            # a keyframe a second: a 2 s file holds 2 (3 when it ends just after one)
            and keys <= round(probed.duration_s) + 1
        )
    print(
        f"{slices} slice(s), {time.monotonic() - started:.1f} s: {report}; fan-out {len(delivered)} packets, "
        f"{same_pts} with the previous one's pts, {split} not {slices} slice(s); files and clip "
        f"{found.samples} samples, {found.pictures} pictures, {found.unmatched} not in the source "
        f"(worst mean error {found.worst:.1f} grey levels), {found.out_of_sequence} out of sequence; "
        f"timestamp fixes "
        f"{status.timestamp_fixes}"
    )
    assert len(rows) >= SEGMENTS and all(files_ok), files_ok
    assert same_pts == 0 and split == 0 and keyframes_without_sps == 0
    assert status.timestamp_fixes == 0 and status.packets_malformed == 0
    assert found.unmatched == 0 and found.out_of_sequence == 0, "decoded pictures differ from the source"
