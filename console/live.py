"""Live view sessions: one aiortc peer connection per viewer, with a registry that bounds and cleans them up.

:class:`LiveRegistry` answers a browser's SDP offer for one camera stream with a sendonly H.264 track
(:class:`streams.live.LiveTrack`) fed by its own bounded ``LATEST`` subscription of the running ingest, so one
camera connection serves any number of viewers without decoding. Cameras whose codec a browser cannot play
are served through one shared :class:`streams.live.TranscodeWorker` per camera stream, started with its first
viewer and stopped with its last.

A session ends (peer connection closed, subscription released) when the browser's connection state becomes
``failed`` or ``closed``, when the page says goodbye (``DELETE`` or the unload beacon), when it does not
connect within ``connect_timeout_s``, or when its sender stops pulling packets for ``stale_after_s``. At most
``max_viewers`` sessions run at once, at most ``max_viewers_per_user`` of them for one user
(``console.live_views_per_user``), so one officer cannot take every slot. No public STUN server is ever
added: ICE servers come only from ``console.ice_servers``.

Snapshots (:meth:`LiveRegistry.snapshot`) decode the newest keyframe kept by a
:class:`streams.snapshot.KeyframeKeeper`, a sink of the camera's fan-out (attached at start-up for every
camera's wall stream, and on the first request for any other stream).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import threading
import time
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)

from config.schema import CameraConfig, IceServer
from config.settings import Settings
from console.i18n import Message
from streams.fanout import FanoutPolicy, Subscription
from streams.ingest import IngestManager
from streams.live import LiveTrack, TranscodePolicy, TranscodeWorker, is_webrtc_playable
from streams.packet import MediaPacket
from streams.snapshot import KeyframeKeeper, Snapshot, SnapshotCache

logger = logging.getLogger(__name__)

STREAMS: Final = ("main", "sub")
MAX_SDP_BYTES: Final = 64 * 1024


class LiveError(Exception):
    """Base of live view errors; each also subclasses the matching built-in.

    ``message`` is the translatable text for the viewer, ``cause`` the English detail of a lower layer's
    error (aiortc's), if any; ``str(error)`` is both in English.
    """

    def __init__(self, message: Message, *, cause: str | None = None) -> None:
        super().__init__(str(message) if cause is None else f"{message}: {cause}")
        self.message = message
        self.cause = cause


class UnknownCameraError(LiveError, LookupError):
    pass


class ViewerLimitError(LiveError, OverflowError):
    pass


class UserViewerLimitError(ViewerLimitError):
    """The user already watches as many live streams as one user may (``max_viewers_per_user``)."""


class OfferError(LiveError, ValueError):
    """The browser's offer cannot be answered (malformed SDP, no video, no H.264)."""


class UnknownSessionError(LiveError, LookupError):
    pass


@dataclass(frozen=True, slots=True)
class LiveLimits:
    max_viewers: int = 32  # sessions on this station at once
    max_viewers_per_user: int = 6  # of those, sessions of one user (console.live_views_per_user)
    queue_packets: int = 120  # per viewer; LATEST: a new keyframe replaces what a slow viewer has queued
    connect_timeout_s: float = 20.0  # an offer whose connection is not up by then is closed
    stale_after_s: float = 15.0  # a connected sender that pulls nothing while packets wait is dropped
    sweep_every_s: float = 2.0


def is_over_user_limit(user_sessions: int, max_per_user: int) -> bool:
    """True when a user with ``user_sessions`` live sessions may not open another (pure)."""
    return user_sessions >= max_per_user


def choose_stream(requested: str, available: Sequence[str]) -> str:
    """The stream to serve: the requested one when the camera has it, else the other (pure)."""
    if requested not in STREAMS:
        raise ValueError(f"stream must be one of {', '.join(STREAMS)}")
    if requested in available:
        return requested
    for other in STREAMS:
        if other in available:
            return other
    raise LookupError("the camera has no stream")


def ice_configuration(servers: Sequence[IceServer]) -> RTCConfiguration:
    """Only the configured ICE servers (an empty list means none: aiortc's default adds public STUN)."""
    return RTCConfiguration(
        iceServers=[
            RTCIceServer(urls=list(s.urls), username=s.username, credential=s.credential) for s in servers
        ]
    )


def h264_preferences() -> list[Any]:
    codecs = RTCRtpSender.getCapabilities("video").codecs
    return [c for c in codecs if c.mimeType.lower() in ("video/h264", "video/rtx")]


def sender_encoded(sender: RTCRtpSender) -> bool:
    """True when aiortc's sender built an encoder context for raw frames (passthrough never does)."""
    encoder = getattr(sender, "_RTCRtpSender__encoder", None)
    return encoder is not None and getattr(encoder, "codec", None) is not None


@dataclass(frozen=True, slots=True)
class LiveAnswer:
    session_id: str
    sdp: str
    type: str
    camera_id: str
    stream: str
    transcoded: bool


@dataclass(frozen=True, slots=True)
class SessionStats:
    session_id: str
    camera_id: str
    stream: str
    username: str
    transcoded: bool
    state: str
    age_s: float
    packets: int
    bytes: int
    dropped: int
    time_to_first_packet_s: float | None


@dataclass(frozen=True, slots=True)
class LiveStats:
    viewers: int
    max_viewers: int
    sessions: list[SessionStats]
    transcoders: int
    frames_encoded: int  # by transcoders and by any sender that had to encode (0 on pure passthrough)
    frames_decoded: int  # by transcoders
    senders_encoding: int  # aiortc senders that encoded raw frames (must stay 0)
    snapshots_encoded: int
    closed_sessions: int


@dataclass(eq=False)
class LiveSession:
    id: str
    camera_id: str
    stream: str
    user_id: int | None
    username: str
    pc: RTCPeerConnection
    track: LiveTrack
    sender: RTCRtpSender | None
    transcoded: bool
    created: float = field(default_factory=time.monotonic)
    last_progress: float = field(default_factory=time.monotonic)
    last_packets: int = 0
    latency_log: list[tuple[int, datetime, float]] = field(default_factory=list)


class _SharedTranscoder:
    def __init__(self, worker: TranscodeWorker) -> None:
        self.worker = worker
        self.viewers = 0


class LiveRegistry:
    """Every live session of the station. Use from the event loop; close with :meth:`close`."""

    def __init__(
        self,
        ingest: IngestManager,
        cameras: Sequence[CameraConfig],
        *,
        ice_servers: Sequence[IceServer] = (),
        limits: LiveLimits | None = None,
        transcode: TranscodePolicy | None = None,
        record_latency: bool = False,
    ) -> None:
        self.ingest = ingest
        self.cameras = {c.id: c for c in cameras if c.enabled}
        self.ice_servers = list(ice_servers)
        self.limits = limits or LiveLimits()
        self.transcode_policy = transcode or TranscodePolicy()
        self.record_latency = record_latency
        self._sessions: dict[str, LiveSession] = {}
        self._transcoders: dict[tuple[str, str], _SharedTranscoder] = {}
        self._keepers: dict[tuple[str, str], KeyframeKeeper] = {}
        self._keepers_lock = threading.Lock()
        self._snapshots = SnapshotCache()
        self._sweeper: asyncio.Task[None] | None = None
        self._closed_sessions = 0
        self._retired_encoded = 0
        self._retired_decoded = 0
        self._pending = 0  # offers being answered (count against the limit)
        self._pending_by_user: dict[int | None, int] = {}

    # streams of a camera -------------------------------------------------------------------------

    def available_streams(self, camera_id: str) -> list[str]:
        if camera_id not in self.cameras:
            raise UnknownCameraError(Message("no camera {camera} on this station", camera=camera_id))
        return [s for s in STREAMS if (camera_id, s) in self.ingest.workers]

    def codec_of(self, camera_id: str, stream: str) -> str | None:
        worker = self.ingest.workers.get((camera_id, stream))
        return worker.health().codec if worker is not None else None

    def will_transcode(self, camera_id: str, stream: str) -> bool:
        return not is_webrtc_playable(self.codec_of(camera_id, stream))

    # sessions ------------------------------------------------------------------------------------

    async def answer(
        self,
        *,
        camera_id: str,
        requested_stream: str,
        sdp: str,
        sdp_type: str,
        user_id: int | None,
        username: str,
    ) -> LiveAnswer:
        """Open a session for one viewer and return the SDP answer."""
        if sdp_type != "offer" or not sdp.startswith("v=0") or len(sdp) > MAX_SDP_BYTES:
            raise OfferError(
                Message("expected an SDP offer (type 'offer', at most {kib} KiB)", kib=MAX_SDP_BYTES // 1024)
            )
        if "m=video" not in sdp:
            raise OfferError(Message("the offer has no video section"))
        stream = choose_stream(requested_stream, self.available_streams(camera_id))
        if len(self._sessions) + self._pending >= self.limits.max_viewers:
            raise ViewerLimitError(
                Message("at most {count} live viewers at once on this station", count=self.limits.max_viewers)
            )
        own = self.user_session_count(user_id)
        if is_over_user_limit(own, self.limits.max_viewers_per_user):
            raise UserViewerLimitError(
                Message(
                    "you already watch {count} live streams, the most one user may; close one first",
                    count=self.limits.max_viewers_per_user,
                )
            )
        self._ensure_sweeper()
        self._pending += 1
        self._pending_by_user[user_id] = self._pending_by_user.get(user_id, 0) + 1
        try:
            return await self._open(camera_id, stream, sdp, sdp_type, user_id, username)
        finally:
            self._pending -= 1
            self._pending_by_user[user_id] -= 1
            if not self._pending_by_user[user_id]:
                del self._pending_by_user[user_id]

    def user_session_count(self, user_id: int | None) -> int:
        """Live sessions of one user, offers being answered included."""
        open_sessions = sum(1 for s in self._sessions.values() if s.user_id == user_id)
        return open_sessions + self._pending_by_user.get(user_id, 0)

    async def _open(
        self, camera_id: str, stream: str, sdp: str, sdp_type: str, user_id: int | None, username: str
    ) -> LiveAnswer:
        session_id = secrets.token_urlsafe(18)
        transcoded = self.will_transcode(camera_id, stream)
        subscription = self._subscribe(camera_id, stream, session_id, transcoded)
        session: LiveSession | None = None
        track = LiveTrack(subscription, camera_id=camera_id)
        pc = RTCPeerConnection(ice_configuration(self.ice_servers))
        try:
            # Codecs are negotiated in setRemoteDescription: the H.264-only preference must be set before.
            transceiver = pc.addTransceiver(track, direction="sendonly")
            transceiver.setCodecPreferences(h264_preferences())
            sender = transceiver.sender
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type=sdp_type))
            session = LiveSession(
                id=session_id,
                camera_id=camera_id,
                stream=stream,
                user_id=user_id,
                username=username,
                pc=pc,
                track=track,
                sender=sender,
                transcoded=transcoded,
            )
            if self.record_latency:
                track.on_packet = _latency_recorder(session)
            self._watch(session)
            answer = await pc.createAnswer()
            await pc.setLocalDescription(answer)
        except BaseException as exc:
            track.stop()
            await pc.close()
            if transcoded:
                await self._release_transcoder(camera_id, stream)
            if isinstance(exc, ValueError) and not isinstance(exc, LiveError):
                raise OfferError(Message("cannot answer this offer"), cause=str(exc)) from exc
            raise
        self._sessions[session_id] = session
        if "H264" not in pc.localDescription.sdp:
            await self.close_session(session_id, reason="no_h264")
            raise OfferError(Message("the browser offered no H.264 (packetization-mode 1) for video"))
        logger.info(
            "%s/%s: live session %s opened for %s%s (%d viewer(s))",
            camera_id,
            stream,
            session_id[:8],
            username,
            " (transcoded)" if transcoded else "",
            len(self._sessions),
        )
        return LiveAnswer(
            session_id=session_id,
            sdp=pc.localDescription.sdp,
            type=pc.localDescription.type,
            camera_id=camera_id,
            stream=stream,
            transcoded=transcoded,
        )

    def _subscribe(self, camera_id: str, stream: str, session_id: str, transcoded: bool) -> Subscription:
        name = f"live-{session_id[:8]}"
        if not transcoded:
            return self.ingest.subscribe(
                camera_id,
                name,
                stream=stream,
                policy=FanoutPolicy.LATEST,
                maxsize=self.limits.queue_packets,
            )
        key = (camera_id, stream)
        shared = self._transcoders.get(key)
        if shared is None:
            source = self.ingest.subscribe(
                camera_id, f"transcode-{camera_id}", stream=stream, policy=FanoutPolicy.LATEST, maxsize=64
            )
            worker = TranscodeWorker(source, camera_id=camera_id, stream=stream, policy=self.transcode_policy)
            worker.start()
            shared = self._transcoders[key] = _SharedTranscoder(worker)
        shared.viewers += 1
        return shared.worker.subscribe(name, maxsize=self.limits.queue_packets)

    async def _release_transcoder(self, camera_id: str, stream: str) -> None:
        key = (camera_id, stream)
        shared = self._transcoders.get(key)
        if shared is None:
            return
        shared.viewers -= 1
        if shared.viewers <= 0:
            del self._transcoders[key]
            self._retired_encoded += shared.worker.frames_encoded
            self._retired_decoded += shared.worker.frames_decoded
            await asyncio.to_thread(shared.worker.stop)

    def _watch(self, session: LiveSession) -> None:
        @session.pc.on("connectionstatechange")
        async def on_state() -> None:
            state = session.pc.connectionState
            logger.debug("%s: live session %s is %s", session.camera_id, session.id[:8], state)
            if state in ("failed", "closed"):
                await self.close_session(session.id, reason=state)

    async def close_session(self, session_id: str, *, user_id: int | None = None, reason: str = "") -> None:
        """Close one session; with ``user_id`` only that user's own (else UnknownSessionError)."""
        session = self._sessions.get(session_id)
        if session is None or (user_id is not None and session.user_id != user_id):
            if user_id is not None:
                raise UnknownSessionError(Message("no such live session"))
            return
        del self._sessions[session_id]
        self._closed_sessions += 1
        session.track.stop()
        if session.sender is not None and sender_encoded(session.sender):
            self._retired_encoded += 1
        await session.pc.close()
        if session.transcoded:
            await self._release_transcoder(session.camera_id, session.stream)
        logger.info(
            "%s/%s: live session %s closed (%s), %d packets sent",
            session.camera_id,
            session.stream,
            session.id[:8],
            reason or "closed",
            session.track.stats().packets,
        )

    def session(self, session_id: str) -> LiveSession:
        try:
            return self._sessions[session_id]
        except KeyError:
            raise UnknownSessionError(Message("no such live session")) from None

    # housekeeping --------------------------------------------------------------------------------

    def _ensure_sweeper(self) -> None:
        if self._sweeper is None or self._sweeper.done():
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever(), name="live-sweeper")

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.limits.sweep_every_s)
            await self.sweep()

    async def sweep(self, now: float | None = None) -> list[str]:
        """Close sessions that never connected or whose sender stopped pulling; returns their ids."""
        now = time.monotonic() if now is None else now
        doomed: list[tuple[str, str]] = []
        for session in list(self._sessions.values()):
            stats = session.track.stats()
            if stats.packets != session.last_packets:
                session.last_packets, session.last_progress = stats.packets, now
            state = session.pc.connectionState
            if state != "connected" and now - session.created > self.limits.connect_timeout_s:
                doomed.append((session.id, "connect_timeout"))
            elif (
                state == "connected"
                and now - session.last_progress > self.limits.stale_after_s
                and session.track.queued() > 0
            ):
                doomed.append((session.id, "stalled_viewer"))
        for session_id, reason in doomed:
            await self.close_session(session_id, reason=reason)
        return [session_id for session_id, _ in doomed]

    async def close(self) -> None:
        """Close every session, transcoder and keyframe keeper (station shutdown)."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        for session_id in list(self._sessions):
            await self.close_session(session_id, reason="shutdown")
        for key in list(self._transcoders):
            shared = self._transcoders.pop(key)
            await asyncio.to_thread(shared.worker.stop)
        with self._keepers_lock:
            keepers, self._keepers = list(self._keepers.values()), {}
        for keeper in keepers:
            keeper.stop()

    def stats(self) -> LiveStats:
        sessions = list(self._sessions.values())
        now = time.monotonic()
        senders_encoding = sum(1 for s in sessions if s.sender is not None and sender_encoded(s.sender))
        transcoders = list(self._transcoders.values())
        return LiveStats(
            viewers=len(sessions),
            max_viewers=self.limits.max_viewers,
            sessions=[_session_stats(s, now) for s in sessions],
            transcoders=len(transcoders),
            frames_encoded=self._retired_encoded
            + sum(t.worker.frames_encoded for t in transcoders)
            + senders_encoding,
            frames_decoded=self._retired_decoded + sum(t.worker.frames_decoded for t in transcoders),
            senders_encoding=senders_encoding,
            snapshots_encoded=self._snapshots.encoded,
            closed_sessions=self._closed_sessions,
        )

    # snapshots -----------------------------------------------------------------------------------

    def snapshot(self, camera_id: str, requested_stream: str, *, max_width: int | None = None) -> Snapshot:
        """The newest keyframe as JPEG (blocking: call in a worker thread). Raises SnapshotUnavailableError
        while no keyframe has arrived, SnapshotDecodeError when it cannot be decoded."""
        stream = choose_stream(requested_stream, self.available_streams(camera_id))
        return self._snapshots.get(self._keeper(camera_id, stream), max_width=max_width)

    def _keeper(self, camera_id: str, stream: str) -> KeyframeKeeper:
        key = (camera_id, stream)
        with self._keepers_lock:
            keeper = self._keepers.get(key)
            if keeper is None:
                keeper = self._keepers[key] = KeyframeKeeper(camera_id=camera_id, stream=stream)
                keeper.attach(self.ingest.worker(camera_id, stream).fanout)
            return keeper

    def start_keepers(self) -> None:
        """Keep keyframes of every camera's wall stream from now on, so the first snapshot is instant."""
        for camera_id in self.cameras:
            streams = self.available_streams(camera_id)
            if streams:
                self._keeper(camera_id, choose_stream("sub", streams))


def _session_stats(session: LiveSession, now: float) -> SessionStats:
    stats = session.track.stats()
    first = stats.first_packet_monotonic
    return SessionStats(
        session_id=session.id[:8],
        camera_id=session.camera_id,
        stream=session.stream,
        username=session.username,
        transcoded=session.transcoded,
        state=session.pc.connectionState,
        age_s=round(now - session.created, 3),
        packets=stats.packets,
        bytes=stats.bytes,
        dropped=stats.dropped,
        time_to_first_packet_s=None if first is None else round(first - session.created, 3),
    )


def _latency_recorder(session: LiveSession) -> Any:
    """Remember (pts90, arrival, sent) of recent packets, for the live-path latency benchmark."""

    def record(packet: MediaPacket, pts90: int) -> None:
        session.latency_log.append((pts90, packet.arrival_utc, time.time()))
        if len(session.latency_log) > 2000:
            del session.latency_log[:1000]

    return record


async def open_live(settings: Settings, ingest: IngestManager, stack: AsyncExitStack) -> LiveRegistry:
    """The station's live registry over the running ``ingest``, closed (all viewers) when ``stack`` unwinds.

    Wire it in :func:`console.station.open_station` after the ingest is started::

        station.live = await open_live(settings, ingest, stack)
    """
    console = settings.config.console
    registry = LiveRegistry(
        ingest,
        settings.config.cameras,
        ice_servers=console.ice_servers,
        limits=LiveLimits(max_viewers_per_user=console.live_views_per_user),
    )
    stack.push_async_callback(registry.close)
    registry.start_keepers()
    return registry
