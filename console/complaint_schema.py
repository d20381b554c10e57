"""Request and response models of the complaints API (the ``XCreate / XUpdate / XPublic`` family)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from pydantic import BaseModel, Field

from console.complaint import Category, Channel, Outcome
from console.request_types import DB_INT_MAX, DbId, UtcDatetime
from console.response_types import IsoDatetime
from storage.model import ComplaintStatus

TEXT_MAX: Final = 4000
NOTE_MAX: Final = 2000
PLACE_MAX: Final = 64
REASON_MAX: Final = 500
SEARCH_MAX: Final = 200


class ComplaintCreate(BaseModel):
    received_at: UtcDatetime
    channel: Channel
    reporter_name: str | None = Field(default=None, max_length=200)
    reporter_contact: str | None = Field(default=None, max_length=200)
    category: Category
    description: str = Field(default="", max_length=TEXT_MAX)
    building: str | None = Field(default=None, max_length=PLACE_MAX)
    entrance: str | None = Field(default=None, max_length=PLACE_MAX)
    area: str | None = Field(default=None, max_length=PLACE_MAX)
    incident_start: UtcDatetime
    incident_end: UtcDatetime


class ComplaintUpdate(BaseModel):
    received_at: UtcDatetime | None = None
    channel: Channel | None = None
    reporter_name: str | None = Field(default=None, max_length=200)
    reporter_contact: str | None = Field(default=None, max_length=200)
    category: Category | None = None
    description: str | None = Field(default=None, max_length=TEXT_MAX)
    building: str | None = Field(default=None, max_length=PLACE_MAX)
    entrance: str | None = Field(default=None, max_length=PLACE_MAX)
    area: str | None = Field(default=None, max_length=PLACE_MAX)
    incident_start: UtcDatetime | None = None
    incident_end: UtcDatetime | None = None
    assignee_id: int | None = Field(default=None, ge=0, le=DB_INT_MAX, description="0 removes the assignee")
    note: str | None = Field(default=None, max_length=NOTE_MAX)


class StatusChange(BaseModel):
    status: ComplaintStatus
    outcome: Outcome | None = None
    note: str | None = Field(default=None, max_length=NOTE_MAX)


class NoteCreate(BaseModel):
    note: str = Field(min_length=1, max_length=NOTE_MAX)


class EvidenceCreate(BaseModel):
    camera_id: str = Field(min_length=1, max_length=32)
    start: UtcDatetime
    end: UtcDatetime
    note: str | None = Field(default=None, max_length=NOTE_MAX)
    event_id: DbId | None = Field(default=None, description="the detection event shown")


class EvidenceRelease(BaseModel):
    reason: str | None = Field(
        default=None,
        max_length=REASON_MAX,
        description="why the footage is released; required for footage someone else attached",
    )


class ComplaintPublic(BaseModel):
    id: int
    number: str
    received_at: datetime
    channel: str
    category: str
    description: str
    building: str | None
    entrance: str | None
    area: str | None
    place: str
    incident_start: datetime
    incident_end: datetime
    status: str
    outcome: str | None
    assignee_id: int | None
    assignee: str | None
    created_by: int
    created_at: datetime
    updated_at: datetime
    due_at: datetime | None
    closed_at: datetime | None
    overdue: bool
    personal_data_visible: bool
    reporter_name: str | None = None
    reporter_contact: str | None = None


class HistoryPublic(BaseModel):
    id: int
    at: datetime
    user_id: int | None
    user: str | None = Field(description="who acted, as named at the time")
    action: str
    from_status: str | None
    to_status: str | None
    note: str | None = Field(description="what a person wrote (a note, the reason of a release)")
    detail: dict[str, Any] | None = Field(
        default=None,
        description="fields (updated), assignee_id and assignee (assigned), outcome (status), "
        "camera, start and end (evidence_attached, evidence_detached)",
    )


class EvidencePublic(BaseModel):
    id: int
    camera_id: str
    start: datetime
    end: datetime
    note: str | None
    event_id: int | None
    added_by: int | None
    added_by_name: str | None = None
    added_at: datetime
    lock_id: int | None
    lock_expires_at: datetime | None
    lock_released: bool
    may_detach: bool = False
    detach_needs_reason: bool = False


class StillPublic(BaseModel):
    """A still frame attached to a complaint: which camera and frame, its JPEG's SHA-256, where to get it."""

    id: int
    camera_id: str
    requested_at: datetime
    frame_at: datetime
    sha256: str
    bytes: int
    width: int
    height: int
    source_sha256: str | None
    added_by: int | None
    added_by_name: str | None = None
    added_at: datetime
    url: str


class ComplaintDetail(BaseModel):
    complaint: ComplaintPublic
    history: list[HistoryPublic]
    evidence: list[EvidencePublic]
    stills: list[StillPublic] = Field(default_factory=list)
    allowed_transitions: list[str]
    can_edit: bool


class ComplaintList(BaseModel):
    items: list[ComplaintPublic]
    total: int
    limit: int
    offset: int


class AssigneeOption(BaseModel):
    id: int
    name: str


class ComplaintOptions(BaseModel):
    channels: list[str]
    categories: list[str]
    statuses: list[str]
    outcomes: dict[str, list[str]] = Field(description="status → the outcomes allowed with it")
    transitions: dict[str, list[str]] = Field(description="status → the statuses it may change to")
    places: dict[str, list[str]] = Field(description="building, entrance, area → values known from cameras")
    assignees: list[AssigneeOption]


class TimeRange(BaseModel):
    start: IsoDatetime
    end: IsoDatetime


class ProposedSpan(TimeRange):
    segments: int


class ProposedGap(TimeRange):
    reasons: list[str]
    open: bool


class ProposedSegment(TimeRange):
    id: int


class ProposedEvent(BaseModel):
    id: int
    kind: str
    start: IsoDatetime
    end: IsoDatetime | None
    review: str


class AttachedRange(TimeRange):
    id: int


class CameraFootage(BaseModel):
    camera_id: str
    name: str
    building: str | None
    entrance: str | None
    area: str | None
    enabled: bool
    match: str = Field(description="entrance | area | building")
    score: int = Field(
        description="3 = looks at the place, 2 = same area elsewhere/shared, 1 = same building"
    )
    attached: list[AttachedRange]
    footage_hidden: str | None = Field(description="why the footage is hidden (media-access code), or null")
    recorded_s: float
    spans: list[ProposedSpan]
    gaps: list[ProposedGap]
    segments: list[ProposedSegment]
    events: list[ProposedEvent]


class ComplaintProposals(BaseModel):
    complaint: str = Field(description="the complaint number")
    window: TimeRange
    cameras: list[CameraFootage]
