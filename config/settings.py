"""Runtime settings: the station config plus the environment overrides that apply to it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from config.error import ConfigError, Problem
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


#: storage field -> the environment variable that overrides it
OVERRIDES = {"data_dir": ENV_DATA_DIR, "db_url": ENV_DB_URL}


def overridden_fields(environ: Mapping[str, str]) -> dict[str, str]:
    """The storage fields the environment overrides, each with its variable name."""
    return {key: var for key, var in OVERRIDES.items() if environ.get(var)}


def apply_overrides(config: StationConfig, environ: Mapping[str, str]) -> StationConfig:
    """STATION_DATA_DIR and STATION_DB_URL replace the file's values (validated like the file's)."""
    storage_update: dict[str, object] = {
        key: (Path(environ[var]) if key == "data_dir" else environ[var])
        for key, var in overridden_fields(environ).items()
    }
    if not storage_update:
        return config
    try:
        storage = StorageConfig.model_validate({**config.storage.model_dump(), **storage_update})
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            key = str(error["loc"][0]) if error["loc"] else ""
            message = str(error["msg"]).removeprefix("Value error, ")
            problems.append(Problem("environment", OVERRIDES.get(key, f"storage.{key}"), message))
        raise ConfigError(problems) from exc
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
    secrets_path = resolve_secrets_path(config, config_path)
    secrets = load_secrets(secrets_path) if secrets_path is not None else {}
    return Settings(config=config, config_path=config_path, secrets=secrets)


def resolve_secrets_path(config: StationConfig, config_path: Path | None) -> Path | None:
    """The secrets file; a relative path is relative to the config file's folder."""
    path = config.secrets_file
    if path is None or path.is_absolute() or config_path is None:
        return path
    return config_path.parent / path


def settings_from_config(config: StationConfig, environ: Mapping[str, str] | None = None) -> Settings:
    """Settings for an in-memory config (demo mode, tests)."""
    env = os.environ if environ is None else environ
    return Settings(config=apply_overrides(config, env), config_path=None)
