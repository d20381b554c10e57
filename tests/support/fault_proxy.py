"""A fault-injecting TCP proxy for network-fault tests: a camera behind a bad link, the camera untouched.

``FaultProxy(upstream_host, upstream_port)`` listens on 127.0.0.1 (a free port) and forwards every accepted
connection to the upstream, in both directions, from one asyncio loop in a daemon thread (``fault-proxy``).
Controls, callable from any thread while it runs:

- ``set_delay(seconds)``: every chunk is forwarded ``seconds`` after it was read (added one-way latency);
- ``stall(seconds=None)`` / ``resume()``: stop forwarding without closing anything (the sockets stay open,
  nothing moves; new connections are accepted and stall too), for ``seconds`` or until ``resume()``;
- ``reset_all()``: every current connection is closed with a TCP RST (``SO_LINGER`` 0) on both sides;
- ``refuse(True)``: new connections are answered with a RST at once (``refuse(False)`` ends it);
- ``reset_after_bytes``: reset each connection once it has forwarded that many bytes downstream (drives
  reconnects quickly: the client connects, gets the start of its stream, and loses it); a sequence is taken
  in turn, one element per accepted connection (resets at different stages of the handshake and stream).

Buffers are bounded: each direction holds at most ``buffer_chunks`` reads of at most ``chunk_bytes``; when it
is full the proxy stops reading, so TCP back-pressure reaches the sender (a stall never grows memory).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")

#: SO_LINGER on with a zero timeout: close() sends RST instead of FIN
_LINGER_RST = struct.pack("ii", 1, 0)


class FaultProxyError(RuntimeError):
    """The proxy is not running, or did not start."""


@dataclass
class ProxyStats:
    accepted: int = 0  # connections accepted from clients
    refused: int = 0  # connections answered with a RST while refusing (or the upstream refused)
    resets: int = 0  # connections reset by reset_all or reset_after_bytes
    downstream_bytes: int = 0  # bytes forwarded upstream -> client


@dataclass(eq=False)
class _Link:
    """One proxied connection: the client's and the upstream's writer."""

    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter
    downstream_bytes: int = 0
    reset_after_bytes: int | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    closed: bool = False

    def reset(self) -> None:
        """Close both sides with RST."""
        if self.closed:
            return
        self.closed = True
        for writer in (self.client, self.upstream):
            _abort_with_rst(writer)
        for task in self.tasks:
            task.cancel()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for writer in (self.client, self.upstream):
            writer.close()
        for task in self.tasks:
            task.cancel()


def _abort_with_rst(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
    writer.transport.abort()


class FaultProxy:
    def __init__(
        self,
        upstream_host: str,
        upstream_port: int,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        buffer_chunks: int = 8,
        chunk_bytes: int = 64 << 10,
    ) -> None:
        if buffer_chunks < 1 or chunk_bytes < 1:
            raise ValueError("buffer_chunks and chunk_bytes must be >= 1")
        self.upstream = (upstream_host, upstream_port)
        self.host = host
        self.port = port
        self.buffer_chunks = buffer_chunks
        self.chunk_bytes = chunk_bytes
        self.stats = ProxyStats()
        self.reset_after_bytes: int | Sequence[int] | None = None
        self._delay_s = 0.0
        self._refusing = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._flowing: asyncio.Event | None = None
        self._resume_timer: asyncio.TimerHandle | None = None
        self._links: set[_Link] = set()

    # lifecycle -----------------------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            raise FaultProxyError("the proxy is already running")
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []

        def _run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._listen())
            except OSError as exc:
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()

        self._loop = loop
        self._thread = threading.Thread(target=_run, name="fault-proxy", daemon=True)
        self._thread.start()
        if not ready.wait(10) or failure:
            self.stop()
            raise FaultProxyError(f"the proxy did not start: {failure[0] if failure else 'timeout'}")

    async def _listen(self) -> None:
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if thread.is_alive():
            with contextlib.suppress(FaultProxyError):
                self._call(self._shutdown)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
        loop.close()
        self._loop = self._thread = None

    def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for link in list(self._links):
            link.close()
        self._links.clear()

    def __enter__(self) -> FaultProxy:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    # controls (any thread) -----------------------------------------------------------------------------

    @property
    def connections(self) -> int:
        """Connections open right now."""
        return self._call(lambda: len(self._links))

    def set_delay(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("delay must be >= 0")
        self._delay_s = seconds

    def stall(self, seconds: float | None = None) -> None:
        """Stop forwarding (nothing closed) for ``seconds``, or until :meth:`resume`."""
        if seconds is not None and seconds <= 0:
            raise ValueError("stall seconds must be > 0")

        def _stall() -> None:
            assert self._flowing is not None and self._loop is not None
            self._flowing.clear()
            if self._resume_timer is not None:
                self._resume_timer.cancel()
            self._resume_timer = None if seconds is None else self._loop.call_later(seconds, self._resume)

        self._call(_stall)

    def resume(self) -> None:
        self._call(self._resume)

    def _resume(self) -> None:
        assert self._flowing is not None
        if self._resume_timer is not None:
            self._resume_timer.cancel()
            self._resume_timer = None
        self._flowing.set()

    def reset_all(self) -> int:
        """Reset every open connection (RST both ways); returns how many."""

        def _reset() -> int:
            links = list(self._links)
            for link in links:
                self._reset(link)
            return len(links)

        return self._call(_reset)

    def refuse(self, refusing: bool = True) -> None:
        self._refusing = refusing

    def _call(self, function: Callable[[], T]) -> T:
        loop = self._loop
        if loop is None or self._thread is None or not self._thread.is_alive():
            raise FaultProxyError("the proxy is not running")

        async def _on_loop() -> T:
            return function()

        return asyncio.run_coroutine_threadsafe(_on_loop(), loop).result(10)

    # the loop's side -----------------------------------------------------------------------------------

    def _reset(self, link: _Link) -> None:
        if not link.closed:
            self.stats.resets += 1
        link.reset()
        self._links.discard(link)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.stats.accepted += 1
        if self._refusing:
            self.stats.refused += 1
            _abort_with_rst(writer)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            self.stats.refused += 1
            _abort_with_rst(writer)
            return
        limit = self.reset_after_bytes
        if limit is not None and not isinstance(limit, int):
            limit = limit[(self.stats.accepted - 1) % len(limit)]
        link = _Link(client=writer, upstream=up_writer, reset_after_bytes=limit)
        self._links.add(link)
        link.tasks = [
            asyncio.create_task(self._pipe(reader, up_writer, link, downstream=False)),
            asyncio.create_task(self._pipe(up_reader, writer, link, downstream=True)),
        ]
        await asyncio.wait(link.tasks, return_when=asyncio.FIRST_COMPLETED)
        if link in self._links:
            self._links.discard(link)
            link.close()
        await asyncio.gather(*link.tasks, return_exceptions=True)

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, link: _Link, *, downstream: bool
    ) -> None:
        queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue(self.buffer_chunks)
        sender = asyncio.create_task(self._send(queue, writer, link, downstream=downstream))
        try:
            while True:
                try:
                    data = await reader.read(self.chunk_bytes)
                except OSError:
                    break
                if not data:
                    break
                loop = asyncio.get_running_loop()
                await queue.put((loop.time() + self._delay_s, data))  # waits while the buffer is full
            await queue.put(None)
            await sender  # everything read is delivered before this direction ends
        finally:
            sender.cancel()

    async def _send(
        self,
        queue: asyncio.Queue[tuple[float, bytes] | None],
        writer: asyncio.StreamWriter,
        link: _Link,
        *,
        downstream: bool,
    ) -> None:
        assert self._flowing is not None
        loop = asyncio.get_running_loop()
        while (item := await queue.get()) is not None:
            due, data = item
            await self._flowing.wait()
            if (wait_s := due - loop.time()) > 0:
                await asyncio.sleep(wait_s)
            await self._flowing.wait()  # a stall that began during the delay holds this chunk too
            try:
                writer.write(data)
                await writer.drain()
            except OSError:
                return
            if downstream:
                link.downstream_bytes += len(data)
                self.stats.downstream_bytes += len(data)
                limit = link.reset_after_bytes
                if limit is not None and link.downstream_bytes >= limit:
                    self._reset(link)
                    return
