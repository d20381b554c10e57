"""The camera form of the admin screen: what it may send, how a URL is checked, and how a stored password is
kept when the admin saves without typing it again.

The page never receives a password: URLs are shown redacted (``rtsp://admin:***@10.0.0.5/stream1``). When a
URL comes back with ``***`` as its password, or with a password field left empty, the stored password of that
camera is put back (:func:`merge_password`). A typed password replaces it. Everything here is pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field

from config.schema import SLUG_PATTERN, CameraConfig, Transport
from config.secret import redact_url
from console.field_error import FieldProblemError
from console.i18n import Message

REDACTED = "***"
CONSOLE_SCHEMES = ("rtsp", "rtsps")
MAX_URL_LENGTH = 2048


class _Form(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class LocationForm(_Form):
    building: str | None = Field(default=None, max_length=64)
    entrance: str | None = Field(default=None, max_length=64)
    floor: str | None = Field(default=None, max_length=32)
    area: str | None = Field(default=None, max_length=64)


class CameraChange(_Form):
    """What an edit may change; absent fields stay as they are. ``password``: empty keeps the stored one."""

    name: str | None = Field(default=None, min_length=1, max_length=120)
    url: str | None = Field(default=None, min_length=1, max_length=MAX_URL_LENGTH)
    sub_url: str | None = Field(default=None, max_length=MAX_URL_LENGTH, description="Empty: no sub-stream")
    password: str | None = Field(default=None, max_length=256, description="Write-only; empty: keep")
    transport: Transport | None = None
    enabled: bool | None = None
    detection_enabled: bool | None = None
    location: LocationForm | None = None


class CameraCreate(CameraChange):
    id: str = Field(pattern=SLUG_PATTERN, max_length=32)
    name: str = Field(min_length=1, max_length=120)
    url: str = Field(min_length=1, max_length=MAX_URL_LENGTH)


class UrlTest(_Form):
    """A URL to try; ``camera_id`` names the camera being edited, whose stored password fills ``***``.
    ``sub_url``, when given, is tried too (after the main stream)."""

    url: str = Field(min_length=1, max_length=MAX_URL_LENGTH)
    sub_url: str | None = Field(default=None, max_length=MAX_URL_LENGTH, description="Empty: not tried")
    password: str | None = Field(default=None, max_length=256)
    transport: Transport = Transport.TCP
    camera_id: str | None = Field(default=None, pattern=SLUG_PATTERN)


def check_stream_url(field: str, url: str) -> None:
    """Raise :class:`FieldProblemError` unless ``url`` is an ``rtsp://`` or ``rtsps://`` URL with a host."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in CONSOLE_SCHEMES:
        raise FieldProblemError(
            field,
            Message(
                "the address must start with rtsp:// or rtsps:// (found {scheme})", scheme=parts.scheme or "—"
            ),
        )
    if any(char.isspace() for char in url):
        raise FieldProblemError(field, Message("the address must not contain spaces"))
    try:
        port = parts.port
    except ValueError:
        port = -1
    if not parts.hostname:
        raise FieldProblemError(field, Message("the address has no camera host (rtsp://host:554/path)"))
    if port is not None and not 0 < port < 65536:
        raise FieldProblemError(field, Message("the address has an invalid port"))


def stored_password(url: str | None) -> str | None:
    if not url:
        return None
    password = urlsplit(url).password
    return unquote(password) if password is not None else None


def merge_password(field: str, submitted: str, typed: str | None, stored_url: str | None) -> str:
    """The URL to save: ``typed`` (a new password) wins, then a password written into ``submitted``; the
    redacted marker ``***`` or nothing at all with the same user keeps the stored password."""
    parts = urlsplit(submitted)
    user = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    if typed:
        password = typed
    elif password == REDACTED or (password is None and user is not None):
        password = stored_password(stored_url)
    if password is not None and not user:
        raise FieldProblemError(field, Message("give the user name in the address (rtsp://user@host/path)"))
    host = parts.netloc.rsplit("@", 1)[-1]
    if user is None:
        return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    userinfo = quote(user, safe="")
    if password is not None:
        userinfo += ":" + quote(password, safe="")
    return urlunsplit((parts.scheme, f"{userinfo}@{host}", parts.path, parts.query, parts.fragment))


def sub_stream_password(sub_url: str, typed: str | None) -> str | None:
    """The typed password, for a sub-stream address that names a user but writes no password of its own
    (or the redacted marker): a camera's streams share its account, so the admin types it once."""
    parts = urlsplit(sub_url)
    if not typed or parts.username is None:
        return None
    password = unquote(parts.password) if parts.password is not None else None
    return typed if password in (None, REDACTED) else None


def has_password(camera: CameraConfig, secrets: Mapping[str, str]) -> bool:
    return bool(camera.password_env or camera.id in secrets or stored_password(camera.url))


def public_url(url: str | None) -> str | None:
    return None if url is None else redact_url(url)


def location_entry(location: LocationForm) -> dict[str, Any]:
    """The location as written to the file: empty texts become None (removed)."""
    return {key: (value or None) for key, value in location.model_dump().items()}


def camera_entry(form: CameraCreate, url: str, sub_url: str | None) -> dict[str, Any]:
    """A new camera as written to the config file (defaults left out)."""
    entry: dict[str, Any] = {"id": form.id, "name": form.name, "url": url}
    if sub_url:
        entry["sub_url"] = sub_url
    if form.transport is not None and form.transport != Transport.TCP:
        entry["transport"] = form.transport.value
    if form.enabled is False:
        entry["enabled"] = False
    if form.location is not None:
        location = {k: v for k, v in location_entry(form.location).items() if v is not None}
        if location:
            entry["location"] = location
    if form.detection_enabled:
        entry["detection"] = {"enabled": True}
    return entry


def camera_changes(form: CameraChange, url: str | None, sub_url: str | None) -> dict[str, Any]:
    """An edit as the keys to set in the file (None removes a key)."""
    changes: dict[str, Any] = {}
    if form.name is not None:
        changes["name"] = form.name
    if url is not None:
        changes["url"] = url
    if form.sub_url is not None:
        changes["sub_url"] = sub_url or None
    if form.transport is not None:
        changes["transport"] = form.transport.value
    if form.enabled is not None:
        changes["enabled"] = form.enabled
    if form.detection_enabled is not None:
        changes["detection"] = {"enabled": form.detection_enabled}
    if form.location is not None:
        changes["location"] = location_entry(form.location)
    return changes


def audit_view(camera: CameraConfig | None) -> dict[str, Any] | None:
    """A camera for the audit log: URLs redacted, no password anywhere."""
    if camera is None:
        return None
    return {
        "name": camera.name,
        "url": redact_url(camera.url),
        "sub_url": public_url(camera.sub_url),
        "transport": camera.transport.value,
        "enabled": camera.enabled,
        "detection": camera.detection.enabled,
        "location": camera.location.label(),
    }
