"""Complaint storage on SQLite and PostgreSQL: numbers, filters, history, evidence locks, overdue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from storage.complaint import (
    ComplaintFields,
    ComplaintFilter,
    ComplaintNotFoundError,
    EvidenceNotFoundError,
    attach_evidence,
    complaint_history,
    complaint_locks,
    create_complaint,
    detach_evidence,
    evidence_ranges,
    find_complaint_by_number,
    get_complaint,
    list_complaints,
    overdue_complaints,
    search_terms,
    transition_complaint,
    update_complaint,
)
from storage.database import Database
from storage.lock import active_locks
from storage.model import Camera, ComplaintStatus, EvidenceLock, Role, User

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def fields(**overrides: object) -> ComplaintFields:
    values: dict[str, object] = {
        "received_at": NOW - timedelta(hours=1),
        "channel": "phone",
        "category": "noise",
        "incident_start": NOW - timedelta(hours=2),
        "incident_end": NOW - timedelta(hours=1, minutes=30),
        "building": "5",
        "entrance": "1",
        "reporter_name": "Иван",
    }
    values.update(overrides)
    return ComplaintFields(**values)  # type: ignore[arg-type]


def seed(database: Database) -> int:
    with database.session() as session:
        session.add(Camera(id="cam-1", name="Cam 1", building="5", entrance="1"))
        user = User(username="officer", role=Role.OFFICER.value, password_hash="x")
        session.add(user)
        session.flush()
        return user.id


def test_numbers_are_sequential_per_year(database: Database) -> None:
    user_id = seed(database)
    with database.session() as session:
        numbers = [
            create_complaint(
                session, fields=fields(), created_by=user_id, now=NOW, year=2026, due_at=None
            ).number
            for _ in range(3)
        ]
        numbers.append(
            create_complaint(
                session, fields=fields(), created_by=user_id, now=NOW, year=2027, due_at=None
            ).number
        )
    assert numbers == ["2026-000001", "2026-000002", "2026-000003", "2027-000001"]
    with database.session() as session:
        found = find_complaint_by_number(session, number=" 2026-000002 ")
        assert found is not None and found.reporter_name == "Иван"
        with pytest.raises(ComplaintNotFoundError):
            get_complaint(session, complaint_id=999)


def test_filters_overdue_and_history(database: Database) -> None:
    user_id = seed(database)
    with database.session() as session:
        a = create_complaint(
            session, fields=fields(), created_by=user_id, now=NOW, year=2026, due_at=NOW - timedelta(hours=1)
        )
        b = create_complaint(
            session,
            fields=fields(
                category="smoking",
                building=None,
                entrance=None,
                area="Парковка",
                received_at=NOW - timedelta(days=2),
            ),
            created_by=user_id,
            now=NOW,
            year=2026,
            due_at=NOW + timedelta(hours=5),
        )
        change = update_complaint(
            session,
            complaint=b,
            changes={"description": "дым", "category": "smoking"},
            user_id=user_id,
            now=NOW,
        )
        assert set(change.fields) == {"description"}
        with pytest.raises(ValueError, match="not editable"):
            update_complaint(session, complaint=b, changes={"status": "resolved"}, user_id=user_id, now=NOW)
        ids = (a.id, b.id)
    with database.session() as session:

        def numbers(**kwargs: object) -> list[int]:
            return [c.id for c in list_complaints(session, filters=ComplaintFilter(**kwargs)).items]  # type: ignore[arg-type]

        assert numbers() == [ids[0], ids[1]]
        assert numbers(category="smoking") == [ids[1]]
        assert numbers(area="Парковка") == [ids[1]]
        assert numbers(area="парковка") == []
        assert numbers(received_from=NOW - timedelta(days=1)) == [ids[0]]
        assert numbers(statuses=["new"], limit=1) == [ids[0]]
        assert list_complaints(session, filters=ComplaintFilter(limit=1)).total == 2
        assert [c.id for c in overdue_complaints(session, now=NOW)] == [ids[0]]
        assert [h.action for h in complaint_history(session, complaint_id=ids[1])] == ["created", "updated"]


def test_evidence_locks_follow_the_case(database: Database) -> None:
    user_id = seed(database)
    with database.session() as session:
        complaint = create_complaint(
            session, fields=fields(), created_by=user_id, now=NOW, year=2026, due_at=None
        )
        start = NOW - timedelta(hours=2)
        attached = attach_evidence(
            session,
            complaint=complaint,
            camera_id="cam-1",
            start_utc=start,
            end_utc=start + timedelta(minutes=5),
            user_id=user_id,
            now=NOW,
        )
        with pytest.raises(LookupError):
            attach_evidence(
                session,
                complaint=complaint,
                camera_id="nope",
                start_utc=start,
                end_utc=start + timedelta(minutes=1),
                user_id=user_id,
                now=NOW,
            )
        assert attached.lock is not None and attached.lock.reason == f"complaint {complaint.number}"
        assert len(evidence_ranges(session, camera_id="cam-1", start_utc=start, end_utc=NOW)) == 1
        transition_complaint(
            session,
            complaint=complaint,
            to_status=ComplaintStatus.IN_PROGRESS,
            outcome=None,
            user_id=user_id,
            now=NOW,
            closed_case_retention_days=30,
        )
        transition_complaint(
            session,
            complaint=complaint,
            to_status=ComplaintStatus.RESOLVED,
            outcome="warning_given",
            user_id=user_id,
            now=NOW,
            closed_case_retention_days=30,
        )
        lock = session.get(EvidenceLock, attached.lock.id)
        assert lock is not None and lock.expires_at == NOW + timedelta(days=30)
        assert complaint.closed_at == NOW and complaint.outcome == "warning_given"
        assert len(active_locks(session, now=NOW + timedelta(days=29))) == 1
        assert active_locks(session, now=NOW + timedelta(days=31)) == []
        transition_complaint(
            session,
            complaint=complaint,
            to_status=ComplaintStatus.IN_PROGRESS,
            outcome=None,
            user_id=user_id,
            now=NOW,
            note="reopened",
            closed_case_retention_days=30,
        )
        assert lock.expires_at is None and complaint.closed_at is None and complaint.outcome is None
        with pytest.raises(EvidenceNotFoundError):
            detach_evidence(session, complaint=complaint, evidence_id=999, user_id=user_id, now=NOW)
        detach_evidence(
            session, complaint=complaint, evidence_id=attached.evidence.id, user_id=user_id, now=NOW
        )
        assert complaint_locks(session, complaint_id=complaint.id) == []
        assert lock.released_at == NOW
        actions = [h.action for h in complaint_history(session, complaint_id=complaint.id)]
    assert actions == ["created", "evidence_attached", "status", "status", "status", "evidence_detached"]


@pytest.mark.parametrize(
    ("text", "terms"),
    [
        ("  МУСОР  у подъезда ", [("мусор",), ("у",), ("подъезда",)]),
        ("+7 (701) 000-00-00", [("+7", "7"), ("(701)", "701"), ("000-00-00", "0000000")]),
        ("2026-000012", [("2026-000012", "2026000012")]),
        ("7010000000", [("7010000000",)]),
        (None, []),
    ],
)
def test_search_terms(text: str | None, terms: list[tuple[str, ...]]) -> None:
    assert search_terms(text) == terms


def test_search_folds_cyrillic_and_follows_edits(database: Database) -> None:
    """On both backends: "МУСОР" finds "мусор" (SQLite's lower() folds ASCII only), personal fields only
    when asked, and an edit of the description is searchable at once."""
    user_id = seed(database)
    with database.session() as session:
        complaint = create_complaint(
            session,
            fields=fields(description="Мусор у подъезда", reporter_contact="+7 701 000 00 00"),
            created_by=user_id,
            now=NOW,
            year=2026,
            due_at=None,
        )

        def found(text: str, personal: bool = True) -> int:
            filters = ComplaintFilter(text=text, search_personal=personal)
            return list_complaints(session, filters=filters).total

        assert found("МУСОР") == 1 and found("иван") == 1 and found("7010000000") == 1
        assert found("иван", personal=False) == 0 and found("%") == 0
        update_complaint(
            session, complaint=complaint, changes={"description": "Шум"}, user_id=user_id, now=NOW
        )
        assert found("мусор") == 0 and found("шум") == 1
