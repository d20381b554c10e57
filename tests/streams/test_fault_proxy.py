"""The fault-injecting TCP proxy of the network-fault tests (tests/support/fault_proxy.py), against a real
echo server on 127.0.0.1: it forwards, delays, stalls without closing, resets with RST, refuses, and its
buffers stay bounded while stalled."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from tests.support.fault_proxy import FaultProxy, FaultProxyError

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def echo_port() -> Iterator[int]:
    """An echo server on 127.0.0.1 (one thread per connection)."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def _echo(conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            while data := conn.recv(65536):
                conn.sendall(data)

    def _accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=_echo, args=(conn,), daemon=True).start()

    threading.Thread(target=_accept, daemon=True).start()
    yield listener.getsockname()[1]
    stop.set()
    listener.close()


@pytest.fixture
def proxy(echo_port: int) -> Iterator[FaultProxy]:
    with FaultProxy("127.0.0.1", echo_port) as started:
        yield started


def _connect(proxy: FaultProxy, timeout_s: float = 5.0) -> socket.socket:
    return socket.create_connection(("127.0.0.1", proxy.port), timeout=timeout_s)


def _recv_exactly(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def test_forwards_both_ways_and_counts(proxy: FaultProxy) -> None:
    with _connect(proxy) as conn:
        conn.sendall(b"hello" * 1000)
        assert _recv_exactly(conn, 5000) == b"hello" * 1000
        assert proxy.connections == 1
    assert proxy.stats.accepted == 1 and proxy.stats.downstream_bytes == 5000


def test_delay_holds_every_chunk(proxy: FaultProxy) -> None:
    proxy.set_delay(0.3)
    with _connect(proxy) as conn:
        began = time.monotonic()
        conn.sendall(b"x")
        _recv_exactly(conn, 1)
        took = time.monotonic() - began
    assert 0.6 <= took < 3.0  # 0.3 s each way


def test_stall_keeps_the_connection_open_and_delivers_after(proxy: FaultProxy) -> None:
    with _connect(proxy, timeout_s=0.5) as conn:
        proxy.stall()
        conn.sendall(b"during")
        with pytest.raises(TimeoutError):
            conn.recv(10)
        proxy.resume()
        conn.settimeout(5)
        assert _recv_exactly(conn, 6) == b"during"
        proxy.stall(0.4)  # for a while only
        began = time.monotonic()
        conn.sendall(b"timed")
        assert _recv_exactly(conn, 5) == b"timed"
        assert time.monotonic() - began >= 0.3


def test_reset_all_sends_rst_and_the_proxy_goes_on(proxy: FaultProxy) -> None:
    with _connect(proxy) as conn:
        conn.sendall(b"a")
        _recv_exactly(conn, 1)
        assert proxy.reset_all() == 1
        with pytest.raises(ConnectionResetError):
            conn.sendall(b"b")
            conn.recv(10)
    with _connect(proxy) as conn:  # new connections are served
        conn.sendall(b"c")
        assert _recv_exactly(conn, 1) == b"c"
    assert proxy.stats.resets == 1


def test_refuse_resets_new_connections(proxy: FaultProxy) -> None:
    proxy.refuse()
    with pytest.raises(ConnectionResetError), _connect(proxy) as conn:  # at connect or at the first read
        conn.recv(10)
    proxy.refuse(False)
    with _connect(proxy) as conn:
        conn.sendall(b"d")
        assert _recv_exactly(conn, 1) == b"d"
    assert proxy.stats.refused == 1


def test_reset_after_bytes(proxy: FaultProxy) -> None:
    proxy.reset_after_bytes = 100
    with _connect(proxy) as conn:
        conn.sendall(b"z" * 100)
        _recv_exactly(conn, 100)
        with pytest.raises((ConnectionResetError, ConnectionError)):
            conn.sendall(b"z")
            _recv_exactly(conn, 1)
    assert proxy.stats.resets == 1


def test_a_stall_bounds_what_the_proxy_holds(echo_port: int) -> None:
    with (
        FaultProxy("127.0.0.1", echo_port, buffer_chunks=2, chunk_bytes=4096) as small,
        _connect(small, timeout_s=1.0) as conn,
    ):
        small.stall()
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 << 10)
        sent = 0
        with pytest.raises(TimeoutError):
            for _ in range(100_000):
                sent += conn.send(b"\0" * 65536)
        # kernel socket buffers on both hops hold a few MiB; the proxy itself at most 2 x 4 KiB
        assert sent < 64 << 20
        assert small.stats.downstream_bytes == 0


def test_controls_need_a_running_proxy(echo_port: int) -> None:
    idle = FaultProxy("127.0.0.1", echo_port)
    with pytest.raises(FaultProxyError):
        idle.reset_all()
    with pytest.raises(ValueError, match="delay"):
        idle.set_delay(-1)
