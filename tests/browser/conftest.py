"""Browser tests: real Chromium inside a network namespace the test creates."""

from __future__ import annotations

from tests.support.media import clip_cache, small_clip  # noqa: F401
from tests.support.netns import netns  # noqa: F401
from tests.support.rtsp_server import rtsp_server, rtsp_server_factory  # noqa: F401
