"""Runtime settings: the station config plus the environment overrides that apply to it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from config.loader import load_config
from config.schema import StationConfig, StorageConfig
from config.secret import load_secrets

ENV_CONFIG = "STATION_CONFIG"
ENV_DATA_DIR = "STATION_DATA_DIR"
ENV_DB_URL = "STATION_DB_URL"
DEFAULT_CONFIG_PATH = Path("/etc/station/station.yaml")


@dataclass(frozen=True)
class Settings:
    """Everything a running station needs to know before it opens anything."""

    config: StationConfig
    config_path: Path | None
    secrets: Mapping[str, str] = field(default_factory=dict)

    @property
    def data_dir(self) -> Path:
        return self.config.storage.data_dir

    @property
    def recordings_dir(self) -> Path:
        return self.config.storage.effective_recordings_dir

    @property
    def db_url(self) -> str:
        url = self.config.storage.db_url
        return url if url else f"sqlite:///{self.data_dir / 'station.db'}"


def apply_overrides(config: StationConfig, environ: Mapping[str, str]) -> StationConfig:
    """STATION_DATA_DIR and STATION_DB_URL replace the file's values."""
    storage_update: dict[str, object] = {}
    if environ.get(ENV_DATA_DIR):
        storage_update["data_dir"] = Path(environ[ENV_DATA_DIR])
    if environ.get(ENV_DB_URL):
        storage_update["db_url"] = environ[ENV_DB_URL]
    if not storage_update:
        return config
    storage = StorageConfig.model_validate({**config.storage.model_dump(), **storage_update})
    return config.model_copy(update={"storage": storage})


def resolve_config_path(path: Path | None, environ: Mapping[str, str]) -> Path:
    if path is not None:
        return path
    if environ.get(ENV_CONFIG):
        return Path(environ[ENV_CONFIG])
    return DEFAULT_CONFIG_PATH


def load_settings(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Load the config file (argument > STATION_CONFIG > /etc/station/station.yaml) with overrides."""
    env = os.environ if environ is None else environ
    config_path = resolve_config_path(path, env)
    config = apply_overrides(load_config(config_path), env)
    secrets: dict[str, str] = {}
    if config.secrets_file is not None:
        secrets_path = config.secrets_file
        if not secrets_path.is_absolute():
            secrets_path = config_path.parent / secrets_path
        secrets = load_secrets(secrets_path)
    return Settings(config=config, config_path=config_path, secrets=secrets)


def settings_from_config(config: StationConfig, environ: Mapping[str, str] | None = None) -> Settings:
    """Settings for an in-memory config (demo mode, tests)."""
    env = os.environ if environ is None else environ
    return Settings(config=apply_overrides(config, env), config_path=None)
