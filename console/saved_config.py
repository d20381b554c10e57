"""The station config as saved in its file, which the admin screens show and edit.

It may differ from the running config (``station.settings.config``) until a restart: a camera added or
changed, detection switched on. Without a config file (the demo) the running config is all there is.
"""

from __future__ import annotations

import logging

from config.error import ConfigError
from config.loader import load_config
from config.schema import StationConfig
from config.settings import Settings

logger = logging.getLogger(__name__)


def saved_config(settings: Settings) -> StationConfig:
    """The config file's content now; the running config when there is no file or it cannot be read."""
    path = settings.config_path
    if path is None:
        return settings.config
    try:
        return load_config(path)
    except ConfigError as exc:
        logger.warning(
            "the config file cannot be read back (%d problems); showing the running config", len(exc.problems)
        )
        return settings.config
