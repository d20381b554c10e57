"""Cut a clip of one camera out of its recorded segments by stream copy (no re-encoding).

The clip starts on the last keyframe at or before the requested start (never later, unless nothing was
recorded there) and ends on the first keyframe at or after the requested end (so at most one GOP late, or
earlier where the footage stops). Packets are copied one at a time from file to file, so memory stays flat
however long the clip: long clips are written as fragmented MP4, whose index is flushed with every fragment
instead of being held for a trailer.

Timestamps are rebased continuously: each segment follows the previous one without a jump, as in
``ffmpeg -f concat``; :attr:`ClipFile.sources` records where each segment begins inside the clip
(``clip_offset_s``) and its wall-clock start, which is how a clip time maps back to UTC across gaps.

If the stream parameters change between segments (camera reconfigured: other resolution or SPS/PPS), the
clip continues in a new file (``..._part2.mp4``) because one MP4 track can hold only one configuration.

Each segment is checked against its indexed SHA-256 while it is copied: the demuxer reads the file through
:class:`streams.hashing_reader.HashingReader`, which hashes every byte once as it passes (on a helper thread,
overlapping the demux), so a segment is read once, not once to hash and once to copy. When the demuxer is
done with a segment, the bytes it never read (the tail after the clip's end) are hashed too and the digest
is compared with the index; a mismatch aborts the clip with :class:`storage.export.SegmentChangedError`
before the next segment is opened and leaves no output behind. A segment that cannot be demuxed is checked
the same way first, so a changed file is reported as changed rather than as damaged.

A segment still being written (``SegmentRef.growing``: the recorder's open file, see
:mod:`streams.live_segment`) has no indexed hash: the demuxer sees only its first ``bytes`` bytes (complete
fragments), and the digest of exactly those bytes is what the clip's :class:`SourceUse` records, with their
count (``hashed_bytes``), so the package vouches for what it copied and stays checkable against the file
once it is closed (the closed file begins with the same bytes).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Generator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import av

from storage.export import (
    NoFootageError,
    SegmentChangedError,
    SegmentRef,
    check_camera_id,
    check_export_range,
)
from storage.layout import final_path
from streams.hashing_reader import HashingReader

logger = logging.getLogger(__name__)

FRAGMENTED_MOVFLAGS = "frag_keyframe+empty_moov+default_base_moof"
# Up to this long a clip is a plain MP4 (the most widely playable form: what one incident needs); longer clips
# are fragmented MP4 (ISO BMFF too; VLC, browsers, ffplay, QuickTime and Windows' player play it). A plain
# MP4's header is patched when the cut ends, so its CRC-32 and SHA-256 can only be computed afterwards (a 1 h
# package: +2.2 s, 1.21x ffmpeg's concat); a fragmented one is written front to back and hashed while it is
# cut (docs/benchmarks.md, export).
FRAGMENT_LONGER_THAN = timedelta(minutes=5)
# Nothing is decoded: skip the decoding probe that opening a file normally runs (10x faster opens; the
# stream parameters come from the MP4 header).
_OPEN_OPTIONS = {"analyzeduration": "0", "fpsprobesize": "0"}
_NO_DECODE = {"skip_frame": "all", "threads": "1"}
# Read size of the demuxer over a HashingReader: large enough that the Python read callback runs rarely,
# small enough that the MP4 demuxer's scan of fragment headers at open does not read the whole file (with
# 1 MiB it reads 1.8x the file, with 128 KiB 1.1x).
DEMUX_BUFFER_BYTES = 128 << 10
# Write size of the muxer into a ClipOutput's file object (one Python write call per buffer).
MUX_BUFFER_BYTES = 1 << 20


class ClipOutput(Protocol):
    """Where clip files go instead of ``dest``'s directory (an evidence package being written).

    ``open_clip(name, sequential=...)`` returns a seekable, writable file object for the MP4 named ``name``
    (``sequential``: fragmented MP4, which the muxer writes front to back without seeking back; a plain MP4
    gets its header patched at the end); ``close_clip`` is called with it once the muxer has closed it.
    Whatever was written is the output's to delete when the cut fails.
    """

    def open_clip(self, name: str, *, sequential: bool = False) -> io.RawIOBase: ...

    def close_clip(self, member: io.RawIOBase) -> object: ...


class ClipError(Exception):
    """Base of clip-cutting failures that are not about the request or the index."""


class ClipSourceError(ClipError, OSError):
    """A segment file cannot be opened or demuxed."""


@dataclass(frozen=True)
class ClipLabel:
    """Who and what the clip shows; written into the MP4 metadata."""

    station_name: str
    timezone: str  # IANA name, for the local times in the metadata
    camera_id: str
    camera_name: str


@dataclass(frozen=True)
class SourceUse:
    """How one segment contributed to a clip file."""

    relative_path: str
    sha256: str | None  # verified when the segment had one in the index
    segment_start_utc: datetime
    segment_end_utc: datetime
    used_from_utc: datetime
    used_to_utc: datetime
    clip_offset_s: float  # where in the clip file the segment's first copied packet plays
    hashed_bytes: int | None = None  # the segment was still being written: sha256 is of its first bytes


@dataclass(frozen=True)
class ClipFile:
    path: Path
    start_utc: datetime  # wall time of the first frame
    end_utc: datetime  # wall time just after the last frame
    duration_s: float  # media duration of the file
    packets: int
    keyframes: int
    dropped_packets: int  # non-monotonic timestamps skipped (damaged source)
    sources: tuple[SourceUse, ...]


@dataclass(frozen=True)
class ClipResult:
    camera_id: str
    requested_start_utc: datetime
    requested_end_utc: datetime
    files: tuple[ClipFile, ...]

    @property
    def start_utc(self) -> datetime:
        return self.files[0].start_utc

    @property
    def end_utc(self) -> datetime:
        return self.files[-1].end_utc


def part_path(dest: Path, part: int) -> Path:
    """``clip.mp4``, ``clip_part2.mp4``, ``clip_part3.mp4`` ..."""
    return dest if part == 1 else dest.with_name(f"{dest.stem}_part{part}{dest.suffix}")


def local_iso(moment: datetime, timezone: str) -> str:
    return moment.astimezone(ZoneInfo(timezone)).isoformat(timespec="seconds")


def clip_metadata(label: ClipLabel, start_utc: datetime, part: int) -> dict[str, str]:
    """Container metadata for a clip whose first frame is at ``start_utc`` (pure)."""
    start_local = local_iso(start_utc, label.timezone)
    utc_text = start_utc.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    suffix = f" (part {part})" if part > 1 else ""
    comment = (
        f"Station: {label.station_name}\n"
        f"Camera: {label.camera_name} [{label.camera_id}]\n"
        f"Start UTC: {utc_text}\n"
        f"Start local ({label.timezone}): {start_local}\n"
        "Stream copy of the recorded segments, not re-encoded."
    )
    return {
        "title": f"{label.station_name} - {label.camera_name} [{label.camera_id}] {start_local}{suffix}",
        "comment": comment,
        "description": comment,
        "creation_time": start_utc.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }


def _params_key(stream: Any) -> tuple[object, ...]:
    ctx = stream.codec_context
    return (ctx.name, ctx.width, ctx.height, bytes(ctx.extradata or b""))


@dataclass
class _Pending:
    """A demuxed packet on its way to the clip, with the context needed to place it.

    ``stream`` (the template for a new output file) belongs to an input container that
    :func:`_place_packets` keeps open for as long as a pending packet may still need it.
    """

    packet: Any
    t_utc: datetime
    source_index: int
    stream: Any
    time_base: Fraction
    params: tuple[object, ...]


@dataclass
class _Part:
    """One open output file."""

    number: int
    path: Path
    partial: Path
    output: Any
    stream: Any
    params: tuple[object, ...]
    time_base: Fraction
    start_utc: datetime
    end_utc: datetime
    member: io.RawIOBase | None = None  # the ClipOutput file written instead of ``partial``
    last_dts: int | None = None
    next_dts: int = 0
    frame_ticks: int = 1
    shift: int = 0
    scale: Fraction | None = None  # input ticks -> clip ticks, None when the time bases are equal
    source_index: int = -1
    packets: int = 0
    keyframes: int = 0
    dropped: int = 0
    uses: list[SourceUse] = field(default_factory=list)
    use_from: datetime | None = None
    use_offset_s: float = 0.0


class _ClipSink:
    """Writes placed packets into MP4 files, rebasing timestamps; rotates files when parameters change."""

    def __init__(
        self,
        dest: Path,
        label: ClipLabel,
        sources: Sequence[SegmentRef],
        *,
        fragmented: bool,
        output: ClipOutput | None = None,
        digests: dict[str, str] | None = None,
    ) -> None:
        self.dest = dest
        self.digests = digests if digests is not None else {}  # of growing sources, by relative path
        self.target = output
        self.label = label
        self.sources = sources
        self.fragmented = fragmented
        self.part: _Part | None = None
        self.done: list[ClipFile] = []
        self.partials: list[Path] = []

    def write(self, item: _Pending, t_end: datetime) -> None:
        params = item.params
        if self.part is None or params != self.part.params:
            if self.part is not None:
                logger.warning(
                    "%s: stream parameters change at %s, continuing in a new clip file",
                    self.label.camera_id,
                    item.t_utc.isoformat(),
                )
                self._close_part()
            self.part = self._open_part(item, params)
        part = self.part
        if item.source_index != part.source_index:
            self._switch_source(part, item)
        packet = item.packet
        dts: int = packet.dts
        pts: int = packet.pts if packet.pts is not None else dts
        duration: int = packet.duration or 0
        if part.scale is not None:  # this segment has another time base than the clip
            dts, pts, duration = (
                round(dts * part.scale),
                round(pts * part.scale),
                round(duration * part.scale),
            )
            packet.time_base = part.time_base
        out_dts = dts + part.shift
        if part.last_dts is not None and out_dts <= part.last_dts:
            part.dropped += 1
            return
        packet.dts = out_dts
        packet.pts = pts + part.shift
        packet.stream = part.stream
        part.output.mux_one(packet)
        if part.last_dts is not None:
            part.frame_ticks = max(out_dts - part.last_dts, 1)
        part.last_dts = out_dts
        part.next_dts = out_dts + (duration or part.frame_ticks)
        part.packets += 1
        part.keyframes += int(packet.is_keyframe)
        part.end_utc = t_end

    def _open_part(self, item: _Pending, params: tuple[object, ...]) -> _Part:
        number = len(self.done) + 1
        path = part_path(self.dest, number)
        partial = path.with_name(path.name + ".partial")
        options = {"movflags": FRAGMENTED_MOVFLAGS} if self.fragmented else {}
        member = None
        try:
            if self.target is not None:
                member = self.target.open_clip(path.name, sequential=self.fragmented)
                output = av.open(member, "w", format="mp4", options=options, buffer_size=MUX_BUFFER_BYTES)
            else:
                self.partials.append(partial)
                output = av.open(str(partial), "w", format="mp4", options=options)
        except av.error.FFmpegError as exc:
            raise ClipError(f"{self.label.camera_id}: cannot create clip file {partial}: {exc}") from exc
        output.metadata.update(clip_metadata(self.label, item.t_utc, number))
        stream = output.add_stream_from_template(item.stream)
        return _Part(
            number=number,
            path=path,
            partial=partial,
            output=output,
            stream=stream,
            params=params,
            time_base=item.time_base,
            start_utc=item.t_utc,
            end_utc=item.t_utc,
            member=member,
        )

    def _switch_source(self, part: _Part, item: _Pending) -> None:
        self._end_use(part)
        part.scale = None if item.time_base == part.time_base else item.time_base / part.time_base
        dts = item.packet.dts if part.scale is None else round(item.packet.dts * part.scale)
        part.shift = part.next_dts - dts
        part.source_index = item.source_index
        part.use_from = item.t_utc
        part.use_offset_s = float(part.next_dts * part.time_base)

    def _end_use(self, part: _Part) -> None:
        if part.source_index < 0 or part.use_from is None:
            return
        source = self.sources[part.source_index]
        part.uses.append(
            SourceUse(
                relative_path=source.relative_path,
                sha256=self.digests.get(source.relative_path) if source.growing else source.sha256,
                hashed_bytes=source.bytes if source.growing else None,
                segment_start_utc=source.start_utc,
                segment_end_utc=source.end_utc,
                used_from_utc=part.use_from,
                used_to_utc=part.end_utc,
                clip_offset_s=part.use_offset_s,
            )
        )

    def _close_part(self) -> None:
        part = self.part
        if part is None:
            return
        self.part = None
        self._end_use(part)
        part.output.close()
        if part.member is not None and self.target is not None:
            self.target.close_clip(part.member)
        else:
            part.partial.replace(part.path)
            self.partials.remove(part.partial)
        self.done.append(
            ClipFile(
                path=part.path,
                start_utc=part.start_utc,
                end_utc=part.end_utc,
                duration_s=float(part.next_dts * part.time_base),
                packets=part.packets,
                keyframes=part.keyframes,
                dropped_packets=part.dropped,
                sources=tuple(part.uses),
            )
        )

    def finish(self) -> list[ClipFile]:
        self._close_part()
        return self.done

    def abort(self) -> None:
        """Close and delete whatever was being written, including finished parts."""
        if self.part is not None:
            try:
                self.part.output.close()
            except av.error.FFmpegError as exc:
                logger.warning("%s: closing the aborted clip failed: %s", self.label.camera_id, exc)
            self.part = None
        if self.target is None:  # an output deletes what was written into it itself
            for path in [*self.partials, *(clip.path for clip in self.done)]:
                path.unlink(missing_ok=True)
        self.done.clear()


class _SegmentVerifier:
    """Opens segments for demuxing and, when enabled, checks each against its indexed SHA-256.

    The file is hashed as the demuxer reads it (:class:`streams.hashing_reader.HashingReader`), so it is
    read once; the digest work runs on ``pool``, overlapping the demux. The check happens when the
    segment is done with (:meth:`check`), before the next segment is opened.
    """

    def __init__(
        self,
        camera_id: str,
        pool: ThreadPoolExecutor,
        enabled: bool,
        digests: dict[str, str] | None = None,
    ) -> None:
        self.camera_id = camera_id
        self.pool = pool
        self.enabled = enabled
        self.digests = digests if digests is not None else {}  # of growing sources, by relative path

    def open(self, source: SegmentRef) -> tuple[Any, HashingReader | None]:
        if source.growing:
            return self._open_growing(source)
        if not self.enabled:
            return _open_segment(source, self.camera_id, None), None
        if source.sha256 is None:  # still being written, or indexed before hashing: cannot be vouched for
            raise SegmentChangedError(source.relative_path, None, None)
        try:
            reader = HashingReader(source.path, hash_pool=self.pool)
        except OSError as exc:
            raise SegmentChangedError(source.relative_path, source.sha256, None, str(exc)) from exc
        try:
            return _open_segment(source, self.camera_id, reader), reader
        except BaseException as exc:
            try:
                if isinstance(exc, OSError):
                    self.check(source, reader)  # a changed file explains the failure better
            finally:
                reader.release()
            raise

    def _open_growing(self, source: SegmentRef) -> tuple[Any, HashingReader]:
        """A file still being written, limited to its complete fragments (found under its closed name
        when the recorder renamed it meanwhile: the closed file begins with the same bytes)."""
        try:
            try:
                reader = HashingReader(source.path, hash_pool=self.pool, size=source.bytes)
            except FileNotFoundError:
                reader = HashingReader(final_path(source.path), hash_pool=self.pool, size=source.bytes)
        except OSError as exc:
            raise ClipSourceError(
                f"{self.camera_id}: cannot open segment {source.relative_path}: {exc}"
            ) from exc
        try:
            return _open_segment(source, self.camera_id, reader), reader
        except BaseException:
            reader.release()
            raise

    def check(self, source: SegmentRef, reader: HashingReader | None) -> None:
        """Raise :class:`SegmentChangedError` unless the whole file hashes to the indexed SHA-256; of a
        growing source, keep the digest of the bytes read."""
        if reader is None:
            return
        if source.growing:
            try:
                self.digests[source.relative_path] = reader.finish()
            except OSError as exc:
                raise SegmentChangedError(source.relative_path, None, None, str(exc)) from exc
            return
        try:
            actual = reader.finish()
        except OSError as exc:
            raise SegmentChangedError(source.relative_path, source.sha256, None, str(exc)) from exc
        if actual != source.sha256:
            raise SegmentChangedError(source.relative_path, source.sha256, actual)


def _open_segment(source: SegmentRef, camera_id: str, reader: HashingReader | None) -> Any:
    try:
        # PyAV takes one options dict per stream; its stub says list[str]
        per_stream: list[Any] = [_NO_DECODE]
        container: Any
        if reader is None:
            container = av.open(str(source.path), container_options=_OPEN_OPTIONS, stream_options=per_stream)
        else:
            container = av.open(
                reader,
                container_options=_OPEN_OPTIONS,
                stream_options=per_stream,
                buffer_size=DEMUX_BUFFER_BYTES,
            )
    except (av.error.FFmpegError, OSError) as exc:
        raise ClipSourceError(f"{camera_id}: cannot open segment {source.relative_path}: {exc}") from exc
    if not container.streams.video or container.streams.video[0].time_base is None:
        container.close()
        raise ClipSourceError(f"{camera_id}: segment {source.relative_path} has no usable video stream")
    return container


def _demux(
    container: Any, source: SegmentRef, index: int, camera_id: str
) -> Generator[tuple[_Pending, datetime], None, None]:
    """Every video packet of one open segment in decode order, placed on the wall clock."""
    stream = container.streams.video[0]
    time_base: Fraction = stream.time_base
    params = _params_key(stream)
    rate = stream.average_rate or stream.guessed_rate
    frame_s = float(1 / rate) if rate else 0.0
    tick_s = float(time_base)
    anchor: int | None = None
    try:
        for packet in container.demux(stream):
            if packet.size == 0 or packet.dts is None:
                continue  # the demuxer's empty flush packet
            pts = packet.pts if packet.pts is not None else packet.dts
            if anchor is None:
                anchor = pts
            t_utc = source.start_utc + timedelta(seconds=(pts - anchor) * tick_s)
            seconds = packet.duration * tick_s if packet.duration else frame_s
            pending = _Pending(packet, t_utc, index, stream, time_base, params)
            yield pending, t_utc + timedelta(seconds=seconds)
    except (av.error.FFmpegError, OSError) as exc:
        raise ClipSourceError(f"{camera_id}: segment {source.relative_path} is damaged: {exc}") from exc


@dataclass
class _OpenSegment:
    container: Any
    reader: HashingReader | None

    def close(self) -> None:
        try:
            self.container.close()
        finally:
            if self.reader is not None:
                self.reader.release()


def _place_packets(
    sources: Sequence[SegmentRef], start: datetime, end: datetime, verifier: _SegmentVerifier
) -> Generator[tuple[_Pending, datetime], None, None]:
    """The packets that make the clip, in order: from the last keyframe <= start to the first >= end.

    Each yielded packet is written before the next is demuxed. Until the start is reached, the GOP in
    progress is held back (one GOP of memory); its segment stays open while it is held, because a new
    output file is created from that segment's stream. Each segment is checked against the index when the
    demuxer is done with it (the rest of the file is hashed then), before the next one is opened.
    """
    gop: list[tuple[_Pending, datetime]] = []
    started = False
    open_segments: dict[int, _OpenSegment] = {}
    packets: Generator[tuple[_Pending, datetime], None, None] | None = None
    camera_id = verifier.camera_id
    try:
        for index, source in enumerate(sources):
            container, reader = verifier.open(source)
            open_segments[index] = _OpenSegment(container, reader)
            packets = _demux(container, source, index, camera_id)
            reached_end = False
            try:
                for item in packets:
                    pending = item[0]
                    keyframe = pending.packet.is_keyframe
                    if not started:
                        if pending.t_utc <= start:
                            if keyframe:
                                gop = [item]
                            elif gop:
                                gop.append(item)
                            continue
                        if not gop and not keyframe:
                            continue  # cannot start on a non-keyframe
                        started = True
                        yield from gop
                        gop = []
                    if keyframe and pending.t_utc >= end:
                        reached_end = True  # the first keyframe at or after the end: the range is covered
                        break
                    yield item
            except OSError:
                verifier.check(source, reader)  # a changed file explains a damaged one
                raise
            verifier.check(source, reader)
            if reached_end:
                return
            held = gop[0][0].source_index if gop else None
            for number in [n for n in open_segments if n != held]:
                open_segments.pop(number).close()
        yield from gop  # the start lies in the very last GOP recorded
    finally:
        if packets is not None:
            packets.close()  # before its container
        for segment in open_segments.values():
            segment.close()


def cut_clip(
    dest: Path,
    label: ClipLabel,
    start_utc: datetime,
    end_utc: datetime,
    sources: Sequence[SegmentRef],
    *,
    now: datetime | None = None,
    fragmented: bool | None = None,
    verify_hashes: bool = True,
    output: ClipOutput | None = None,
) -> ClipResult:
    """Write the clip of ``label.camera_id`` for [start, end) from ``sources`` (ordered, overlapping).

    ``fragmented=None`` picks a plain MP4 (most compatible) up to ``FRAGMENT_LONGER_THAN`` and fragmented
    MP4 beyond, so memory stays bounded and a package is hashed while it is written. With ``output`` the
    clip files are written there (named like ``dest``'s parts) instead of into ``dest``'s directory.
    Raises ``ExportRangeError``, ``InvalidCameraIdError``, ``NoFootageError``, ``SegmentChangedError`` or
    :class:`ClipSourceError`; on any failure nothing is left at ``dest``.
    """
    camera_id = check_camera_id(label.camera_id)
    start, end = check_export_range(start_utc, end_utc, now=now or datetime.now(UTC))
    ordered = sorted(
        (s for s in sources if s.start_utc < end and s.end_utc > start), key=lambda s: s.start_utc
    )
    if not ordered:
        raise NoFootageError(camera_id, start, end, [])
    if fragmented is None:
        fragmented = end - start > FRAGMENT_LONGER_THAN
    if output is None:
        dest.parent.mkdir(parents=True, exist_ok=True)
    digests: dict[str, str] = {}
    sink = _ClipSink(dest, label, ordered, fragmented=fragmented, output=output, digests=digests)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"hash-{camera_id}") as pool:
        verifier = _SegmentVerifier(camera_id, pool, verify_hashes, digests)
        try:
            with closing(_place_packets(ordered, start, end, verifier)) as placed:
                for item, t_end in placed:
                    sink.write(item, t_end)
            files = sink.finish()
        except BaseException:
            sink.abort()
            raise
    if not files:
        raise NoFootageError(camera_id, start, end, [])
    logger.info(
        "%s: clip %s .. %s written to %s (%d file(s), %d packets)",
        camera_id,
        files[0].start_utc.isoformat(),
        files[-1].end_utc.isoformat(),
        dest,
        len(files),
        sum(f.packets for f in files),
    )
    return ClipResult(camera_id, start, end, tuple(files))


__all__ = [
    "ClipError",
    "ClipFile",
    "ClipLabel",
    "ClipOutput",
    "ClipResult",
    "ClipSourceError",
    "SegmentChangedError",
    "SourceUse",
    "clip_metadata",
    "cut_clip",
    "part_path",
]
