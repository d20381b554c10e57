"""The station's media threads on ``recording.media_cpus``: what health says is what the threads run on."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from config.error import ConfigError
from config.schema import RecordingConfig
from config.settings import Settings
from console.app import create_app
from storage.model import Role
from streams.affinity import available_cpus
from tests.support.affinity import allowed_cpus
from tests.support.console import make_user, running_station, sign_in, station_config


def _settings(tmp_path: Path, media_cpus: object) -> Settings:
    config = station_config(tmp_path / "data").model_copy(
        update={"recording": RecordingConfig(media_cpus=media_cpus)}
    )
    return Settings(config=config, config_path=None)


def _media_cpus(client: TestClient) -> object:
    """``media_cpus`` of ``/api/health`` (a detail: signed in)."""
    if "station_session" not in client.cookies:
        make_user(running_station(client).database, "monitor", Role.OFFICER)
        sign_in(client, "monitor")
    return client.get("/api/health").json()["media_cpus"]


def _camera_thread_cpus(client: TestClient) -> set[int]:
    thread = running_station(client).recording.ingest.worker("entrance-1")._thread
    assert thread is not None and thread.native_id is not None and thread.is_alive()
    return allowed_cpus(thread.native_id)


def test_auto_pins_the_camera_threads_to_the_last_cpu_and_says_so(tmp_path: Path) -> None:
    cpus = available_cpus()
    with TestClient(create_app(_settings(tmp_path, "auto"))) as client:
        media_cpus = _media_cpus(client)
        camera_cpus = _camera_thread_cpus(client)
    if len(cpus) < 2:
        assert media_cpus is None and camera_cpus == cpus
    else:
        assert media_cpus == [max(cpus)] and camera_cpus == {max(cpus)}
    assert available_cpus() == cpus  # the web side (this thread and the app's) keeps every CPU


def test_all_leaves_every_cpu_and_a_list_is_taken_as_given(tmp_path: Path) -> None:
    cpus = available_cpus()
    with TestClient(create_app(_settings(tmp_path / "all", "all"))) as client:
        assert _media_cpus(client) is None
        assert _camera_thread_cpus(client) == cpus
    first = min(cpus)
    with TestClient(create_app(_settings(tmp_path / "list", [first]))) as client:
        assert _media_cpus(client) == [first]
        assert _camera_thread_cpus(client) == {first}


def test_a_cpu_the_machine_lacks_stops_the_station_with_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught, TestClient(create_app(_settings(tmp_path, [4000]))):
        pass
    [problem] = caught.value.problems
    assert problem.path == "recording.media_cpus"
    assert problem.message.startswith("CPU 4000 not available to the station")
