"""0003 fills the search text of stored complaints and the actor name of stored history rows."""

from __future__ import annotations

import importlib
import json
from typing import Any

import pytest
from sqlalchemy import Boolean, column, insert, inspect, select, table

from storage.database import Database
from storage.migration import head_revision, upgrade_to_head
from storage.model import Complaint, ComplaintHistory, UTCDateTime, utcnow
from tests.storage.test_migration import _migrate

revision = importlib.import_module("storage.migrations.versions.0003_complaint_search_history_actor")


@pytest.mark.parametrize(
    ("action", "note", "planned"),
    [
        ("assigned", "assignee: user 1", (None, {"assignee_id": 1, "assignee": "Иванов"})),
        ("assigned", "assignee removed", (None, {"assignee_id": None, "assignee": None})),
        ("status", "outcome: warning_given", (None, {"outcome": "warning_given"})),
        ("status", "outcome: unfounded. Не подтвердилось", ("Не подтвердилось", {"outcome": "unfounded"})),
        ("status", "Повтор", None),  # a person's note only
        (
            "updated",
            "changed: category, entrance. со слов",
            ("со слов", {"fields": ["category", "entrance"]}),
        ),
        (
            "evidence_attached",
            "b5-e1 2026-03-01T10:00:00+00:00 .. 2026-03-01T10:05:00+00:00",
            (
                None,
                {"camera": "b5-e1", "start": "2026-03-01T10:00:00+00:00", "end": "2026-03-01T10:05:00+00:00"},
            ),
        ),
        ("note", "assignee: user 1", None),  # what an officer wrote stays as written
    ],
)
def test_0003_plans_old_history_notes(action: str, note: str, planned: Any) -> None:
    assert revision.plan_history_row(action, note, {1: "Иванов"}) == planned


def test_0003_fills_search_text_and_history_actor(blank_database_url: str) -> None:
    db = Database(blank_database_url)
    try:
        _migrate(db, "0002")
        now = utcnow()
        users = table(
            "users",
            *(column(c) for c in ("id", "username", "display_name", "role", "password_hash")),
            column("disabled", Boolean),
            column("created_at", UTCDateTime()),
            column("password_changed_at", UTCDateTime()),
        )
        times = ("received_at", "incident_start", "incident_end", "created_at", "updated_at")
        complaints = table(
            "complaints",
            *(column(c) for c in ("id", "number", "channel", "category", "description", "status")),
            *(column(c) for c in ("reporter_name", "reporter_contact", "created_by")),
            *(column(c, UTCDateTime()) for c in times),
        )
        history = table(
            "complaint_history",
            *(column(c) for c in ("id", "complaint_id", "user_id", "action", "note")),
            column("at", UTCDateTime()),
        )
        with db.engine.begin() as connection:
            connection.execute(
                insert(users),
                [
                    {
                        "id": 1,
                        "username": "ivanov",
                        "display_name": "Иванов",
                        "role": "officer",
                        "password_hash": "x",
                        "disabled": False,
                        "created_at": now,
                        "password_changed_at": now,
                    }
                ],
            )
            connection.execute(
                insert(complaints),
                [
                    {
                        "id": 1,
                        "number": "2026-000001",
                        "channel": "phone",
                        "category": "noise",
                        "description": "Шум  НОЧЬЮ",
                        "status": "new",
                        "reporter_name": "Айгуль",
                        "reporter_contact": "+7 701 000-00-00",
                        "created_by": 1,
                        **dict.fromkeys(times, now),
                    }
                ],
            )
            connection.execute(
                insert(history),
                [
                    {"id": 1, "complaint_id": 1, "user_id": 1, "action": "created", "note": None, "at": now},
                    {
                        "id": 2,
                        "complaint_id": 1,
                        "user_id": 1,
                        "action": "assigned",
                        "note": "assignee: user 1",
                        "at": now,
                    },
                ],
            )
        assert upgrade_to_head(db.engine) == ("0002", head_revision())
        with db.session() as session:
            complaint = session.scalars(select(Complaint)).one()
            assert complaint.search_public == "2026-000001 шум ночью"
            assert complaint.search_personal == "айгуль +7 701 000-00-00 77010000000"
            rows = session.scalars(select(ComplaintHistory).order_by(ComplaintHistory.id)).all()
            assert [r.actor_name for r in rows] == ["Иванов", "Иванов"]
            assert rows[1].note is None
            assert json.loads(rows[1].detail or "") == {"assignee_id": 1, "assignee": "Иванов"}
        _migrate(db, "0002", down=True)
        assert "actor_name" not in {c["name"] for c in inspect(db.engine).get_columns("complaint_history")}
    finally:
        db.dispose()
