"""Every example under config/examples/ is a valid station config."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import load_settings
from tests.support.paths import REPO_ROOT

EXAMPLES = sorted((REPO_ROOT / "config" / "examples").glob("*.yaml"))


def test_examples_exist() -> None:
    assert {p.name for p in EXAMPLES} >= {"minimal.yaml", "full.yaml", "postgresql.yaml"}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_loads(path: Path) -> None:
    settings = load_settings(path, environ={})
    assert settings.config.cameras
    assert str(settings.data_dir).startswith("/tmp/")


def test_full_example_shows_every_section() -> None:
    settings = load_settings(REPO_ROOT / "config" / "examples" / "full.yaml", environ={})
    config = settings.config
    assert set(config.model_fields_set) == set(type(config).model_fields)
    assert any(c.sub_url for c in config.cameras)
    assert any(c.password_env for c in config.cameras)
    assert any(c.detection.zones for c in config.cameras)
    assert any(c.location.label() for c in config.cameras)
    assert set(settings.secrets) == {"entrance-1"}


def test_postgresql_example_uses_psycopg() -> None:
    settings = load_settings(REPO_ROOT / "config" / "examples" / "postgresql.yaml", environ={})
    assert settings.db_url.startswith("postgresql+psycopg://")
