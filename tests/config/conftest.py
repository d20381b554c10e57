"""Config tests: no STATION_* variable of the developer's shell may leak into them."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _clean_station_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("STATION_CONFIG", "STATION_DATA_DIR", "STATION_DB_URL"):
        monkeypatch.delenv(name, raising=False)
