"""SQLAlchemy 2.0 typed models for everything the station stores.

All times are timezone-aware UTC (:class:`UTCDateTime` refuses naive values on the way in and restores the
zone on the way out, SQLite included). Paths of media files are stored relative to the recordings root so a
disk can be moved.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A datetime column that only accepts aware datetimes and always returns UTC-aware ones."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r} refused: store timezone-aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


class Role(StrEnum):
    OFFICER = "officer"
    INVESTIGATOR = "investigator"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    AUDITOR = "auditor"


class GapReason(StrEnum):
    CAMERA_UNREACHABLE = "camera_unreachable"
    UNAUTHORIZED = "unauthorized"
    STREAM_STALLED = "stream_stalled"
    STREAM_ERROR = "stream_error"
    STATION_STOPPED = "station_stopped"
    DISK_FULL = "disk_full"
    EVIDENCE_ONLY_LEFT = "evidence_only_left"
    RECORDER_ERROR = "recorder_error"
    CAMERA_DISABLED = "camera_disabled"
    DISK_IO_ERROR = "disk_io_error"  # the recordings disk failed a write (EIO, EROFS...): streams.disk_error


class SegmentStatus(StrEnum):
    OPEN = "open"  # being written now
    CLOSED = "closed"  # finished normally, hashed
    RECOVERED = "recovered"  # finalised after a crash, hashed
    DELETING = "deleting"  # retention decided to delete it and its file goes next (start-up finishes it)
    DELETED = "deleted"  # removed by retention; the row stays so gaps in history are explained


class ComplaintStatus(StrEnum):
    NEW = "new"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    REJECTED = "rejected"


class Camera(Base):
    """A camera as configured; mirrored from the config file so rows can reference it."""

    __tablename__ = "cameras"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    building: Mapped[str | None] = mapped_column(String(64))
    entrance: Mapped[str | None] = mapped_column(String(64))
    floor: Mapped[str | None] = mapped_column(String(32))
    area: Mapped[str | None] = mapped_column(String(64))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    in_config: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Segment(Base):
    """One recorded file of one camera stream."""

    __tablename__ = "segments"
    __table_args__ = (
        Index("ix_segments_camera_start", "camera_id", "start_utc", "span_id"),
        Index("ix_segments_camera_end", "camera_id", "end_utc", "span_id"),
        Index("ix_segments_camera_span_start", "camera_id", "span_id", "start_utc", "end_utc"),
        Index("ix_segments_camera_span_end", "camera_id", "span_id", "end_utc"),
        UniqueConstraint("path", name="uq_segments_path"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    camera_id: Mapped[str] = mapped_column(ForeignKey("cameras.id"))
    stream: Mapped[str] = mapped_column(String(8), default="main")
    start_utc: Mapped[datetime]
    end_utc: Mapped[datetime]
    duration_s: Mapped[float] = mapped_column(Float, default=0.0)
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    path: Mapped[str] = mapped_column(String(512))
    sha256: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=SegmentStatus.OPEN.value)
    codec: Mapped[str | None] = mapped_column(String(16))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    keyframes: Mapped[int] = mapped_column(Integer, default=0)
    clock_offset_s: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[datetime | None]
    # continuous span of footage this live row belongs to (storage/span_link.py): > 0 linked, 0 not live,
    # NULL not linked yet (rows written around the storage functions; readers then merge in Python)
    span_id: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))


class Gap(Base):
    """A span in which a camera delivered nothing to disk, and why."""

    __tablename__ = "gaps"
    __table_args__ = (Index("ix_gaps_camera_start", "camera_id", "start_utc"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    camera_id: Mapped[str] = mapped_column(ForeignKey("cameras.id"))
    start_utc: Mapped[datetime]
    end_utc: Mapped[datetime | None]  # None while the gap is still open
    reason: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(Text)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(
            "role in ('officer', 'investigator', 'supervisor', 'admin', 'auditor')", name="role_known"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    password_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]


class LoginSession(Base):
    """A browser session; only the SHA-256 of the cookie value is stored."""

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    source_ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(255))
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()


class ApiToken(Base):
    """A long-lived token for scripts; only its SHA-256 is stored, the prefix helps identify it."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(String(32))  # storage.api_token.TokenRevokeReason
    last_used_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()


class AuditEntry(Base):
    """Append-only, hash-chained: ``row_hash`` = SHA-256 over the row's fields and ``prev_hash``."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    user_id: Mapped[int | None] = mapped_column(Integer)  # no FK: the log outlives users
    username: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str | None] = mapped_column(String(64))  # IP address, or "cli"
    action: Mapped[str] = mapped_column(String(64), index=True)
    resource_type: Mapped[str | None] = mapped_column(String(32))
    resource_id: Mapped[str | None] = mapped_column(String(128))
    allowed: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[str | None] = mapped_column(Text)  # canonical JSON
    prev_hash: Mapped[str] = mapped_column(String(64))
    row_hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditAnchor(Base):
    """The newest audit row's id and hash, written in the same transaction as that row (one row, id 1).

    Deleting the last rows of ``audit_log`` leaves the chain itself intact; the anchor still names the row
    that was last written, so verification reports the truncation (see :mod:`storage.audit`).
    """

    __tablename__ = "audit_anchor"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_id: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Complaint(Base):
    __tablename__ = "complaints"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    received_at: Mapped[datetime]
    channel: Mapped[str] = mapped_column(String(32))
    reporter_name: Mapped[str | None] = mapped_column(String(200))
    reporter_contact: Mapped[str | None] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text, default="")
    building: Mapped[str | None] = mapped_column(String(64))
    entrance: Mapped[str | None] = mapped_column(String(64))
    area: Mapped[str | None] = mapped_column(String(64))
    incident_start: Mapped[datetime]
    incident_end: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default=ComplaintStatus.NEW.value, index=True)
    outcome: Mapped[str | None] = mapped_column(String(32))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    due_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    # casefolded text for free-text search (SQLite's lower() folds ASCII only): number and description in
    # search_public; reporter name and contact (plus the contact's digits) in search_personal
    search_public: Mapped[str] = mapped_column(Text, default="")
    search_personal: Mapped[str] = mapped_column(Text, default="")


class ComplaintHistory(Base):
    __tablename__ = "complaint_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    actor_name: Mapped[str | None] = mapped_column(String(120))  # who acted, as named at the time
    detail: Mapped[str | None] = mapped_column(Text)  # canonical JSON: fields, assignee, outcome, range


class EvidenceLock(Base):
    """Footage of ``camera_id`` between start and end must not be deleted while the lock holds."""

    __tablename__ = "evidence_locks"
    __table_args__ = (
        Index("ix_evidence_locks_camera_range", "camera_id", "start_utc", "end_utc"),
        CheckConstraint("end_utc > start_utc", name="range_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    camera_id: Mapped[str] = mapped_column(ForeignKey("cameras.id"))
    start_utc: Mapped[datetime]
    end_utc: Mapped[datetime]
    reason: Mapped[str] = mapped_column(Text)
    complaint_id: Mapped[int | None] = mapped_column(ForeignKey("complaints.id"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]  # set when the case closes: closed_at + closed-case retention
    released_at: Mapped[datetime | None]
    released_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Clip(Base):
    """A cut of recorded footage (event clip or export), stream-copied from segments."""

    __tablename__ = "clips"

    id: Mapped[int] = mapped_column(primary_key=True)
    camera_id: Mapped[str] = mapped_column(ForeignKey("cameras.id"), index=True)
    start_utc: Mapped[datetime]
    end_utc: Mapped[datetime]
    path: Mapped[str | None] = mapped_column(String(512))
    sha256: Mapped[str | None] = mapped_column(String(64))
    bytes: Mapped[int | None] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))  # event | export | evidence
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ComplaintEvidence(Base):
    """Footage attached to a complaint: a camera and time range, its lock and optional clip."""

    __tablename__ = "complaint_evidence"

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), index=True)
    camera_id: Mapped[str] = mapped_column(ForeignKey("cameras.id"))
    start_utc: Mapped[datetime]
    end_utc: Mapped[datetime]
    lock_id: Mapped[int | None] = mapped_column(ForeignKey("evidence_locks.id"))
    clip_id: Mapped[int | None] = mapped_column(ForeignKey("clips.id"))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"))
    note: Mapped[str | None] = mapped_column(Text)
    added_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    added_at: Mapped[datetime] = mapped_column(default=utcnow)


class ComplaintStill(Base):
    """A still frame attached to a complaint: one decoded frame of a recorded segment, stored as a JPEG
    outside the recordings tree (retention never plans it) with its SHA-256, so its integrity is provable."""

    __tablename__ = "complaint_stills"

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), index=True)
    camera_id: Mapped[str] = mapped_column(ForeignKey("cameras.id"))
    requested_utc: Mapped[datetime]  # the instant asked for
    frame_utc: Mapped[datetime]  # when the frame shown at that instant begins
    path: Mapped[str] = mapped_column(String(512))  # relative to the stills root
    sha256: Mapped[str] = mapped_column(String(64))
    bytes: Mapped[int] = mapped_column(BigInteger)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    source_sha256: Mapped[str | None] = mapped_column(String(64))  # the segment file's, when it is closed
    added_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    added_at: Mapped[datetime] = mapped_column(default=utcnow)


class Event(Base):
    """A detection hit turned into something for the officer to review."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_camera_start", "camera_id", "start_utc"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    camera_id: Mapped[str] = mapped_column(ForeignKey("cameras.id"))
    kind: Mapped[str] = mapped_column(String(16))  # motion | person | littering | smoking
    start_utc: Mapped[datetime]
    end_utc: Mapped[datetime | None]
    zone: Mapped[str | None] = mapped_column(String(32))
    score: Mapped[float | None] = mapped_column(Float)
    detail: Mapped[str | None] = mapped_column(Text)
    snapshot_path: Mapped[str | None] = mapped_column(String(512))
    clip_id: Mapped[int | None] = mapped_column(ForeignKey("clips.id"))
    review: Mapped[str] = mapped_column(String(16), default="pending")  # pending | confirmed | dismissed
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None]


class Export(Base):
    """An evidence package (ZIP with clips, manifest and signature)."""

    __tablename__ = "exports"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    complaint_id: Mapped[int | None] = mapped_column(ForeignKey("complaints.id"))
    reason: Mapped[str] = mapped_column(Text)
    path: Mapped[str | None] = mapped_column(String(512))
    sha256: Mapped[str | None] = mapped_column(String(64))
    bytes: Mapped[int | None] = mapped_column(BigInteger)
    manifest: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | ready | failed
