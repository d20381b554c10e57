"""Camera credentials: resolve them from the URL, an environment variable or the secrets file, and redact
every URL before it reaches a log line, an error message, the API or the UI."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import yaml

from config.composer import YamlLimitError, parse_yaml, yaml_problem
from config.error import ConfigError, Problem
from config.schema import CameraConfig

_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^@/\s]+)@")


def redact_url(url: str) -> str:
    """``rtsp://admin:secret@host/x`` becomes ``rtsp://admin:***@host/x``; others are unchanged."""
    parts = urlsplit(url)
    if parts.password is None and "@" not in parts.netloc:
        return url
    user = parts.username or ""
    host = parts.netloc.rsplit("@", 1)[-1]
    netloc = f"{user}:***@{host}" if user else f"***@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def redact_text(text: str) -> str:
    """Scrub credentials from any URL inside free text (FFmpeg puts the full URL into its errors)."""

    def _sub(match: re.Match[str]) -> str:
        user = match.group("userinfo").split(":", 1)[0]
        return f"{match.group('scheme')}{user}:***@"

    return _CREDENTIALS.sub(_sub, text)


def load_secrets(path: Path) -> dict[str, str]:
    """Read a secrets file: a YAML mapping of camera id to password. Errors never quote the file's text."""
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError([Problem(where, "", "secrets file not found")]) from exc
    except PermissionError as exc:
        raise ConfigError([Problem(where, "", "permission denied reading the secrets file")]) from exc
    except UnicodeDecodeError as exc:
        at = exc.object[: exc.start].count(b"\n") + 1
        raise ConfigError(
            [Problem(where, "", f"secrets file is not UTF-8 text (byte {exc.start})", at)]
        ) from exc
    except OSError as exc:
        raise ConfigError([Problem(where, "", f"cannot read the secrets file: {exc.strerror}")]) from exc
    try:
        _, raw = parse_yaml(text)
    except (YamlLimitError, yaml.reader.ReaderError) as exc:
        raise ConfigError([yaml_problem(exc, text=text, source=where)]) from exc  # these quote no text
    except yaml.YAMLError as exc:
        # PyYAML's wording may quote a password: keep only the line
        line = yaml_problem(exc, text=text, source=where).line
        raise ConfigError([Problem(where, "", "secrets file is not valid YAML", line)]) from exc
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in raw.items()
    ):
        raise ConfigError([Problem(str(path), "", "secrets file must map camera ids to password strings")])
    return dict(raw)


def camera_url(
    camera: CameraConfig,
    url: str,
    *,
    secrets: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> str:
    """The URL to connect with: credentials from env var > secrets file > URL itself."""
    env = os.environ if environ is None else environ
    password: str | None = None
    if camera.password_env:
        if camera.password_env not in env:
            raise ConfigError(
                [
                    Problem(
                        "environment",
                        f"cameras.{camera.id}.password_env",
                        f"environment variable {camera.password_env} is not set",
                    )
                ]
            )
        password = env[camera.password_env]
    elif secrets and camera.id in secrets:
        password = secrets[camera.id]
    parts = urlsplit(url)
    if parts.scheme.lower() == "file":
        return url
    user = camera.username if camera.username is not None else (unquote(parts.username or "") or None)
    if password is None and parts.password is not None:
        password = unquote(parts.password)
    host = parts.netloc.rsplit("@", 1)[-1]
    if user is None and password is None:
        return url
    userinfo = quote(user or "", safe="")
    if password is not None:
        userinfo += ":" + quote(password, safe="")
    return urlunsplit((parts.scheme, f"{userinfo}@{host}", parts.path, parts.query, parts.fragment))
