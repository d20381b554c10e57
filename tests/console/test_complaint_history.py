"""The complaint's history credits who acted as they were named then (issue 26, finding 7) and carries its
values as data the page translates, never raw text (issue 25, defect 5)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from storage.model import User, utcnow
from tests.console.test_complaint_api import iso, register
from tests.support.station_media import MediaStation

pytestmark = pytest.mark.timeout(120)


def test_history_keeps_names_as_they_were_and_values_as_data(media_station: MediaStation) -> None:
    now = utcnow()
    media_station.record("b5-e1", now - timedelta(minutes=26), count=1)
    officer, supervisor = media_station.login("officer"), media_station.login("supervisor")
    cid = register(officer)["complaint"]["id"]
    officer_id = media_station.user_ids["officer"]
    assert supervisor.patch(f"/api/complaints/{cid}", json={"assignee_id": officer_id}).status_code == 200
    assert (
        officer.patch(f"/api/complaints/{cid}", json={"category": "noise", "note": "уточнил"}).status_code
        == 200
    )
    start, end = now - timedelta(minutes=26), now - timedelta(minutes=25)
    body = {"camera_id": "b5-e1", "start": iso(start), "end": iso(end)}
    assert officer.post(f"/api/complaints/{cid}/evidence", json=body).status_code == 201
    assert officer.post(f"/api/complaints/{cid}/status", json={"status": "in_progress"}).status_code == 200
    closed = officer.post(
        f"/api/complaints/{cid}/status",
        json={"status": "resolved", "outcome": "warning_given", "note": "Предупреждён"},
    )
    assert closed.status_code == 200

    with media_station.station.database.session() as session:  # renamed later: history keeps the old name
        user = session.get(User, officer_id)
        assert user is not None
        user.display_name = "Петров (переведён)"
    history = supervisor.get(f"/api/complaints/{cid}").json()["history"]
    by_action = {h["action"]: h for h in history}
    assert [h["user"] for h in history] == ["Officer", "Supervisor"] + ["Officer"] * 4
    assert by_action["assigned"]["detail"] == {"assignee_id": officer_id, "assignee": "Officer"}
    assert by_action["assigned"]["note"] is None
    assert (
        by_action["updated"]["detail"] == {"fields": ["category"]}
        and by_action["updated"]["note"] == "уточнил"
    )
    attached = by_action["evidence_attached"]["detail"]
    assert attached["camera"] == "b5-e1" and attached["start"] == iso(start) and attached["end"] == iso(end)
    assert by_action["status"]["detail"] == {"outcome": "warning_given"}
    assert by_action["status"]["note"] == "Предупреждён"
    notes = " ".join(h["note"] or "" for h in history)
    for raw in ("+00:00", "user ", "warning_given", "outcome:", "changed:"):
        assert raw not in notes, (raw, notes)
