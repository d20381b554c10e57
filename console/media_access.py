"""Who may see footage of which camera at which time: the one decision every media path goes through.

Every route that serves or derives footage — timeline, playback views and their segment files, thumbnails,
live view and snapshots, clips, evidence packages — builds a :class:`MediaRequest` and calls
:func:`check_media_access`. The decision itself is the pure :func:`decide_media_access` (tested as a table).

Rules
    - Live view and live snapshots: ``live.view``.
    - Recorded footage: ``recordings.view`` (investigators, supervisors) sees every range. An officer
      (``complaints.view`` without ``recordings.view``) sees the last ``console.officer_recording_days`` days
      plus ranges attached to complaints (every complaint of the station is visible to its officers). An
      officer cannot attach footage older than that horizon
      (:func:`console.complaint.attach_needs_supervisor`): older ranges are attached by a supervisor, so an
      officer never widens their own window. Nobody else (admin, auditor) sees footage.
    - Clips need ``clips.create``, evidence packages ``exports.create``.
    - A reason or a complaint number is required for every clip and export, and for playback and thumbnails
      of footage older than ``console.reason_required_after_days``. A complaint number must exist.
    - The timeline (spans, gaps, events: no picture) follows the range rules but never needs a reason.

Auditing: refusals are audited (``media.denied``) and committed even though the request fails. Allowed
requests are audited when the caller asks (``recording.view`` for a playback view, ``clip.create`` ...);
follow-up requests of an audited view (its segment files) pass ``audit=False`` and carry the view's id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from sqlalchemy.orm import Session

from config.schema import ConsoleConfig, is_slug
from console.deps import Principal, audit_as
from console.error import ApiError
from console.i18n import Message
from console.permission import Permission
from storage.complaint import evidence_ranges, find_complaint_by_number
from storage.model import Camera, utcnow

REASON_MIN_CHARS: Final = 3
REASON_MAX_CHARS: Final = 500
FUTURE_SKEW: Final = timedelta(minutes=5)


class MediaPurpose(StrEnum):
    TIMELINE = "timeline"  # spans, gaps and events of recorded footage (no picture)
    PLAYBACK = "playback"  # recorded video: a playback view and its segment files
    THUMBNAIL = "thumbnail"  # a still of recorded footage
    LIVE = "live"  # live video
    SNAPSHOT = "snapshot"  # a still of live video
    CLIP = "clip"  # cutting a clip of recorded footage
    EXPORT = "export"  # a signed evidence package


LIVE_PURPOSES: Final = frozenset({MediaPurpose.LIVE, MediaPurpose.SNAPSHOT})
ALWAYS_NEEDS_REASON: Final = frozenset({MediaPurpose.CLIP, MediaPurpose.EXPORT})
NEEDS_REASON_WHEN_OLD: Final = frozenset({MediaPurpose.PLAYBACK, MediaPurpose.THUMBNAIL})
EXTRA_PERMISSION: Final = {
    MediaPurpose.CLIP: Permission.CLIPS_CREATE,
    MediaPurpose.EXPORT: Permission.EXPORTS_CREATE,
}


@dataclass(frozen=True, slots=True)
class MediaPolicy:
    officer_recording_days: int
    reason_required_after_days: int

    @classmethod
    def of(cls, console: ConsoleConfig) -> MediaPolicy:
        return cls(
            officer_recording_days=console.officer_recording_days,
            reason_required_after_days=console.reason_required_after_days,
        )


@dataclass(frozen=True, slots=True)
class MediaRequest:
    """Footage of ``camera_id`` in ``[start_utc, end_utc)`` for ``purpose`` (live: the current instant)."""

    camera_id: str
    start_utc: datetime
    end_utc: datetime
    purpose: MediaPurpose
    reason: str | None = None
    complaint_number: str | None = None


@dataclass(frozen=True, slots=True)
class MediaDecision:
    allowed: bool
    code: str  # "ok", or the API error code of the refusal
    message: Message | None  # why it was refused (translatable); None when allowed
    status: int = 200  # HTTP status of the refusal
    scope: str = ""  # what allowed it: live | all | recent | attached

    @classmethod
    def deny(cls, status: int, code: str, message: Message) -> MediaDecision:
        return cls(allowed=False, code=code, message=message, status=status)


@dataclass(frozen=True, slots=True)
class MediaGrant:
    """An allowed request: the decision, the complaint it was given for, and its audit row (if written)."""

    decision: MediaDecision
    complaint_id: int | None
    audit_id: int | None
    reason: str | None


def _covered(start: datetime, end: datetime, ranges: Sequence[tuple[datetime, datetime]]) -> bool:
    """Whether the union of ``ranges`` covers ``[start, end]``."""
    cursor = start
    for range_start, range_end in sorted(ranges):
        if range_start > cursor:
            break
        cursor = max(cursor, range_end)
        if cursor >= end:
            return True
    return cursor >= end


def reason_required(purpose: MediaPurpose, start_utc: datetime, now: datetime, policy: MediaPolicy) -> bool:
    if purpose in ALWAYS_NEEDS_REASON:
        return True
    if purpose in NEEDS_REASON_WHEN_OLD:
        return start_utc < now - timedelta(days=policy.reason_required_after_days)
    return False


def decide_media_access(
    *,
    permissions: frozenset[Permission],
    request: MediaRequest,
    policy: MediaPolicy,
    now: datetime,
    attached: Sequence[tuple[datetime, datetime]] = (),
    complaint_known: bool | None = None,
) -> MediaDecision:
    """The decision, pure. ``attached``: ranges of this camera attached to complaints; ``complaint_known``:
    whether ``request.complaint_number`` names a complaint (None when no number was given)."""
    purpose = request.purpose
    if request.end_utc < request.start_utc:
        return MediaDecision.deny(422, "invalid_range", Message("end must not be before start"))
    if purpose in LIVE_PURPOSES:
        if Permission.LIVE_VIEW not in permissions:
            return MediaDecision.deny(403, "media_forbidden", Message("your role may not watch live video"))
        return MediaDecision(allowed=True, code="ok", message=None, scope="live")
    extra = EXTRA_PERMISSION.get(purpose)
    if extra is not None and extra not in permissions:
        return MediaDecision.deny(
            403,
            "media_forbidden",
            Message("your role may not do this (needs {permission})", permission=extra.value),
        )
    if Permission.RECORDINGS_VIEW in permissions:
        scope = "all"
    elif Permission.COMPLAINTS_VIEW in permissions:
        recent_from = now - timedelta(days=policy.officer_recording_days)
        if request.start_utc >= recent_from:
            scope = "recent"
        elif _covered(request.start_utc, request.end_utc, attached):
            scope = "attached"
        else:
            return MediaDecision.deny(
                403,
                "outside_officer_window",
                Message(
                    "officers may see the last {days} days and footage attached to complaints; "
                    "ask an investigator for older footage",
                    days=policy.officer_recording_days,
                ),
            )
    else:
        return MediaDecision.deny(403, "media_forbidden", Message("your role may not see recorded footage"))
    if complaint_known is False:
        return MediaDecision.deny(422, "unknown_complaint", Message("no complaint with this number"))
    if reason_required(purpose, request.start_utc, now, policy):
        reason = (request.reason or "").strip()
        if complaint_known is not True and len(reason) < REASON_MIN_CHARS:
            message = (
                Message("every clip and export needs a reason or a complaint number")
                if purpose in ALWAYS_NEEDS_REASON
                else Message(
                    "footage older than {days} day(s) needs a reason or a complaint number",
                    days=policy.reason_required_after_days,
                )
            )
            return MediaDecision.deny(422, "reason_required", message)
    return MediaDecision(allowed=True, code="ok", message=None, scope=scope)


def _audit_detail(request: MediaRequest, complaint_id: int | None) -> dict[str, object]:
    return {
        "camera": request.camera_id,
        "start": request.start_utc.isoformat(),
        "end": request.end_utc.isoformat(),
        "purpose": request.purpose.value,
        "complaint": request.complaint_number,
        "complaint_id": complaint_id,
    }


def media_decision(
    session: Session, principal: Principal, request: MediaRequest, *, policy: MediaPolicy, now: datetime
) -> tuple[MediaDecision, int | None]:
    """The decision for a known camera, with the id of the complaint named in the request (if it exists);
    no audit, no error: for views that show what a user may see and leave the rest out (proposals)."""
    complaint_id: int | None = None
    complaint_known: bool | None = None
    if request.complaint_number and request.complaint_number.strip():
        complaint = find_complaint_by_number(session, number=request.complaint_number)
        complaint_known = complaint is not None
        complaint_id = complaint.id if complaint is not None else None
    attached: list[tuple[datetime, datetime]] = []
    needs_ranges = Permission.RECORDINGS_VIEW not in principal.permissions
    if needs_ranges and request.purpose not in LIVE_PURPOSES and request.end_utc > request.start_utc:
        attached = [
            (r.start_utc, r.end_utc)
            for r in evidence_ranges(
                session, camera_id=request.camera_id, start_utc=request.start_utc, end_utc=request.end_utc
            )
        ]
    decision = decide_media_access(
        permissions=principal.permissions,
        request=request,
        policy=policy,
        now=now,
        attached=attached,
        complaint_known=complaint_known,
    )
    return decision, complaint_id


def check_media_access(
    session: Session,
    principal: Principal,
    request: MediaRequest,
    *,
    policy: MediaPolicy,
    now: datetime | None = None,
    audit_action: str | None = None,
) -> MediaGrant:
    """Decide, audit, and raise :class:`ApiError` on refusal. ``audit_action`` names the audit row of an
    allowed request (e.g. ``recording.view``); None writes none (follow-up requests of an audited view)."""
    now = now or utcnow()
    reason = (request.reason or "").strip()[:REASON_MAX_CHARS] or None
    if not is_slug(request.camera_id) or session.get(Camera, request.camera_id) is None:
        raise ApiError(
            422,
            "unknown_camera",
            "no camera {camera} on this station",
            params={"camera": request.camera_id[:40]},
        )
    decision, complaint_id = media_decision(session, principal, request, policy=policy, now=now)
    detail = _audit_detail(request, complaint_id)
    if not decision.allowed:
        audit_as(
            session,
            principal,
            action="media.denied",
            allowed=False,
            resource_type="camera",
            resource_id=request.camera_id,
            reason=reason,
            detail={**detail, "code": decision.code},
        )
        session.commit()  # the error below rolls the request's session back; keep the audit row
        raise ApiError(decision.status, decision.code, decision.message or Message("access refused"))
    audit_id: int | None = None
    if audit_action is not None:
        entry = audit_as(
            session,
            principal,
            action=audit_action,
            resource_type="camera",
            resource_id=request.camera_id,
            reason=reason,
            detail={**detail, "scope": decision.scope},
        )
        audit_id = entry.id
    return MediaGrant(decision=decision, complaint_id=complaint_id, audit_id=audit_id, reason=reason)
