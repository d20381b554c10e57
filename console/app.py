"""The web console application: ``create_app(settings)``.

Nothing happens at import time or in :func:`create_app` beyond wiring routes; the lifespan opens the station
(:func:`console.station.open_station`) under one :class:`contextlib.AsyncExitStack`, so shutdown is the
reverse of start-up. The running :class:`console.station.Station` is kept in ``app.state.station`` and read
through :data:`console.deps.StationDep`.

Adding a resource: write ``console/routes/<resource>.py`` with ``router = APIRouter(prefix="/api/...")``,
use ``CurrentUser`` / ``require(Permission.X)`` in its routes, and list the router in
``console.routes.ROUTERS``. Request bodies are capped before any route runs (:mod:`console.body_limit`):
a route that takes an upload lists its path in the ``BodyLimits`` below. NUL characters in request text
are refused before any route runs too (:mod:`console.input_guard`). Every response gets the security
headers of :mod:`console.security_headers`, and every 403 an audit row (:mod:`console.denial_audit`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from anyio import to_thread
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from config.settings import Settings
from console.body_limit import BodyLimitMiddleware, BodyLimits, upload_limit_bytes
from console.denial_audit import audit_denials
from console.error import install_error_handlers
from console.export_retention import open_package_expiry, recover_packages
from console.input_guard import NulGuardMiddleware
from console.page import render_error_page
from console.routes import ROUTERS, evidence
from console.security_headers import SecurityHeadersMiddleware
from console.station import open_station, station_version
from console.template import STATIC_DIR


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            app.state.station = await open_station(settings, stack)
            await to_thread.run_sync(recover_packages, app.state.station)  # exports a crash interrupted
            await open_package_expiry(app.state.station, stack)
            stack.callback(delattr, app.state, "station")
            yield

    app = FastAPI(
        title="Station Console",
        version=station_version(),
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,  # served to signed-in users by console.routes.openapi
    )
    answer_http_error = install_error_handlers(app, render_page_error=render_error_page)
    app.add_exception_handler(HTTPException, audit_denials(answer_http_error))  # every 403 on record
    upload_bytes = upload_limit_bytes(settings.config.console.max_upload_mb)
    limits = BodyLimits(by_path={evidence.VERIFY_PATH: upload_bytes})
    app.add_middleware(NulGuardMiddleware, answer=answer_http_error)  # inside the body cap: added first
    app.add_middleware(BodyLimitMiddleware, limits=limits, answer=answer_http_error)
    app.add_middleware(SecurityHeadersMiddleware, hsts_seconds=settings.config.console.hsts_seconds)
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
