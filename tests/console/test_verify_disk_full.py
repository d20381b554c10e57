"""Issue 26, faults to survive: a verify upload that hits ENOSPC. The form parser spools the upload to
``$TMPDIR`` (``tempfile.gettempdir()``; see systemd/README.md); here that is a real size-limited tmpfs the
test mounts. Whether the disk fills while the upload is spooled (a large package) or when an upload held in
memory is written out for the worker (a small one, on a disk already full), the request is answered 507
``insufficient_storage`` in the request's language, no byte of the spool stays on the disk, nothing logs a
traceback, and the next upload, once space returns, is checked as usual.

507 rather than 413: the upload is not too large for the station (413 would tell the client to give up or
send less); the station has no room for it right now, a server-side condition that passes (RFC 4918
§11.5: "unable to store the representation needed to complete the request"), hence ``Retry-After``.
"""

from __future__ import annotations

import errno
import logging
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from starlette.exceptions import HTTPException

from config.settings import Settings
from console.app import create_app
from console.error import disk_full_cause
from storage.model import Role
from tests.support.console import make_user, running_station, sign_in, station_config
from tests.support.evidence import make_package
from tests.support.small_disk import fill, mount_tmpfs, used_bytes

pytestmark = pytest.mark.timeout(60)

SPOOL_SIZE = "2m"


@dataclass(frozen=True)
class Uploader:
    client: TestClient
    csrf: str
    spool: Path
    genuine: bytes

    def upload(self, data: bytes, lang: str = "ru") -> Response:
        response: Response = self.client.post(
            "/api/evidence/verify",
            files={"package": ("пакет.zip", data, "application/zip")},
            headers={"X-CSRF-Token": self.csrf, "Accept-Language": lang},
        )
        return response


@pytest.fixture
def uploader(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Uploader]:
    spool = tmp_path / "spool"
    unmount = mount_tmpfs(spool, SPOOL_SIZE)
    try:
        app = create_app(Settings(config=station_config(tmp_path / "data"), config_path=None))
        with TestClient(app, base_url="http://testserver") as client:
            station = running_station(client)
            make_user(station.database, "investigator", role=Role.INVESTIGATOR)
            csrf = sign_in(client, "investigator")
            result, _key = make_package(tmp_path / "genuine", key=station.key)
            monkeypatch.setattr(tempfile, "tempdir", str(spool))  # the form parser's spool: $TMPDIR
            yield Uploader(client, csrf, spool, result.path.read_bytes())
    finally:
        unmount()


@pytest.mark.parametrize(
    ("error", "found"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), True),
        (OSError(errno.EDQUOT, "Disk quota exceeded"), True),
        (OSError(errno.EIO, "Input/output error"), False),
        (ValueError("not a disk error"), False),
    ],
)
def test_disk_full_cause_is_found_behind_the_errors_raised_from_it(error: Exception, found: bool) -> None:
    wrapper = HTTPException(400, "There was an error parsing the body")
    wrapper.__cause__ = error
    assert (disk_full_cause(wrapper) is error) is found
    assert (disk_full_cause(error) is error) is found
    looped = RuntimeError("a cycle")
    looped.__context__ = looped
    assert disk_full_cause(looped) is None


def _tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.exc_info is not None or record.levelno >= logging.ERROR
    ]


def _assert_refused_for_space(response: Response) -> None:
    assert response.status_code == 507, response.text
    error = response.json()["error"]
    assert error["code"] == "insufficient_storage", error
    assert error["message_en"] == "the station has no free space left for this request; try again later"
    assert error["message"] != error["message_en"]  # translated (ru)
    assert "No space left on device" in error["cause"]
    assert int(response.headers["Retry-After"]) > 0


def test_an_upload_larger_than_the_free_space_is_refused_cleanly(
    uploader: Uploader, caplog: pytest.LogCaptureFixture
) -> None:
    before = used_bytes(uploader.spool)
    big = os.urandom(3 << 20)  # spooled to disk past 1 MiB; the 2 MiB file system fills on the way
    with caplog.at_level(logging.INFO):
        response = uploader.upload(big)
    _assert_refused_for_space(response)
    assert not _tracebacks(caplog)
    assert list(uploader.spool.iterdir()) == []
    assert used_bytes(uploader.spool) == before  # no partial spool file, named or not
    again = uploader.upload(uploader.genuine, lang="en")  # the station goes on
    assert again.status_code == 200 and again.json()["verdict"] == "valid", again.text


def test_a_small_upload_on_a_full_disk_is_refused_cleanly_and_checked_once_space_returns(
    uploader: Uploader, caplog: pytest.LogCaptureFixture
) -> None:
    filler = uploader.spool / "filler.bin"
    fill(filler)
    before = used_bytes(uploader.spool)
    small = os.urandom(100 << 10)  # held in memory by the parser, written out for the worker
    with caplog.at_level(logging.INFO):
        response = uploader.upload(small)
    _assert_refused_for_space(response)
    assert not _tracebacks(caplog)
    assert [p.name for p in uploader.spool.iterdir()] == ["filler.bin"]
    assert used_bytes(uploader.spool) == before
    filler.unlink()  # space returns
    checked = uploader.upload(small, lang="en")
    assert checked.status_code == 422 and checked.json()["error"]["code"] == "not_a_package", checked.text
    again = uploader.upload(uploader.genuine, lang="en")
    assert again.status_code == 200 and again.json()["verdict"] == "valid", again.text
