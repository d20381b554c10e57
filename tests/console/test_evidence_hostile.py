"""The verify upload against hostile packages: never a 5xx or a traceback, always a specific reason; and the
worker's limits (time, concurrency) answered as clean errors."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from config.settings import Settings
from console.app import create_app
from console.station import Station
from console.verify_worker import VerifyWorker, report_from_wire, report_to_wire
from storage.control_char import escape_control_chars
from storage.evidence.verifier import verify_package
from storage.model import Role
from tests.support.console import make_user, running_station, sign_in, station_config
from tests.support.evidence import make_package
from tests.support.hostile_zip import CORPUS, Genuine, HostileCase, assemble


@dataclass(frozen=True)
class Investigator:
    client: TestClient
    csrf: str
    station: Station
    genuine: Genuine

    def upload(self, data: bytes, name: str = "package.zip", lang: str = "en") -> Response:
        response: Response = self.client.post(
            "/api/evidence/verify",
            files={"package": (name, data, "application/zip")},
            headers={"X-CSRF-Token": self.csrf, "Accept-Language": lang},
        )
        return response


@pytest.fixture(scope="module")
def investigator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Investigator]:
    """One running station for the whole corpus (starting one per case would take most of the time)."""
    root = tmp_path_factory.mktemp("hostile")
    app = create_app(Settings(config=station_config(root / "data"), config_path=None))
    with TestClient(app, base_url="http://testserver") as client:
        station = running_station(client)
        make_user(station.database, "investigator", role=Role.INVESTIGATOR)
        csrf = sign_in(client, "investigator")
        result, key = make_package(root / "genuine", key=station.key)
        yield Investigator(client, csrf, station, Genuine.of(result.path, key))


def _tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.exc_info is not None
        or record.levelno >= logging.ERROR
        or "Traceback" in record.getMessage()
    ]


@pytest.mark.parametrize("case", CORPUS, ids=[case.id for case in CORPUS])
def test_hostile_upload_gets_a_reason_never_a_server_error(
    case: HostileCase, investigator: Investigator, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        response = investigator.upload(case.build(investigator.genuine), name=f"{case.id}.zip")
    assert response.status_code < 500, response.text
    assert not _tracebacks(caplog)
    body = response.json()
    if case.unreadable:
        assert response.status_code == 422
        assert body["error"]["code"] == "not_a_package" and case.reason in body["error"]["cause"]
        return
    assert response.status_code == 200, response.text
    assert body["verdict"] == "invalid" and body["valid"] is False
    assert any(escape_control_chars(case.reason) in error for error in body["errors"]), body["errors"]


def test_genuine_package_verifies_through_the_worker(investigator: Investigator) -> None:
    response = investigator.upload(assemble(investigator.genuine.raw()))
    assert response.status_code == 200 and response.json()["verdict"] == "valid", response.text


def test_a_check_over_its_time_limit_is_stopped(investigator: Investigator) -> None:
    station = investigator.station
    station.verifier = VerifyWorker(base_time_limit_s=0.05, slowest_bytes_per_s=1 << 40)
    try:
        response = investigator.upload(assemble(investigator.genuine.raw()), lang="ru")
    finally:
        station.verifier = VerifyWorker()
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "verify_timeout"
    assert error["message_en"] == "checking package.zip took longer than 0 s and was stopped"
    assert error["message"] != error["message_en"]  # translated


def test_checks_beyond_the_concurrency_limit_are_refused(investigator: Investigator) -> None:
    station = investigator.station
    station.verifier = VerifyWorker(max_concurrent=1, queue_wait_s=0.1)
    holding, release = threading.Event(), threading.Event()

    def busy() -> None:
        with station.verifier.slot():
            holding.set()
            release.wait(10)

    worker = threading.Thread(target=busy)
    worker.start()
    try:
        holding.wait(10)
        refused = investigator.upload(assemble(investigator.genuine.raw()))
    finally:
        release.set()
        worker.join()
    accepted = investigator.upload(assemble(investigator.genuine.raw()))
    station.verifier = VerifyWorker()
    assert refused.status_code == 429, refused.text
    assert refused.json()["error"]["code"] == "verify_busy" and refused.headers["Retry-After"] == "60"
    assert accepted.status_code == 200 and accepted.json()["verdict"] == "valid"


def test_worker_limits_scale_with_the_file() -> None:
    worker = VerifyWorker()
    assert worker.time_limit_s(0) == 15.0
    assert worker.time_limit_s(4096 << 20) == 15.0 + 128.0


def test_report_survives_the_trip_from_the_worker(tmp_path: Path) -> None:
    result, key = make_package(tmp_path)
    report = verify_package(result.path, trusted_keys=[key.public_key])
    assert report_from_wire(report_to_wire(report)) == report
