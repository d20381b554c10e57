"""Jinja2 templates of the web console and their filters.

Pages are rendered with :func:`console.page.render_page`, which puts ``_`` (gettext), ``ngettext``,
``lang``, ``user``, ``station_name`` and ``csrf_token`` into the context. Times are shown with the
``localtime`` filter, which converts an aware UTC datetime to the station's time zone::

    {{ user.last_login_at | localtime }}            -> 2024-05-01 14:03
    {{ event.start_utc | localtime("%H:%M:%S") }}
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo

from fastapi.templating import Jinja2Templates

from console.permission import Permission

TEMPLATE_DIR: Final = Path(__file__).resolve().parent / "templates"
STATIC_DIR: Final = Path(__file__).resolve().parent / "static"
DEFAULT_TIME_FORMAT: Final = "%Y-%m-%d %H:%M"


def localtime_filter(timezone: str) -> Callable[..., str]:
    zone = ZoneInfo(timezone)

    def localtime(value: datetime | None, fmt: str = DEFAULT_TIME_FORMAT) -> str:
        if value is None:
            return "—"
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r} given to localtime: pass an aware UTC datetime")
        return value.astimezone(zone).strftime(fmt)

    return localtime


def build_templates(*, timezone: str) -> Jinja2Templates:
    templates = Jinja2Templates(directory=TEMPLATE_DIR)
    templates.env.filters["localtime"] = localtime_filter(timezone)
    templates.env.globals["Permission"] = Permission
    templates.env.trim_blocks = True
    templates.env.lstrip_blocks = True
    return templates
