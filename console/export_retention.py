"""Evidence packages expire and are bounded per user: the console's side of :mod:`storage.export_quota`.

- :func:`expire_packages` deletes package files older than ``console.export_retention_days`` (the rows and
  their audit entries stay); it runs at start-up, every hour (:func:`open_package_expiry`) and before every
  quota check.
- :func:`recover_packages` (start-up) fails the exports a crash interrupted and deletes their files.
- :func:`check_package_quota` refuses a new export (409 ``export_quota``) while the user's packages still on
  disk take ``console.export_quota_mb`` or more. Called once, by :func:`console.export.run_export`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from contextlib import AsyncExitStack
from datetime import datetime
from pathlib import Path
from typing import Final

from anyio import to_thread
from sqlalchemy.exc import SQLAlchemyError

from console.body_limit import MIB, format_size
from console.deps import Principal
from console.error import ApiError
from console.i18n import Message
from console.station import Station
from storage.export_quota import (
    apply_export_expiry,
    is_over_quota,
    package_bytes_of,
    packages_on_disk,
    plan_export_expiry,
)
from storage.model import utcnow
from streams.export_job import InterruptedExports, recover_interrupted_exports

logger = logging.getLogger(__name__)

EXPIRY_EVERY_S: Final = 3600.0


def exports_dir(station: Station) -> Path:
    return station.settings.data_dir / "exports"


def expire_packages(station: Station, *, now: datetime | None = None) -> int:
    """Delete the files of packages past their retention; returns how many (blocking)."""
    now = now or utcnow()
    days = station.settings.config.console.export_retention_days
    with station.database.session() as session:
        packages = packages_on_disk(session, created_before=now)
        doomed = plan_export_expiry(packages, now=now, retention_days=days)
        count = apply_export_expiry(session, doomed, exports_dir=exports_dir(station), now=now)
    if count:
        logger.info("%d evidence package(s) older than %d days deleted", count, days)
    return count


def recover_packages(station: Station) -> InterruptedExports:
    """Start-up: exports a crash interrupted are marked failed and their files deleted (blocking; see
    :func:`streams.export_job.recover_interrupted_exports`)."""
    return recover_interrupted_exports(station.database, exports_dir=exports_dir(station))


class ExportQuotaError(ApiError):
    """The user's packages on disk already take their quota (409, code ``export_quota``)."""

    def __init__(self, used_bytes: int, quota_bytes: int, retention_days: int) -> None:
        super().__init__(
            409,
            "export_quota",
            Message(
                "your evidence packages take {used} of your {quota} quota; a new one can be built when "
                "older ones expire ({days} days after they were built)",
                used=format_size(used_bytes),
                quota=format_size(quota_bytes),
                days=retention_days,
            ),
            extra={"used_bytes": used_bytes, "quota_bytes": quota_bytes},
        )


def check_package_quota(station: Station, principal: Principal) -> None:
    """Raise :class:`ExportQuotaError` when ``principal`` may not build another package (blocking)."""
    console = station.settings.config.console
    expire_packages(station)
    with station.database.session() as session:
        used = package_bytes_of(session, user_id=principal.user_id)
    quota = console.export_quota_mb * MIB
    if is_over_quota(used, quota):
        raise ExportQuotaError(used, quota, console.export_retention_days)


async def _expire_forever(station: Station) -> None:
    while True:
        try:
            await to_thread.run_sync(expire_packages, station)
        except (OSError, SQLAlchemyError):
            logger.exception("evidence packages could not be expired; next try in %.0f s", EXPIRY_EVERY_S)
        await asyncio.sleep(EXPIRY_EVERY_S)


async def open_package_expiry(station: Station, stack: AsyncExitStack) -> None:
    """Expire packages now and every hour until ``stack`` unwinds."""
    task = asyncio.get_running_loop().create_task(_expire_forever(station), name="export-expiry")

    async def stop() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    stack.push_async_callback(stop)
