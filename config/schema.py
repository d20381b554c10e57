"""The station configuration schema: one YAML file describes one station.

Every model is frozen and forbids unknown keys, and every field carries a title and a description so that
``station config schema`` prints a self-documenting JSON schema. Validators here are pure: no file system, no
network. Checks that need I/O (is the data dir writable?) live in :mod:`config.verify`.
"""

from __future__ import annotations

import ipaddress
import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, IPvAnyNetwork, field_validator, model_validator

from config.schedule import parse_window

SLUG_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,31}$"
_SLUG = re.compile(SLUG_PATTERN)

CameraId = Annotated[
    str,
    Field(
        pattern=SLUG_PATTERN,
        title="Camera id",
        description="Slug used in file paths and URLs: lower-case letters, digits, '-' and '_', 1-32 chars.",
        examples=["entrance-1"],
    ),
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Transport(StrEnum):
    """RTSP lower transport."""

    TCP = "tcp"
    UDP = "udp"


class StationInfo(_Model):
    name: str = Field(
        min_length=1, max_length=120, title="Station name", description="Shown in the console and exports."
    )
    timezone: str = Field(
        default="Asia/Almaty",
        title="Time zone",
        description="IANA time zone used to show times in the console; storage is always UTC.",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"unknown time zone {value!r} (expected an IANA name such as Asia/Almaty)"
            ) from exc
        return value


MAX_CPU = 4095  # Linux's default CONFIG_NR_CPUS limit is 8192; no police point has more

DB_SCHEMES = frozenset({"sqlite", "postgresql", "postgresql+psycopg", "postgres"})


class StorageConfig(_Model):
    data_dir: Path = Field(
        title="Data directory",
        description="Holds the database (SQLite default), recordings, exports and the station key.",
    )
    recordings_dir: Path | None = Field(
        default=None,
        title="Recordings directory",
        description="Where segments are written; defaults to DATA_DIR/recordings. May be a separate disk.",
    )
    db_url: str | None = Field(
        default=None,
        title="Database URL",
        description="SQLAlchemy URL. Defaults to SQLite at DATA_DIR/station.db; "
        "use postgresql+psycopg://user@host/db for PostgreSQL. STATION_DB_URL overrides it.",
    )
    min_free_bytes: int = Field(
        default=5 * 1024**3,
        ge=0,
        title="Free-space floor (bytes)",
        description="Retention deletes the oldest unprotected footage to keep at least this much free, "
        "plus what the cameras write until its next pass, so free space stays above it between passes.",
    )
    min_free_percent: float = Field(
        default=5.0,
        ge=0,
        le=90,
        title="Free-space floor (percent)",
        description="Same as min_free_bytes, as a share of the recordings file system; the larger wins.",
    )
    closed_case_retention_days: int = Field(
        default=365,
        ge=0,
        le=36500,
        title="Closed-case retention (days)",
        description="How long evidence locks of a closed complaint keep footage after the case is closed.",
    )

    @field_validator("db_url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        scheme = value.split("://", 1)[0].lower() if "://" in value else ""
        if scheme not in DB_SCHEMES:
            # Never echo the URL: it may hold the database password.
            raise ValueError(
                "unsupported database URL: expected sqlite:////absolute/path.db or "
                "postgresql+psycopg://USER[:PASSWORD]@HOST[:PORT]/DBNAME"
            )
        return value

    @property
    def effective_recordings_dir(self) -> Path:
        return self.recordings_dir if self.recordings_dir is not None else self.data_dir / "recordings"


def _is_cpu_number(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_CPU


class RecordingConfig(_Model):
    enabled: bool = Field(default=True, title="Record", description="Record the main stream continuously.")
    segment_seconds: int = Field(
        default=60,
        ge=2,
        le=3600,
        title="Segment length (s)",
        description="Target length of one file. Segments start on a keyframe, so a segment is this long "
        "rounded up to the next keyframe. Crash safety comes from fragments, not from short segments.",
    )
    fragment_seconds: float = Field(
        default=1.0,
        gt=0,
        le=10,
        title="Fragment length (s)",
        description="Fragmented-MP4 flush interval: at most about this much received video is lost "
        "on a crash.",
    )
    retention_days: int = Field(
        default=30,
        ge=1,
        le=3650,
        title="Retention (days)",
        description="Unprotected footage older than this is deleted.",
    )
    read_batch_ms: int = Field(
        default=200,
        ge=0,
        le=1000,
        title="Read batching (ms)",
        description="While nobody watches a camera stream live, its connection is read in bursts this "
        "far apart instead of packet by packet: a camera thread wakes a few times a second, not 25-50 "
        "times, which saves CPU; footage reaches the disk up to this much later. A live viewer turns it "
        "off for that stream at once. RTSP over TCP only (a UDP socket would drop). 0: no batching.",
    )
    media_cpus: Literal["auto", "all"] | list[Annotated[int, Field(ge=0, le=MAX_CPU)]] = Field(
        default="auto",
        title="Media CPUs",
        description="CPUs for the camera, recording and disk threads. 'auto': the last CPU (one more per "
        "96 camera streams), leaving the others to the console and detection; on one core the camera "
        "threads pass the interpreter lock without waking each other, which costs a third less CPU. "
        "'all': no pinning. Or a list of CPU numbers, e.g. [2, 3].",
        examples=["auto", [1]],
    )

    @field_validator("media_cpus", mode="before")
    @classmethod
    def _cpu_list(cls, value: object) -> object:
        """One clear message per mistake (the union's own errors name both of its branches)."""
        if isinstance(value, int) and not isinstance(value, bool):
            value = [value]
        if isinstance(value, str) and value not in ("auto", "all"):
            raise ValueError(f"{value!r} is not a CPU setting: use 'auto', 'all' or CPU numbers such as [1]")
        if isinstance(value, list):
            if not value:
                raise ValueError("empty CPU list: give CPU numbers, 'auto' or 'all'")
            wrong = [c for c in value if not _is_cpu_number(c)]
            if wrong:
                raise ValueError(f"CPU numbers are whole numbers 0 to {MAX_CPU}: {wrong[0]!r} is not one")
            if len(set(value)) != len(value):
                raise ValueError(f"CPU listed twice in {value}")
        return value


class RecordingOverride(_Model):
    enabled: bool | None = Field(default=None, title="Record", description="Override recording.enabled.")
    segment_seconds: int | None = Field(
        default=None, ge=2, le=3600, title="Segment length (s)", description="Override."
    )
    retention_days: int | None = Field(
        default=None, ge=1, le=3650, title="Retention (days)", description="Override for this camera."
    )


def _check_polygon(value: list[tuple[float, float]]) -> list[tuple[float, float]]:
    for x, y in value:
        if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            raise ValueError(f"point ({x}, {y}) is outside the frame: use fractions between 0 and 1")
    return value


class DetectionKind(StrEnum):
    MOTION = "motion"
    PERSON = "person"
    LITTERING = "littering"
    SMOKING = "smoking"


class Zone(_Model):
    name: str = Field(pattern=SLUG_PATTERN, title="Zone name", description="Slug, unique per camera.")
    points: list[tuple[float, float]] = Field(
        min_length=3,
        title="Polygon",
        description="Vertices as [x, y] fractions of the frame (0..1), at least three. An object is in the "
        "zone when the bottom centre of its box (its feet) is.",
    )
    kinds: list[DetectionKind] | None = Field(
        default=None,
        title="Detections here",
        description="Which of the camera's detections count in this zone; empty or absent = all of them.",
    )
    schedule: list[str] = Field(
        default_factory=list,
        title="Schedule",
        description="Daily windows in station time when the zone is watched, e.g. ['22:00-06:00']; "
        "empty = always.",
    )
    min_dwell_s: float | None = Field(
        default=None,
        ge=0,
        le=3600,
        title="Minimum dwell (s)",
        description="An object must stay in the zone this long before it is an event (default: the rule's).",
    )
    min_height_px: int | None = Field(
        default=None,
        ge=0,
        le=4000,
        title="Minimum object height (px)",
        description="Smaller objects (in source pixels) are ignored in this zone (default: the rule's).",
    )
    params: dict[str, float] = Field(
        default_factory=dict,
        title="Rule parameters",
        description="Per-zone rule parameters as RULE.NAME: value, e.g. {'littering.dwell_s': 20} "
        "(names as in the README and `station analyze --param`).",
    )

    @field_validator("points")
    @classmethod
    def _normalised(cls, value: list[tuple[float, float]]) -> list[tuple[float, float]]:
        return _check_polygon(value)

    @field_validator("schedule")
    @classmethod
    def _windows(cls, value: list[str]) -> list[str]:
        for text in value:
            parse_window(text)
        return value


class MotionMask(_Model):
    points: list[tuple[float, float]] = Field(
        min_length=3,
        title="Polygon",
        description="Vertices as [x, y] fractions of the frame (0..1): motion here is never looked at "
        "(a clock overlay, trees, a road beyond the fence).",
    )

    @field_validator("points")
    @classmethod
    def _normalised(cls, value: list[tuple[float, float]]) -> list[tuple[float, float]]:
        return _check_polygon(value)


class CameraDetection(_Model):
    enabled: bool = Field(default=False, title="Detect", description="Run detection on this camera.")
    kinds: list[DetectionKind] = Field(
        default_factory=lambda: [DetectionKind.MOTION],
        title="Detections",
        description="Which detections to run: motion, person, littering, smoking.",
    )
    fps: float = Field(
        default=5.0, gt=0, le=30, title="Detection rate", description="Frames per second decoded."
    )
    zones: list[Zone] = Field(
        default_factory=list, title="Zones", description="Where hits count; empty = all."
    )
    masks: list[MotionMask] = Field(
        default_factory=list,
        title="Motion masks",
        description="Areas whose motion is ignored (it neither starts detection nor makes events).",
    )


class Location(_Model):
    building: str | None = Field(
        default=None, max_length=64, title="Building", description="e.g. '5' or 'Б'."
    )
    entrance: str | None = Field(default=None, max_length=64, title="Entrance", description="Подъезд number.")
    floor: str | None = Field(default=None, max_length=32, title="Floor", description="Floor or stairwell.")
    area: str | None = Field(
        default=None, max_length=64, title="Area", description="Yard, parking, playground, bins..."
    )

    def label(self) -> str:
        parts = [p for p in (self.building, self.entrance, self.floor, self.area) if p]
        return " / ".join(parts)


def _check_stream_url(value: str) -> str:
    parts = urlsplit(value)
    scheme = parts.scheme.lower()
    if scheme in ("rtsp", "rtsps"):
        if not parts.hostname:
            raise ValueError("RTSP URL has no host (expected rtsp://[user:pass@]host[:port]/path)")
        try:
            port = parts.port
        except ValueError as exc:
            raise ValueError("RTSP URL has an invalid port") from exc
        if port is not None and not 0 < port < 65536:
            raise ValueError("RTSP URL has an invalid port")
        return value
    if scheme == "file":
        if not parts.path:
            raise ValueError("file URL has no path (expected file:///path/to/clip.mp4)")
        return value
    raise ValueError(
        f"unsupported URL scheme {parts.scheme or '(none)'!r}: expected rtsp://, rtsps:// or file://"
    )


class CameraConfig(_Model):
    id: CameraId
    name: str = Field(min_length=1, max_length=120, title="Name", description="Shown to officers.")
    url: str = Field(
        title="Main stream URL",
        description="rtsp://[user[:password]@]host[:port]/path, or file:///path.mp4 (looped in real time). "
        "The password may be left out and given by password_env or the secrets file.",
    )
    sub_url: str | None = Field(
        default=None,
        title="Sub-stream URL",
        description="Lower-resolution stream used for wall tiles and detection. Same credentials as url.",
    )
    transport: Transport = Field(
        default=Transport.TCP, title="Transport", description="RTSP over tcp or udp."
    )
    username: str | None = Field(
        default=None, title="User name", description="Overrides the user name in the URL."
    )
    password_env: str | None = Field(
        default=None,
        pattern=r"^[A-Z_][A-Z0-9_]*$",
        title="Password variable",
        description="Name of an environment variable that holds the camera password.",
    )
    open_timeout_s: float = Field(
        default=5.0, gt=0, le=60, title="Open timeout (s)", description="Give up connecting after this."
    )
    read_timeout_s: float = Field(
        default=5.0,
        gt=0,
        le=60,
        title="Read timeout (s)",
        description="A stream silent this long is stalled.",
    )
    enabled: bool = Field(default=True, title="Enabled", description="Disabled cameras are not connected.")
    location: Location = Field(default_factory=Location, title="Location", description="Where it looks.")
    recording: RecordingOverride = Field(
        default_factory=RecordingOverride, title="Recording", description="Per-camera recording overrides."
    )
    detection: CameraDetection = Field(
        default_factory=CameraDetection, title="Detection", description="Per-camera detection settings."
    )

    @field_validator("url", "sub_url")
    @classmethod
    def _stream_url(cls, value: str | None) -> str | None:
        return None if value is None else _check_stream_url(value)


class DetectionConfig(_Model):
    model_path: Path | None = Field(
        default=None,
        title="Detector model",
        description="Path to an ONNX object detector (COCO classes). Never downloaded; person, littering and "
        "smoking detection need it, motion does not.",
    )
    keypoint_models_dir: Path | None = Field(
        default=None,
        title="Key-point models",
        description="Folder with MediaPipe's pose, hand and face models (.tflite, Apache-2.0) for "
        "smoking detection, as the set-up command installs them. Never downloaded; unset: the set-up "
        "command's folder (or $STATION_KEYPOINT_MODELS, /var/lib/station/models/mediapipe).",
    )
    smoking_model_path: Path | None = Field(
        default=None,
        title="Cigarette detector",
        description="Optional YOLO-format ONNX cigarette/smoke detector that confirms smoking events "
        "(raises or lowers their confidence); smoking detection works without it.",
    )
    backend: Literal["auto", "onnxruntime", "openvino"] = Field(
        default="auto",
        title="Inference backend",
        description="auto picks OpenVINO when installed, else ONNX Runtime; both run on the CPU.",
    )
    threads: int = Field(
        default=1, ge=1, le=64, title="Detector threads", description="CPU threads one inference may use."
    )
    precision: Literal["f32", "auto"] = Field(
        default="f32",
        title="Detector precision",
        description="f32: float32 (tested); auto: the fastest precision the CPU computes natively "
        "(bfloat16 on CPUs with AMX or AVX-512 BF16, OpenVINO only): about 1.7x less CPU per frame there, "
        "the same people found, but more identity switches on pets09 (docs/benchmarks.md).",
    )
    cpus: Literal["free", "all"] = Field(
        default="all",
        title="Detection CPUs",
        description="all: every CPU, the detection threads at a lower priority (detection.nice) so that "
        "recording, live view and the web console go first; free: only the CPUs that recording.media_cpus "
        "leaves free.",
    )
    workers: int | Literal["auto"] = Field(
        default="auto",
        title="Detection workers",
        description="Threads that analyse different cameras' frames at the same time; auto: one per CPU "
        "detection may use.",
    )
    nice: int = Field(
        default=10,
        ge=0,
        le=19,
        title="Detection priority",
        description="Nice value of the detection threads (0: the same as recording; 19: the lowest).",
    )

    @field_validator("workers")
    @classmethod
    def _workers(cls, value: int | str) -> int | str:
        if isinstance(value, int) and not 1 <= value <= 64:
            raise ValueError("workers must be auto or a whole number from 1 to 64")
        return value

    confidence: float = Field(
        default=0.5,
        ge=0.05,
        le=1,
        title="Confidence",
        description="A new object needs a detection this confident (0..1); weaker detections only keep "
        "objects already followed.",
    )
    params: dict[str, float] = Field(
        default_factory=dict,
        title="Rule parameters",
        description="Station-wide rule parameters as RULE.NAME: value (names as in the README and "
        "`station analyze --param`); a zone's own params win.",
    )
    event_clip_pre_s: float = Field(
        default=5, ge=0, le=120, title="Pre-roll (s)", description="Clip starts this much before the hit."
    )
    event_clip_post_s: float = Field(
        default=10, ge=0, le=600, title="Post-roll (s)", description="Clip ends this much after the hit."
    )


class IceServer(_Model):
    urls: list[str] = Field(min_length=1, title="URLs", description="stun: or turn: URLs.")
    username: str | None = Field(default=None, title="User name", description="TURN user name.")
    credential: str | None = Field(default=None, title="Credential", description="TURN password.")

    @field_validator("urls")
    @classmethod
    def _ice_urls(cls, value: list[str]) -> list[str]:
        for index, url in enumerate(value):
            if url.split(":", 1)[0].lower() not in ("stun", "stuns", "turn", "turns"):
                raise ValueError(f"urls[{index}] must start with stun:, stuns:, turn: or turns:")
        return value


_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def check_listen_address(value: str) -> str:
    """An IPv4/IPv6 literal or a DNS host name; no scheme, no port, no brackets."""
    try:
        ipaddress.ip_address(value)
    except ValueError:
        pass
    else:
        return value
    if "://" in value or "/" in value:
        raise ValueError("listen address must be a bare IP address or host name, without scheme or path")
    if ":" in value:
        raise ValueError("listen address must not include a port: set console.port instead")
    labels = value.rstrip(".").split(".")
    if len(value) > 253 or not all(_HOST_LABEL.match(label) for label in labels):
        raise ValueError(f"{value!r} is neither an IP address nor a valid host name")
    if all(label.isdigit() for label in labels):
        raise ValueError(f"{value!r} is not a valid IPv4 address")
    return value


def verify_hsts(*, hsts_seconds: int, secure_cookies: bool) -> None:
    """HSTS over plain HTTP would pin browsers to an HTTPS console that does not exist."""
    if hsts_seconds > 0 and not secure_cookies:
        raise ValueError("hsts_seconds needs secure_cookies: true (HSTS only makes sense over HTTPS)")


class ConsoleConfig(_Model):
    host: str = Field(
        default="127.0.0.1",
        title="Listen address",
        description="Web console bind address: an IP address (0.0.0.0 = all IPv4, :: = all IPv6) or a "
        "host name, without scheme or port.",
    )
    port: int = Field(default=8080, ge=1, le=65535, title="Port", description="Web console port.")
    language: Literal["ru", "kk", "en"] = Field(
        default="ru", title="Language", description="Default UI language: ru, kk or en."
    )
    session_hours: float = Field(
        default=12, gt=0, le=24 * 30, title="Session lifetime (h)", description="A shift plus margin."
    )
    login_attempts_per_minute: int = Field(
        default=5, ge=1, le=1000, title="Login rate limit", description="Failed logins per user and address."
    )
    officer_recording_days: int = Field(
        default=7,
        ge=0,
        le=3650,
        title="Officer playback window (days)",
        description="Officers see recordings this recent (plus those attached to their complaints).",
    )
    reason_required_after_days: int = Field(
        default=1,
        ge=0,
        le=3650,
        title="Reason window (days)",
        description="Playback older than this, and every export, needs a reason or complaint number.",
    )
    complaint_due_hours: int = Field(
        default=24,
        ge=1,
        le=24 * 90,
        title="Complaint due time (h)",
        description="A complaint still new or in progress this long after it was received is overdue.",
    )
    ice_servers: list[IceServer] = Field(
        default_factory=list,
        title="ICE servers",
        description="STUN/TURN servers for WebRTC behind NAT. Empty by default: no public STUN is used.",
    )
    secure_cookies: bool = Field(
        default=False, title="Secure cookies", description="Set when the console is served over HTTPS."
    )
    max_upload_mb: int = Field(
        default=4096,
        ge=1,
        le=256 * 1024,
        title="Upload limit (MiB)",
        description="Largest evidence package the console accepts for checking (POST /api/evidence/verify). "
        "Every other request body is limited to 128 KiB; larger bodies get 413. Bigger packages: "
        "station verify PACKAGE.zip.",
    )
    trusted_proxies: list[IPvAnyNetwork] = Field(
        default_factory=list,
        title="Trusted proxies",
        description="Addresses or networks of reverse proxies in front of the console, e.g. "
        "['127.0.0.1/32']. Only a request from one of them has its X-Forwarded-For header read for the "
        "client's address (sign-in limits and the audit log); empty: the header is ignored.",
    )
    idle_timeout_minutes: int = Field(
        default=30,
        ge=0,
        le=24 * 60,
        title="Idle timeout (min)",
        description="A browser session unused this long ends (sliding: every request restarts the clock); "
        "0: only the session lifetime ends it.",
    )
    live_views_per_user: int = Field(
        default=6,
        ge=1,
        le=32,
        title="Live views per user",
        description="Live video streams one user may watch at once (the station serves 32 in all).",
    )
    export_retention_days: int = Field(
        default=30,
        ge=1,
        le=3650,
        title="Package retention (days)",
        description="Evidence package files older than this are deleted (the record of the export and its "
        "audit entries stay; the package can be built again while the footage is kept).",
    )
    export_quota_mb: int = Field(
        default=20 * 1024,
        ge=1,
        le=1024 * 1024,
        title="Package quota per user (MiB)",
        description="How much space one user's evidence packages that have not expired yet may take; "
        "a new export beyond it is refused until older packages expire.",
    )
    hsts_seconds: int = Field(
        default=0,
        ge=0,
        le=2 * 365 * 24 * 3600,
        title="HSTS max-age (s)",
        description="Sends Strict-Transport-Security with this max-age (needs secure_cookies, i.e. HTTPS); "
        "0: not sent.",
    )

    @model_validator(mode="after")
    def _hsts_needs_https(self) -> ConsoleConfig:
        verify_hsts(hsts_seconds=self.hsts_seconds, secure_cookies=self.secure_cookies)
        return self

    @field_validator("host")
    @classmethod
    def _listen_address(cls, value: str) -> str:
        return check_listen_address(value)


class StationConfig(_Model):
    station: StationInfo = Field(title="Station", description="Name and time zone of this police point.")
    storage: StorageConfig = Field(title="Storage", description="Where data lives.")
    cameras: list[CameraConfig] = Field(
        default_factory=list, title="Cameras", description="Yard and entrance cameras; empty runs no cameras."
    )
    recording: RecordingConfig = Field(
        default_factory=RecordingConfig, title="Recording", description="Defaults for all cameras."
    )
    detection: DetectionConfig = Field(
        default_factory=DetectionConfig, title="Detection", description="Detector model and clip settings."
    )
    console: ConsoleConfig = Field(default_factory=ConsoleConfig, title="Console", description="Web console.")
    secrets_file: Path | None = Field(
        default=None,
        title="Secrets file",
        description="YAML file mapping camera id to password (chmod 600), kept out of this file.",
    )

    @model_validator(mode="after")
    def _unique_ids(self) -> StationConfig:
        seen: dict[str, int] = {}
        for index, camera in enumerate(self.cameras):
            if camera.id in seen:
                raise ValueError(
                    f"duplicate camera id {camera.id!r} (also used by cameras[{seen[camera.id]}])"
                )
            seen[camera.id] = index
        return self

    def camera(self, camera_id: str) -> CameraConfig:
        for camera in self.cameras:
            if camera.id == camera_id:
                return camera
        raise KeyError(camera_id)


def is_slug(value: str) -> bool:
    return bool(_SLUG.match(value))
