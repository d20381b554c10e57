"""The printed complaint card: what the officer files on paper.

:func:`build_card` gathers, for one complaint as ``user`` may see it (the same presenter as the complaint
page, so the reporter is hidden from the roles that may not see it): the complaint and its history, every
attached footage range with the SHA-256 of the recorded files behind it, and the evidence packages
exported for the complaint with their fingerprints (the package file's SHA-256). The page
(:mod:`console.routes.complaint_card`) renders it for A4 paper.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from console.complaint_presenter import detail_of
from console.complaint_schema import ComplaintDetail, EvidencePublic, HistoryPublic
from console.deps import Principal
from storage.export_list import ExportFilter, list_exports
from storage.footage_hash import SegmentHash, footage_hashes
from storage.model import Camera, Complaint

MAX_EXPORTS: Final = 50
"""Packages listed on one card (newest first); more is rare, and the exports page lists them all."""


@dataclass(frozen=True, slots=True)
class CardFootage:
    """One attached range with its camera's name and the recorded files it lies in."""

    evidence: EvidencePublic
    camera_name: str
    files: Sequence[SegmentHash]


@dataclass(frozen=True, slots=True)
class CardPackage:
    """An evidence package exported for the complaint."""

    export_id: int
    created_at: datetime
    created_by: str
    status: str
    package_hash: str | None


@dataclass(frozen=True, slots=True)
class CardEntry:
    """One history row as the card prints it: the action's parts, times as datetimes."""

    at: datetime
    user: str | None
    action: str
    from_status: str | None
    to_status: str | None
    outcome: str | None
    note: str | None
    fields: Sequence[str] = ()
    assignee: str | None = None
    camera: str | None = None
    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True, slots=True)
class ComplaintCard:
    detail: ComplaintDetail
    history: Sequence[CardEntry]
    footage: Sequence[CardFootage]
    packages: Sequence[CardPackage]
    key_fingerprint: str

    @property
    def shows_personal_data(self) -> bool:
        """Whether the card shows a reporter's name or contact (viewing it is then audited)."""
        complaint = self.detail.complaint
        return complaint.personal_data_visible and bool(complaint.reporter_name or complaint.reporter_contact)


def _when(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def card_entry(row: HistoryPublic, camera_names: Mapping[str, str]) -> CardEntry:
    """A history row for print (pure): the detail's values picked out, ISO times parsed."""
    detail = row.detail or {}
    fields = detail.get("fields")
    camera = detail.get("camera")
    assignee = detail.get("assignee")
    outcome = detail.get("outcome")
    return CardEntry(
        at=row.at,
        user=row.user,
        action=row.action,
        from_status=row.from_status,
        to_status=row.to_status,
        outcome=outcome if isinstance(outcome, str) else None,
        note=row.note,
        fields=[str(f) for f in fields] if isinstance(fields, list) else [],
        assignee=assignee if isinstance(assignee, str) else None,
        camera=camera_names.get(camera, camera) if isinstance(camera, str) else None,
        start=_when(detail.get("start")),
        end=_when(detail.get("end")),
    )


def _camera_names(session: Session, ids: set[str]) -> dict[str, str]:
    if not ids:
        return {}
    rows = session.execute(select(Camera.id, Camera.name).where(Camera.id.in_(ids)))
    return {row.id: row.name for row in rows}


def _packages(session: Session, number: str) -> list[CardPackage]:
    page = list_exports(session, where=ExportFilter(complaint_number=number), limit=MAX_EXPORTS, offset=0)
    return [
        CardPackage(
            export_id=row.export.id,
            created_at=row.export.created_at,
            created_by=row.display_name or row.username,
            status=row.export.status,
            package_hash=row.export.sha256,
        )
        for row in page.items
    ]


def build_card(
    session: Session, complaint: Complaint, user: Principal, *, key_fingerprint: str
) -> ComplaintCard:
    detail = detail_of(session, complaint, user)
    names = _camera_names(
        session,
        {item.camera_id for item in detail.evidence}
        | {str(h.detail["camera"]) for h in detail.history if h.detail and "camera" in h.detail},
    )
    footage = [
        CardFootage(
            evidence=item,
            camera_name=names.get(item.camera_id, item.camera_id),
            files=footage_hashes(session, camera_id=item.camera_id, start_utc=item.start, end_utc=item.end),
        )
        for item in detail.evidence
    ]
    return ComplaintCard(
        detail=detail,
        history=[card_entry(row, names) for row in detail.history],
        footage=footage,
        packages=_packages(session, complaint.number),
        key_fingerprint=key_fingerprint,
    )
