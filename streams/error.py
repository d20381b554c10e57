"""Errors raised by camera ingest, each also an instance of the matching built-in::

    StreamError
     ├── StreamOpenError (ConnectionError)       could not connect / the server refused
     │    └── StreamUnauthorizedError (PermissionError)   RTSP 401: wrong user name or password
     ├── StreamStalledError (TimeoutError)       connected, but nothing arrived within the read timeout
     ├── StreamEndedError (EOFError)             the server closed the stream
     └── StreamFormatError (ValueError)          no usable video stream (no video, unknown codec...)

Messages never contain a password: PyAV errors are translated once, at the boundary, with the URL redacted.
"""

from __future__ import annotations


class StreamError(Exception):
    """Base class of ingest errors."""

    #: short machine-readable reason shown in health (e.g. ``"unauthorized"``)
    reason = "error"


class StreamOpenError(StreamError, ConnectionError):
    reason = "connect_failed"


class StreamUnauthorizedError(StreamOpenError, PermissionError):
    reason = "unauthorized"


class StreamStalledError(StreamError, TimeoutError):
    reason = "stalled"


class StreamEndedError(StreamError, EOFError):
    reason = "ended"


class StreamFormatError(StreamError, ValueError):
    reason = "bad_format"
