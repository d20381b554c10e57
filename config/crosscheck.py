"""Cross-field checks of a schema-valid config: pure ``verify_*`` functions, no I/O.

Each returns :class:`Finding` objects located by their path in the document (``("cameras", 1, "url")``), so
the loader can put them into the same report as schema errors, with line numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from config.schema import CameraConfig, DetectionKind, StationConfig

Loc = tuple[str | int, ...]

#: Detections that run the object detector, and so need ``detection.model_path``.
MODEL_KINDS = frozenset({DetectionKind.PERSON, DetectionKind.LITTERING, DetectionKind.SMOKING})


@dataclass(frozen=True, slots=True)
class Finding:
    """One cross-field problem, located by its path in the document."""

    loc: Loc
    message: str


def verify_unique_zone_names(config: StationConfig) -> list[Finding]:
    """Zone names are how events and rules refer to a zone: they must be unique within a camera."""
    findings: list[Finding] = []
    for ci, camera in enumerate(config.cameras):
        first: dict[str, int] = {}
        for zi, zone in enumerate(camera.detection.zones):
            if zone.name in first:
                findings.append(
                    Finding(
                        ("cameras", ci, "detection", "zones", zi, "name"),
                        f"duplicate zone name {zone.name!r} on camera {camera.id!r} "
                        f"(also used by zones[{first[zone.name]}])",
                    )
                )
            else:
                first[zone.name] = zi
    return findings


def verify_detection_model(config: StationConfig) -> list[Finding]:
    """Person, littering and smoking detection need an object detector model; motion does not."""
    if config.detection.model_path is not None:
        return []
    findings: list[Finding] = []
    for ci, camera in enumerate(config.cameras):
        if not camera.detection.enabled:
            continue
        needing = [kind.value for kind in camera.detection.kinds if kind in MODEL_KINDS]
        if needing:
            findings.append(
                Finding(
                    ("cameras", ci, "detection", "kinds"),
                    f"{', '.join(needing)} detection needs a detector model: set detection.model_path "
                    "(an ONNX file) or use only 'motion' on this camera",
                )
            )
    return findings


def _has_password(url: str) -> bool:
    return urlsplit(url).password is not None


def verify_password_sources(config: StationConfig) -> list[Finding]:
    """A password in the URL and one from password_env would silently shadow each other: refuse that."""
    findings: list[Finding] = []
    for ci, camera in enumerate(config.cameras):
        if camera.password_env is None:
            continue
        for field in ("url", "sub_url"):
            url = getattr(camera, field)
            if url is not None and _has_password(url):
                findings.append(
                    Finding(
                        ("cameras", ci, field),
                        f"has a password and password_env {camera.password_env} is set too: "
                        "remove the password from the URL",
                    )
                )
    return findings


def verify_sub_stream(config: StationConfig) -> list[Finding]:
    """A sub-stream is a second, smaller stream of the same camera: same scheme and host, other URL."""
    findings: list[Finding] = []
    for ci, camera in enumerate(config.cameras):
        findings.extend(_sub_stream_findings(ci, camera))
    return findings


def _sub_stream_findings(index: int, camera: CameraConfig) -> list[Finding]:
    if camera.sub_url is None:
        return []
    main, sub = urlsplit(camera.url), urlsplit(camera.sub_url)
    loc: Loc = ("cameras", index, "sub_url")
    if (main.scheme, main.hostname, main.port, main.path, main.query) == (
        sub.scheme,
        sub.hostname,
        sub.port,
        sub.path,
        sub.query,
    ):
        return [Finding(loc, "is the same stream as url: leave sub_url out, or give the camera's sub-stream")]
    if main.scheme.lower() != sub.scheme.lower() and "file" in (main.scheme.lower(), sub.scheme.lower()):
        return [Finding(loc, "main and sub-stream must both be RTSP or both be files")]
    return []


CHECKS: Sequence[Callable[[StationConfig], list[Finding]]] = (
    verify_unique_zone_names,
    verify_detection_model,
    verify_password_sources,
    verify_sub_stream,
)


def verify_config(config: StationConfig) -> list[Finding]:
    """Run every cross-field check; findings come in the order of :data:`CHECKS`."""
    return [finding for check in CHECKS for finding in check(config)]
