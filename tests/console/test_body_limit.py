"""Request-body caps: an oversized body is refused with 413 before any route or sign-in work, unread.

The ASGI-level tests drive the real app (running station, on the TestClient's event loop) with a body that
arrives in chunks, so they can count how much of it the app pulled.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from config.settings import Settings
from console.app import create_app
from storage.model import Role
from tests.support.console import make_user, running_station, sign_in, station_config
from tests.support.evidence import make_package
from tests.support.station_process import running

KIB = 1024
MIB = 1024 * KIB
CHUNK_BYTES = 64 * KIB


class ChunkedBody:
    """An ASGI ``receive`` handing out ``total_bytes`` of login JSON in chunks; counts what was pulled."""

    def __init__(
        self, total_bytes: int, head: bytes = b'{"username": "ivanov", "password": "', tail: bytes = b'"}'
    ) -> None:
        self.data = head + b"x" * (total_bytes - len(head) - len(tail)) + tail
        self.pulled = 0

    async def receive(self) -> MutableMapping[str, Any]:
        if self.pulled >= len(self.data):
            return {"type": "http.disconnect"}
        chunk = self.data[self.pulled : self.pulled + CHUNK_BYTES]
        self.pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": self.pulled < len(self.data)}


def post_chunked(
    client: TestClient,
    path: str,
    body: ChunkedBody,
    *,
    content_length: bool,
    lang: str = "en",
    content_type: bytes = b"application/json",
) -> tuple[int, dict[str, Any]]:
    """POST ``body`` through the running app at the ASGI level; returns (status, JSON answer)."""
    headers = [(b"content-type", content_type), (b"accept-language", lang.encode())]
    if content_length:
        headers.append((b"content-length", str(len(body.data)).encode()))
    else:
        headers.append((b"transfer-encoding", b"chunked"))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    sent: list[MutableMapping[str, Any]] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    async def run() -> None:
        await client.app(scope, body.receive, send)

    if client.portal is None:
        raise RuntimeError("the client is not started")
    client.portal.call(run)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    payload = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    answer: dict[str, Any] = json.loads(payload)
    return status, answer


def test_an_oversized_login_with_content_length_is_refused_unread(console_client: TestClient) -> None:
    body = ChunkedBody(8 * MIB)
    status, answer = post_chunked(console_client, "/api/auth/login", body, content_length=True)
    assert status == 413, answer
    assert answer["error"]["code"] == "too_large"
    assert answer["error"]["limit_bytes"] < 1 * MIB
    assert body.pulled == 0  # answered from the header alone


def test_an_oversized_chunked_login_is_refused_after_the_cap(console_client: TestClient) -> None:
    body = ChunkedBody(8 * MIB)
    status, answer = post_chunked(console_client, "/api/auth/login", body, content_length=False, lang="kk")
    assert status == 413, answer
    error = answer["error"]
    assert error["code"] == "too_large" and error["message_en"].startswith("the request is larger than")
    assert error["message"] != error["message_en"]  # in the asked language
    assert body.pulled <= error["limit_bytes"] + CHUNK_BYTES


def test_bodies_under_the_cap_still_work(console_client: TestClient) -> None:
    make_user(running_station(console_client).database, "ivanov")
    sign_in(console_client, "ivanov")
    wrong = console_client.post("/api/auth/login", json={"username": "ivanov", "password": "x" * 1025})
    assert wrong.status_code == 422  # the field's own limit answers, not the body cap
    body = ChunkedBody(4 * KIB)
    status, answer = post_chunked(console_client, "/api/auth/login", body, content_length=False)
    assert status == 422 and answer["error"]["code"] == "validation_error"


def test_an_oversized_login_form_gets_an_error_page(console_client: TestClient) -> None:
    response = console_client.post(
        "/login",
        content=b"username=a&password=" + b"x" * (1 * MIB),
        headers={"content-type": "application/x-www-form-urlencoded", "accept": "text/html"},
    )
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("text/html")


@pytest.fixture
def small_upload_client(tmp_path: Path) -> Iterator[TestClient]:
    """A console whose uploads are capped at 1 MiB."""
    settings = Settings(config=station_config(tmp_path / "data", max_upload_mb=1), config_path=None)
    app: FastAPI = create_app(settings)
    with TestClient(app, base_url="http://testserver") as client:
        yield client


def _upload(client: TestClient, data: bytes, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    response = client.post(
        "/api/evidence/verify",
        files={"package": ("package.zip", data, "application/zip")},
        headers=headers or {},
    )
    return response.status_code, response.json()


def test_a_chunked_upload_over_the_configured_cap_is_refused_mid_stream(
    small_upload_client: TestClient,
) -> None:
    head = (
        b'--B\r\nContent-Disposition: form-data; name="package"; filename="p.zip"\r\n'
        b"Content-Type: application/zip\r\n\r\n"
    )
    body = ChunkedBody(8 * MIB, head=head, tail=b"\r\n--B--\r\n")
    status, answer = post_chunked(
        small_upload_client,
        "/api/evidence/verify",
        body,
        content_length=False,
        content_type=b"multipart/form-data; boundary=B",
    )
    assert status == 413 and answer["error"]["code"] == "too_large", answer
    assert body.pulled <= answer["error"]["limit_bytes"] + CHUNK_BYTES


def test_an_upload_over_the_configured_cap_is_refused(
    small_upload_client: TestClient, tmp_path: Path
) -> None:
    client = small_upload_client
    too_big = b"\0" * (2 * MIB)
    status, answer = _upload(client, too_big)
    assert status == 413 and answer["error"]["code"] == "too_large"  # before sign-in is even checked
    station = running_station(client)
    make_user(station.database, "investigator", role=Role.INVESTIGATOR)
    csrf = {"X-CSRF-Token": sign_in(client, "investigator")}
    status, answer = _upload(client, too_big, csrf)
    assert status == 413 and answer["error"]["limit_bytes"] >= 1 * MIB
    package, _ = make_package(tmp_path / "good", key=station.key)
    status, answer = _upload(client, package.path.read_bytes(), csrf)
    assert status == 200 and answer["valid"] is True, answer
    assert not any((station.settings.data_dir / "tmp").glob("*"))  # nothing left behind


# --- against a real server --------------------------------------------------------------------------


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise LookupError(field)


def _stream_login(base: str, total_bytes: int) -> tuple[int, float]:
    """POST ``total_bytes`` of login JSON, chunked (no Content-Length); (status, seconds to the answer)."""

    def chunks() -> Iterator[bytes]:
        yield b'{"username": "ivanov", "password": "'
        for _ in range(total_bytes // MIB):
            yield b"x" * MIB
        yield b'"}'

    started = time.monotonic()
    response = httpx.post(
        f"{base}/api/auth/login", content=chunks(), headers={"content-type": "application/json"}, timeout=60
    )
    return response.status_code, time.monotonic() - started


def _declare_and_wait(base: str, declared_bytes: int) -> tuple[bytes, float]:
    """Send the headers of a ``declared_bytes`` login only; (status line, seconds to the answer)."""
    host, port = base.removeprefix("http://").split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /api/auth/login HTTP/1.1\r\nHost: station\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {declared_bytes}\r\n\r\n".encode()
            + b'{"username": "ivanov", "password": "'
        )
        answer = sock.recv(4096)
    return answer.split(b"\r\n", 1)[0], time.monotonic() - started


@pytest.mark.timeout(120)
def test_a_served_console_refuses_big_anonymous_bodies_without_growing(tmp_path: Path) -> None:
    config = tmp_path / "station.yaml"
    config.write_text(f"station: {{name: ЖК Тест}}\nstorage: {{data_dir: {tmp_path / 'data'}}}\n")
    with running("run", "--config", str(config)) as (process, base):
        status_line, seconds = _declare_and_wait(base, 250 * MIB)
        assert status_line.startswith(b"HTTP/1.1 413 ") and seconds < 5  # no body was waited for

        Path(f"/proc/{process.pid}/clear_refs").write_text("5")  # restart the peak (VmHWM) from now
        before_kib = _status_kib(process.pid, "VmRSS")
        with ThreadPoolExecutor(3) as pool:
            results = list(pool.map(_stream_login, [base] * 3, [50 * MIB] * 3))
        growth_mib = (_status_kib(process.pid, "VmHWM") - before_kib) / 1024
        assert [status for status, _ in results] == [413] * 3
        assert growth_mib < 24, f"peak RSS grew by {growth_mib:.0f} MiB"
        print(
            f"413 from the headers in {seconds * 1000:.0f} ms; 3 x 50 MiB chunked: "
            f"{max(s for _, s in results):.2f} s, peak RSS growth {growth_mib:.1f} MiB"
        )
