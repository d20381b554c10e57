"""The console served for real (uvicorn in a thread on 127.0.0.1, a free port), for browser tests.

:func:`served_console` builds the app from settings; :func:`served_app` serves an app the test made itself,
so the test can reach the running station (``app.state.station``) while the browser uses it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

from config.settings import Settings
from console.app import create_app
from tests.support.station_process import free_port


@contextmanager
def served_console(settings: Settings, *, name: str = "console-e2e") -> Iterator[str]:
    """Serve a station built from ``settings``; yields its base URL and stops it on exit."""
    with served_app(create_app(settings), name=name) as base:
        yield base


@contextmanager
def served_app(app: FastAPI, *, name: str = "console-e2e") -> Iterator[str]:
    """Serve ``app`` (its lifespan starts the station); yields its base URL and stops it on exit."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the console did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
