"""One router per resource. Add a module here with ``router = APIRouter(...)`` and list it in ROUTERS.

Routers under ``/api`` answer JSON and authenticate with :data:`console.deps.CurrentUser`; page routers
answer HTML and use :data:`console.deps.PageUser`. ``tests/console/test_route_access.py`` walks every route
and fails if an anonymous request gets through, so a forgotten dependency cannot ship.
"""

from __future__ import annotations

from fastapi import APIRouter

from console.routes import (
    admin_page,
    audit,
    audit_page,
    auth,
    camera_admin,
    complaint,
    complaint_card,
    complaint_page,
    complaint_still,
    event,
    event_page,
    evidence,
    export,
    export_page,
    health,
    live,
    metrics,
    notification,
    openapi,
    page,
    recording,
    station_settings,
    token,
    user,
    user_page,
    zone,
    zone_page,
)

ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    auth.router,
    audit.router,
    audit_page.pages,
    token.router,
    user.router,
    user_page.pages,
    camera_admin.router,
    station_settings.router,
    admin_page.pages,
    openapi.router,
    metrics.router,
    notification.router,
    live.router,
    complaint.router,
    complaint_still.router,
    complaint_page.pages,
    complaint_card.pages,
    event.router,
    event_page.pages,
    export.router,
    export_page.pages,
    evidence.router,
    recording.router,
    recording.pages,
    page.router,
    zone.router,
    zone_page.pages,
)
