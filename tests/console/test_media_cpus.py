"""The station's media threads on ``recording.media_cpus``: what health says is what the threads run on."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from config.error import ConfigError
from config.schema import RecordingConfig
from config.settings import Settings
from console.app import create_app
from streams.affinity import available_cpus
from tests.support.affinity import allowed_cpus
from tests.support.console import running_station, station_config


def _settings(tmp_path: Path, media_cpus: object) -> Settings:
    config = station_config(tmp_path / "data").model_copy(
        update={"recording": RecordingConfig(media_cpus=media_cpus)}
    )
    return Settings(config=config, config_path=None)


def _camera_thread_cpus(client: TestClient) -> set[int]:
    thread = running_station(client).recording.ingest.worker("entrance-1")._thread
    assert thread is not None and thread.native_id is not None and thread.is_alive()
    return allowed_cpus(thread.native_id)


def test_auto_pins_the_camera_threads_to_the_last_cpu_and_says_so(tmp_path: Path) -> None:
    cpus = available_cpus()
    with TestClient(create_app(_settings(tmp_path, "auto"))) as client:
        health = client.get("/api/health").json()
        camera_cpus = _camera_thread_cpus(client)
    if len(cpus) < 2:
        assert health["media_cpus"] is None and camera_cpus == cpus
    else:
        assert health["media_cpus"] == [max(cpus)] and camera_cpus == {max(cpus)}
    assert available_cpus() == cpus  # the web side (this thread and the app's) keeps every CPU


def test_all_leaves_every_cpu_and_a_list_is_taken_as_given(tmp_path: Path) -> None:
    cpus = available_cpus()
    with TestClient(create_app(_settings(tmp_path / "all", "all"))) as client:
        assert client.get("/api/health").json()["media_cpus"] is None
        assert _camera_thread_cpus(client) == cpus
    first = min(cpus)
    with TestClient(create_app(_settings(tmp_path / "list", [first]))) as client:
        assert client.get("/api/health").json()["media_cpus"] == [first]
        assert _camera_thread_cpus(client) == {first}


def test_a_cpu_the_machine_lacks_stops_the_station_with_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught, TestClient(create_app(_settings(tmp_path, [4000]))):
        pass
    [problem] = caught.value.problems
    assert problem.path == "recording.media_cpus"
    assert problem.message.startswith("CPU 4000 not available to the station")
