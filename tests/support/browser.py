"""Real headless Chromium (Debian's ``/usr/bin/chromium``, never a downloaded browser) driven by Playwright.

:func:`launch_chromium` starts it through an executable path (e.g. a network-namespace wrapper from
:mod:`tests.support.netns`) with the flags WebRTC tests need, HOME pointed at a temp dir.
:func:`artifacts_dir` is where screenshots go: ``$STATION_ARTIFACTS_DIR`` or ``artifacts/`` at the repository
root (git-ignored). :func:`sign_in_page` signs a user in through the login form.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.support.console import DEFAULT_PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]


def missing_reason() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} not found (apt-get install chromium); browser tests never download a browser"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Python 'playwright' package is not installed"
    return None


def require_chromium() -> None:
    reason = missing_reason()
    if reason is not None:
        pytest.skip(reason)


def artifacts_dir() -> Path:
    path = Path(os.environ.get("STATION_ARTIFACTS_DIR") or REPO_ROOT / "artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


def save_screenshot(page: Any, name: str) -> None:
    """A full-page screenshot into the artifacts folder, copied into ``docs/`` (the README shows them)."""
    target = artifacts_dir() / name
    page.screenshot(path=str(target), full_page=True)
    docs = REPO_ROOT / "docs"
    docs.mkdir(exist_ok=True)
    shutil.copyfile(target, docs / name)


def sign_in_page(page: Any, base: str, username: str, *, lang: str = "ru") -> None:
    """Sign ``username`` (``DEFAULT_PASSWORD``) in through the login form; returns on the overview."""
    page.goto(f"{base}/login?lang={lang}")
    page.fill("#username", username)
    page.fill("#password", DEFAULT_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def launch_chromium(playwright: Any, *, executable: Path, home: Path) -> Any:
    home.mkdir(parents=True, exist_ok=True)
    return playwright.chromium.launch(
        executable_path=str(executable),
        headless=True,
        args=CHROMIUM_FLAGS,
        env={
            **os.environ,
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_CACHE_HOME": str(home / ".cache"),
        },
    )
