"""Checks of a valid config against the machine: things a schema cannot know (I/O lives here only)."""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass, field, replace
from pathlib import Path

from config.error import ConfigError, Problem
from config.loader import ConfigDocument
from config.schema import StationConfig
from config.secret import load_secrets
from config.settings import apply_overrides, overridden_fields, resolve_secrets_path


def verify_writable_dir(path: Path, *, label: str, source: str = "station.yaml") -> list[Problem]:
    """Create ``path`` if needed and prove a file can be written there."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except PermissionError:
        return [Problem(source, label, f"cannot create directory {path}: permission denied")]
    except FileExistsError:
        return [Problem(source, label, f"{path} exists and is not a directory")]
    except OSError as exc:
        return [Problem(source, label, f"cannot create directory {path}: {exc.strerror}")]
    if not path.is_dir():
        return [Problem(source, label, f"{path} is not a directory")]
    try:
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-"):
            pass
    except OSError as exc:
        return [Problem(source, label, f"directory {path} is not writable: {exc.strerror}")]
    if not os.access(path, os.W_OK | os.X_OK):
        return [Problem(source, label, f"directory {path} is not writable")]
    return []


def cpu_list(cpus: Iterable[int]) -> str:
    """CPU numbers as people write them: ``"0, 2, 3"``; pure."""
    return ", ".join(str(cpu) for cpu in sorted(cpus))


def unavailable_cpus_message(cpus: Iterable[int], available: Set[int]) -> str | None:
    """Why ``cpus`` cannot all serve a station that may run on ``available``; None when they can. Pure."""
    missing = set(cpus) - available
    if not missing:
        return None
    return f"CPU {cpu_list(missing)} not available to the station (it may run on {cpu_list(available)})"


@dataclass(frozen=True)
class MachineCheck:
    """Result of :func:`verify_machine`: errors stop the station, warnings are worth a look."""

    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)


def verify_machine(
    document: ConfigDocument,
    *,
    config_path: Path,
    environ: Mapping[str, str],
) -> MachineCheck:
    """Check a loaded config (with environment overrides applied) against this machine."""
    result = MachineCheck()
    config = apply_overrides(document.config, environ)
    overridden = overridden_fields(environ)
    dirs: list[tuple[str, Path]] = [("data_dir", config.storage.data_dir)]
    if config.storage.recordings_dir is not None:
        dirs.append(("recordings_dir", config.storage.recordings_dir))
    for key, path in dirs:
        for problem in verify_writable_dir(path, label=f"storage.{key}", source=document.source):
            if key in overridden:
                problem = replace(problem, file="environment", path=overridden[key], line=None)
            else:
                problem = replace(problem, line=document.line(("storage", key)))
            result.errors.append(problem)
    _check_secrets(document, config, config_path, result)
    _check_password_env(document, config, environ, result)
    cpus = config.recording.media_cpus
    if isinstance(cpus, list):
        unavailable = unavailable_cpus_message(cpus, os.sched_getaffinity(0))
        if unavailable is not None:
            result.errors.append(document.problem(("recording", "media_cpus"), unavailable))
    model = config.detection.model_path
    if model is not None and not model.is_file():
        result.warnings.append(
            document.problem(("detection", "model_path"), f"model file {model} not found: detection fails")
        )
    return result


def _check_secrets(
    document: ConfigDocument, config: StationConfig, config_path: Path, result: MachineCheck
) -> None:
    path = resolve_secrets_path(config, config_path)
    if path is None:
        return
    loc = ("secrets_file",)
    try:
        secrets = load_secrets(path)
    except ConfigError as exc:
        result.errors.extend(
            document.problem(loc, f"{p.message} ({path}{'' if p.line is None else f':{p.line}'})")
            for p in exc.problems
        )
        return
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        result.warnings.append(
            document.problem(loc, f"{path} is readable by others (mode {stat.S_IMODE(mode):o}): chmod 600")
        )
    known = {camera.id for camera in config.cameras}
    unknown = sorted(set(secrets) - known)
    if unknown:
        result.warnings.append(
            document.problem(loc, f"{path} has passwords for unknown cameras: {', '.join(unknown)}")
        )


def _check_password_env(
    document: ConfigDocument, config: StationConfig, environ: Mapping[str, str], result: MachineCheck
) -> None:
    for index, camera in enumerate(config.cameras):
        if camera.password_env and camera.password_env not in environ:
            result.warnings.append(
                document.problem(
                    ("cameras", index, "password_env"),
                    f"environment variable {camera.password_env} is not set here: the station must get it "
                    "(e.g. systemd EnvironmentFile) or the camera cannot log in",
                )
            )
