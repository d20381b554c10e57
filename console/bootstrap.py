"""Preparing the database before the station serves: data dir, migrations, cameras mirrored, first-user hint.

Kept apart from :mod:`console.station` so command-line tools can use it without loading the web stack.
"""

from __future__ import annotations

import logging

from config.settings import Settings
from storage.camera import sync_cameras
from storage.database import Database
from storage.event import close_abandoned_events
from storage.migration import upgrade_to_head
from storage.model import utcnow
from storage.user import count_users

logger = logging.getLogger(__name__)

FIRST_USER_HINT = "no users yet: create an administrator with:  station user add NAME --role admin"


def prepare_database(settings: Settings, *, hint_first_user: bool = True) -> Database:
    """Open the database, migrate it to head and mirror the cameras (blocking; run it in a thread).

    Raises :class:`storage.migration.DatabaseTooNewError` for a database written by a newer version.
    """
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = Database(settings.db_url)
    try:
        before, after = upgrade_to_head(database.engine)
        if before != after:
            logger.info("database migrated from %s to %s", before or "empty", after)
        with database.session() as session:
            synced = sync_cameras(session, settings.config.cameras)
            users = count_users(session)
            abandoned = close_abandoned_events(session, at=utcnow())
    except BaseException:
        database.dispose()
        raise
    if synced.added or synced.updated or synced.removed:
        logger.info(
            "cameras mirrored: %d added, %d updated, %d no longer configured",
            len(synced.added),
            len(synced.updated),
            len(synced.removed),
        )
    if abandoned:
        logger.warning("%d detection event(s) left open by the last run were closed", abandoned)
    if users == 0 and hint_first_user:
        logger.warning(FIRST_USER_HINT)
    return database
