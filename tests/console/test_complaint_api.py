"""Complaints API against a real app, real SQLite and real recorded segments."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from storage.event import open_event
from storage.lock import active_locks
from storage.model import AuditEntry, EvidenceLock, Segment, utcnow
from storage.retention import SegmentInfo, plan_deletions
from tests.support.station_media import CLOSED_CASE_DAYS, MediaStation

pytestmark = pytest.mark.timeout(120)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def register(client: TestClient, **overrides: Any) -> dict[str, Any]:
    now = utcnow()
    body: dict[str, Any] = {
        "received_at": iso(now - timedelta(minutes=5)),
        "channel": "phone",
        "reporter_name": "Айгуль Садыкова",
        "reporter_contact": "+7 701 000 00 00",
        "category": "littering",
        "description": "Выбросили мусор мимо контейнера",
        "building": "5",
        "entrance": "1",
        "incident_start": iso(now - timedelta(minutes=30)),
        "incident_end": iso(now - timedelta(minutes=20)),
    }
    body.update(overrides)
    response = client.post("/api/complaints", json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def test_register_propose_attach_workflow_and_lock_expiry(media_station: MediaStation) -> None:
    officer = media_station.login("officer")
    now = utcnow()
    media_station.record("b5-e1", now - timedelta(minutes=26), count=3, skip=(1,))
    detail = register(officer)
    complaint = detail["complaint"]
    assert complaint["number"] == f"{now.year}-000001" or complaint["number"].endswith("-000001")
    assert complaint["status"] == "new" and complaint["reporter_name"] == "Айгуль Садыкова"
    assert complaint["due_at"] is not None and not complaint["overdue"]
    assert [h["action"] for h in detail["history"]] == ["created"]
    cid = complaint["id"]

    proposals = officer.get(f"/api/complaints/{cid}/proposals").json()
    by_id = {c["camera_id"]: c for c in proposals["cameras"]}
    assert next(iter(by_id)) == "b5-e1" and by_id["b5-e1"]["match"] == "entrance"
    assert "b5-bins" in by_id and by_id["b5-bins"]["match"] == "building"
    assert "parking" not in by_id and "b7-e2" not in by_id
    entrance = by_id["b5-e1"]
    assert len(entrance["segments"]) == 2 and len(entrance["spans"]) == 2
    assert any(g["end"] > entrance["spans"][0]["end"] for g in entrance["gaps"])  # the skipped segment

    first = entrance["segments"][0]
    attached = officer.post(
        f"/api/complaints/{cid}/evidence",
        json={
            "camera_id": "b5-e1",
            "start": first["start"],
            "end": entrance["segments"][-1]["end"],
            "note": "мусор",
        },
    )
    assert attached.status_code == 201, attached.text
    evidence = attached.json()["evidence"]
    assert (
        len(evidence) == 1 and evidence[0]["lock_id"] is not None and evidence[0]["lock_expires_at"] is None
    )
    with media_station.station.database.session() as session:
        locks = active_locks(session, now=utcnow(), camera_id="b5-e1")
        assert len(locks) == 1
        lock_row = session.get(EvidenceLock, locks[0].lock_id)
        assert lock_row is not None and lock_row.reason == f"complaint {complaint['number']}"

    # workflow: new -> resolved is refused, new -> in_progress -> resolved
    refused = officer.post(
        f"/api/complaints/{cid}/status", json={"status": "resolved", "outcome": "warning_given"}
    )
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "transition_not_allowed"
    taken = officer.post(f"/api/complaints/{cid}/status", json={"status": "in_progress"}).json()
    assert taken["complaint"]["status"] == "in_progress"
    assert taken["complaint"]["assignee_id"] == media_station.user_ids["officer"]
    no_outcome = officer.post(f"/api/complaints/{cid}/status", json={"status": "resolved"})
    assert no_outcome.status_code == 422 and no_outcome.json()["error"]["code"] == "outcome_required"
    note = officer.post(f"/api/complaints/{cid}/notes", json={"note": "Поговорил с жильцом"})
    assert note.status_code == 201
    closed = officer.post(
        f"/api/complaints/{cid}/status",
        json={"status": "resolved", "outcome": "warning_given", "note": "Предупреждён"},
    ).json()
    assert closed["complaint"]["status"] == "resolved" and closed["complaint"]["outcome"] == "warning_given"
    closed_at = datetime.fromisoformat(closed["complaint"]["closed_at"])
    expiry = datetime.fromisoformat(closed["evidence"][0]["lock_expires_at"])
    assert expiry == closed_at + timedelta(days=CLOSED_CASE_DAYS)
    assert (
        officer.post(
            f"/api/complaints/{cid}/evidence",
            json={"camera_id": "b5-e1", "start": first["start"], "end": first["end"]},
        ).status_code
        == 409
    )

    # reopening needs a note and clears the expiry
    assert officer.post(f"/api/complaints/{cid}/status", json={"status": "in_progress"}).status_code == 422
    reopened = officer.post(
        f"/api/complaints/{cid}/status", json={"status": "in_progress", "note": "Повтор"}
    ).json()
    assert reopened["complaint"]["closed_at"] is None and reopened["evidence"][0]["lock_expires_at"] is None
    actions = [h["action"] for h in reopened["history"]]
    assert actions == ["created", "evidence_attached", "assigned", "status", "note", "status", "status"]
    with media_station.station.database.session() as session:
        audited = session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.resource_id == complaint["number"])
            .order_by(AuditEntry.id)
        ).all()
    assert audited.count("complaint.status") == 3 and "complaint.create" in audited
    assert "complaint.evidence_attach" in audited
    assert lock_audit(media_station) == [
        ("evidence.lock", None),
        ("evidence.lock_expiry", (closed_at + timedelta(days=CLOSED_CASE_DAYS)).isoformat()),
        ("evidence.lock_expiry", None),
    ]


def lock_audit(media: MediaStation) -> list[tuple[str, str | None]]:
    """(action, expires_at) of every evidence-lock audit row, oldest first."""
    with media.station.database.session() as session:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.resource_type == "evidence_lock").order_by(AuditEntry.id)
        ).all()
    return [(row.action, json.loads(row.detail or "{}").get("expires_at")) for row in rows]


def test_retention_never_deletes_attached_footage(media_station: MediaStation) -> None:
    officer = media_station.login("officer")
    now = utcnow()
    media_station.record("b5-e1", now - timedelta(minutes=26), count=2)
    cid = register(officer)["complaint"]["id"]
    attach_start = now - timedelta(minutes=26)
    assert (
        officer.post(
            f"/api/complaints/{cid}/evidence",
            json={
                "camera_id": "b5-e1",
                "start": iso(attach_start),
                "end": iso(attach_start + timedelta(seconds=1)),
            },
        ).status_code
        == 201
    )
    later = now + timedelta(days=400)  # far past retention
    with media_station.station.database.session() as session:
        rows = session.scalars(
            select(Segment).where(Segment.camera_id == "b5-e1").order_by(Segment.start_utc)
        ).all()
        infos = [SegmentInfo(r.id, r.camera_id, r.start_utc, r.end_utc, r.bytes, r.path) for r in rows]
        plan = plan_deletions(infos, active_locks(session, now=later), later, {"b5-e1": 30}, 10**12)
    deleted = {d.segment.segment_id for d in plan.deletions}
    assert rows[0].id not in deleted and rows[1].id in deleted
    assert plan.protected_bytes == rows[0].bytes


def test_personal_data_is_hidden_from_the_auditor(media_station: MediaStation) -> None:
    officer = media_station.login("officer")
    cid = register(officer)["complaint"]["id"]
    auditor = media_station.login("auditor")
    seen = auditor.get(f"/api/complaints/{cid}").json()["complaint"]
    assert seen["reporter_name"] is None and seen["reporter_contact"] is None
    assert seen["personal_data_visible"] is False
    listed = auditor.get("/api/complaints").json()["items"][0]
    assert listed["reporter_name"] is None
    assert "Айгуль" not in auditor.get(f"/api/complaints/{cid}").text
    investigator = media_station.login("investigator")
    assert (
        investigator.get(f"/api/complaints/{cid}").json()["complaint"]["reporter_name"] == "Айгуль Садыкова"
    )
    # the auditor and the investigator cannot change complaints; the admin cannot even read them
    assert auditor.post(f"/api/complaints/{cid}/notes", json={"note": "x"}).status_code == 403
    assert investigator.post(f"/api/complaints/{cid}/notes", json={"note": "x"}).status_code == 403
    assert media_station.login("admin").get("/api/complaints").status_code == 403


def test_proposals_show_footage_only_to_roles_that_may_see_it(media_station: MediaStation) -> None:
    """The proposals of a complaint go through the media-access rule (purpose timeline) per camera: the
    auditor reads the complaint but sees no footage of it; an officer sees recent footage but not footage
    older than officer_recording_days unless it is attached."""
    now = utcnow()
    media_station.record("b5-e1", now - timedelta(minutes=30), count=2)
    officer = media_station.login("officer")
    recent = register(officer)["complaint"]["id"]

    def camera(client: TestClient, cid: int) -> dict[str, Any]:
        cameras = client.get(f"/api/complaints/{cid}/proposals").json()["cameras"]
        found: dict[str, Any] = next(c for c in cameras if c["camera_id"] == "b5-e1")
        return found

    seen = camera(officer, recent)
    assert seen["footage_hidden"] is None and seen["segments"] and seen["spans"]
    hidden = camera(media_station.login("auditor"), recent)
    assert hidden["footage_hidden"] == "media_forbidden", hidden
    assert hidden["segments"] == hidden["spans"] == hidden["gaps"] == hidden["events"] == []
    old_start = now - timedelta(days=10)
    media_station.record("b5-e1", old_start, count=1)
    old = register(
        media_station.login("supervisor"),
        received_at=iso(old_start + timedelta(hours=1)),
        incident_start=iso(old_start),
        incident_end=iso(old_start + timedelta(seconds=1)),
    )["complaint"]["id"]
    assert camera(officer, old)["footage_hidden"] == "outside_officer_window"
    assert camera(media_station.login("investigator"), old)["segments"]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"incident_start": "+10m", "incident_end": "+20m"}, "window_in_future"),
        ({"incident_start": "-10m", "incident_end": "-20m"}, "invalid_window"),
        ({"incident_start": "2025-01-01T10:00:00"}, "validation_error"),  # naive
        ({"description": "x" * 4001}, "validation_error"),
        ({"reporter_name": "x" * 201}, "validation_error"),
        ({"category": "murder"}, "validation_error"),
        ({"building": None, "entrance": None, "area": "  "}, "place_required"),
    ],
)
def test_bad_input_is_a_clear_422(media_station: MediaStation, change: dict[str, Any], code: str) -> None:
    officer = media_station.login("officer")
    now = utcnow()
    body: dict[str, Any] = {
        "received_at": iso(now),
        "channel": "chat",
        "category": "noise",
        "building": "5",
        "incident_start": iso(now - timedelta(hours=1)),
        "incident_end": iso(now - timedelta(minutes=30)),
    }
    for key, value in change.items():
        if isinstance(value, str) and value[:1] in "+-" and value.endswith("m"):
            value = iso(now + timedelta(minutes=int(value[:-1])))
        body[key] = value
    response = officer.post("/api/complaints", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == code and response.json()["error"]["message"]


def test_attach_refuses_unknown_camera_future_and_far_ranges(media_station: MediaStation) -> None:
    officer = media_station.login("officer")
    now = utcnow()
    cid = register(officer)["complaint"]["id"]
    start = iso(now - timedelta(minutes=25))

    def attach(client: TestClient, body: dict[str, Any]) -> tuple[int, str]:
        response = client.post(f"/api/complaints/{cid}/evidence", json=body)
        return response.status_code, response.json()["error"]["code"] if response.status_code >= 400 else ""

    assert attach(officer, {"camera_id": "../etc", "start": start, "end": iso(now)}) == (
        422,
        "unknown_camera",
    )
    assert attach(officer, {"camera_id": "b5-e1", "start": start, "end": iso(now + timedelta(hours=1))}) == (
        422,
        "range_in_future",
    )
    far = {
        "camera_id": "b5-e1",
        "start": iso(now - timedelta(days=3)),
        "end": iso(now - timedelta(days=3) + timedelta(minutes=5)),
    }
    assert attach(officer, far) == (403, "outside_incident_window")
    recent = {"camera_id": "b5-e1", "start": start, "end": iso(now - timedelta(minutes=20))}
    assert attach(officer, {**recent, "event_id": 424242}) == (422, "event_not_found")
    assert attach(officer, {**recent, "event_id": 2**63}) == (422, "validation_error")
    with media_station.station.database.session() as session:
        other = open_event(
            session, camera_id="b5-bins", kind="person", zone=None, start_utc=now, score=0.9, detail={}
        )
        other_id = other.id
    assert attach(officer, {**recent, "event_id": other_id}) == (422, "event_of_another_camera")
    assert attach(media_station.login("supervisor"), far) == (422, "no_recording")
    media_station.record("b5-e1", now - timedelta(days=3), count=1)
    supervisor = media_station.login("supervisor")
    assert attach(supervisor, far)[0] == 201
    detail = officer.get(f"/api/complaints/{cid}").json()
    evidence_id = detail["evidence"][0]["id"]
    assert detail["evidence"][0]["may_detach"] is False  # the supervisor's attachment
    refused = officer.delete(f"/api/complaints/{cid}/evidence/{evidence_id}")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "release_needs_supervisor"
    removed = supervisor.request(
        "DELETE", f"/api/complaints/{cid}/evidence/{evidence_id}", json={"reason": "не тот участок"}
    )
    assert removed.status_code == 200 and removed.json()["evidence"] == []
    with media_station.station.database.session() as session:
        assert active_locks(session, now=utcnow()) == []
        detached = session.execute(
            select(AuditEntry.allowed, AuditEntry.username)
            .where(AuditEntry.action == "complaint.evidence_detach")
            .order_by(AuditEntry.id)
        ).all()
    assert [tuple(row) for row in detached] == [(False, "officer"), (True, "supervisor")]
    assert lock_audit(media_station) == [("evidence.lock", None), ("evidence.unlock", None)]


def test_list_filters_and_overdue(media_station: MediaStation) -> None:
    officer = media_station.login("officer")
    now = utcnow()
    register(officer, category="noise", building="5", entrance="1")
    old = register(
        officer,
        category="smoking",
        building=None,
        entrance=None,
        area="парковка",
        received_at=iso(now - timedelta(hours=30)),
        incident_start=iso(now - timedelta(hours=31)),
        incident_end=iso(now - timedelta(hours=30, minutes=30)),
    )["complaint"]
    assert old["overdue"] is True
    assert old["number"] != ""

    def numbers(**params: Any) -> list[str]:
        response = officer.get("/api/complaints", params=params)
        assert response.status_code == 200, response.text
        return [c["number"] for c in response.json()["items"]]

    assert len(numbers()) == 2
    assert numbers(category="smoking") == [old["number"]]
    assert numbers(overdue="true") == [old["number"]]
    assert numbers(area="ПАРКОВКА") == [old["number"]]
    assert len(numbers(status="new")) == 2 and numbers(status="resolved") == []
    recent_number = next(n for n in numbers() if n != old["number"])
    assert numbers(**{"from": iso(now - timedelta(hours=2))}) == [recent_number]
    assert numbers(to=iso(now - timedelta(hours=2))) == [old["number"]]
    window = {"from": iso(now - timedelta(hours=31)), "to": iso(now - timedelta(hours=29))}
    assert numbers(**window) == [old["number"]]
    assert numbers(building="5") == [recent_number] and numbers(entrance="1") == [recent_number]
    assert numbers(building="5", category="smoking") == []
    assert officer.get("/api/complaints", params={"from": "2025-01-01T00:00:00"}).status_code == 422
    options = officer.get("/api/complaints/options").json()
    assert "парковка" in options["places"]["area"] and "5" in options["places"]["building"]
    assert options["transitions"]["new"] == ["in_progress", "rejected"]


def test_edit_fields_and_assignee(media_station: MediaStation) -> None:
    officer = media_station.login("officer")
    complaint = register(officer)["complaint"]
    cid = complaint["id"]
    changed = officer.patch(
        f"/api/complaints/{cid}",
        json={"category": "drinking", "entrance": "2", "note": "уточнено со слов заявителя"},
    )
    assert changed.status_code == 200, changed.text
    detail = changed.json()
    assert detail["complaint"]["category"] == "drinking" and detail["complaint"]["entrance"] == "2"
    assert [h["action"] for h in detail["history"]][-1] == "updated"
    supervisor_id = media_station.user_ids["supervisor"]
    assigned = officer.patch(f"/api/complaints/{cid}", json={"assignee_id": supervisor_id}).json()
    assert assigned["complaint"]["assignee_id"] == supervisor_id
    assert (
        officer.patch(f"/api/complaints/{cid}", json={"assignee_id": 0}).json()["complaint"]["assignee_id"]
        is None
    )
    for bad, code in (
        ({"assignee_id": media_station.user_ids["auditor"]}, "invalid_assignee"),  # does not handle cases
        ({"assignee_id": 99999}, "invalid_assignee"),
        ({"category": None}, "validation_error"),
        ({"incident_start": iso(utcnow() + timedelta(hours=1))}, None),
    ):
        refused = officer.patch(f"/api/complaints/{cid}", json=bad)
        assert refused.status_code == 422, (bad, refused.text)
        if code:
            assert refused.json()["error"]["code"] == code
    assert (
        media_station.login("investigator")
        .patch(f"/api/complaints/{cid}", json={"entrance": "3"})
        .status_code
        == 403
    )
    with media_station.station.database.session() as session:
        audited = session.scalars(
            select(AuditEntry.action).where(AuditEntry.resource_id == complaint["number"])
        ).all()
    assert "complaint.update" in audited and audited.count("complaint.assign") == 2


def test_pages_render(media_station: MediaStation) -> None:
    officer = media_station.login("officer")
    cid = register(officer)["complaint"]["id"]
    assert officer.get("/complaints").status_code == 200
    page = officer.get(f"/complaints/{cid}")
    assert page.status_code == 200 and "complaint.js" in page.text
    assert officer.get("/recordings").status_code == 200
    assert media_station.login("admin").get("/recordings", headers={"accept": "text/html"}).status_code == 403


# Every workflow action with every outcome (and none): what the API must store, or refuse. Written out by
# hand, not derived from console.complaint, so a change to the rules has to change this contract too.
STATUSES = ("new", "in_progress", "resolved", "rejected")
OUTCOMES = (None, "warning_given", "protocol_drawn_up", "referred", "unfounded")
ACCEPTED = {
    ("new", "in_progress", None),  # take into work
    ("new", "rejected", "unfounded"),
    ("new", "rejected", "referred"),
    ("in_progress", "resolved", "warning_given"),
    ("in_progress", "resolved", "protocol_drawn_up"),
    ("in_progress", "resolved", "referred"),
    ("in_progress", "rejected", "unfounded"),
    ("in_progress", "rejected", "referred"),
    ("resolved", "in_progress", None),  # reopen
    ("rejected", "in_progress", None),  # reopen
}
REFUSALS = ("transition_not_allowed", "invalid_outcome", "outcome_required")
REACH = {  # how a fresh complaint gets to each status
    "new": (),
    "in_progress": ({"status": "in_progress"},),
    "resolved": ({"status": "in_progress"}, {"status": "resolved", "outcome": "warning_given"}),
    "rejected": ({"status": "in_progress"}, {"status": "rejected", "outcome": "referred", "note": "чужой"}),
}


def _complaint_in(client: TestClient, status: str) -> dict[str, Any]:
    detail = register(client)
    cid = detail["complaint"]["id"]
    for step in REACH[status]:
        response = client.post(f"/api/complaints/{cid}/status", json=step)
        assert response.status_code == 200, response.text
        detail = response.json()
    assert detail["complaint"]["status"] == status
    return detail


@pytest.mark.parametrize("source", STATUSES)
def test_every_workflow_action_stores_exactly_the_outcome_sent_or_refuses(
    media_station: MediaStation, source: str
) -> None:
    """An official record holds the outcome the officer chose, or the request is refused with a message:
    the API never closes with another outcome than the one sent."""
    officer = media_station.login("officer")
    for target in STATUSES:
        for outcome in OUTCOMES:
            before = _complaint_in(officer, source)["complaint"]
            cid = before["id"]
            body: dict[str, Any] = {"status": target, "note": "проверено на месте"}
            if outcome is not None:
                body["outcome"] = outcome
            reply = officer.post(f"/api/complaints/{cid}/status", json=body)
            stored = officer.get(f"/api/complaints/{cid}").json()["complaint"]
            case = f"{source} -> {target} with {outcome}: {reply.status_code} {reply.text[:300]}"
            if (source, target, outcome) in ACCEPTED:
                assert reply.status_code == 200, case
                assert reply.json()["complaint"]["outcome"] == outcome, case
                assert (stored["status"], stored["outcome"]) == (target, outcome), case
            else:
                assert reply.status_code in (409, 422), case
                error = reply.json()["error"]
                assert error["code"] in ("transition_not_allowed", "invalid_outcome", "outcome_required"), (
                    case
                )
                assert error["message"], case
                assert (stored["status"], stored["outcome"]) == (before["status"], before["outcome"]), case


def test_resolving_as_unfounded_is_refused_with_a_message_naming_the_outcomes(
    media_station: MediaStation,
) -> None:
    officer = media_station.login("officer")
    cid = _complaint_in(officer, "in_progress")["complaint"]["id"]
    reply = officer.post(
        f"/api/complaints/{cid}/status",
        json={"status": "resolved", "outcome": "unfounded"},
        headers={"Accept-Language": "ru"},
    )
    assert reply.status_code == 422, reply.text
    error = reply.json()["error"]
    assert error["code"] == "invalid_outcome"
    assert error["message"] == (
        "Результат для статуса «Решено» должен быть одним из: "
        "Составлен протокол, Передано по подведомственности, Вынесено предупреждение"
    )
    stored = officer.get(f"/api/complaints/{cid}").json()["complaint"]
    assert (stored["status"], stored["outcome"]) == ("in_progress", None)


def test_options_offer_each_closing_action_exactly_the_outcomes_it_accepts(
    media_station: MediaStation,
) -> None:
    """The page enables a closing button only for the outcomes listed here: the ones the API takes."""
    options = media_station.login("officer").get("/api/complaints/options").json()
    for target in ("resolved", "rejected"):
        accepted = {o for s, t, o in ACCEPTED if s == "in_progress" and t == target}
        assert set(options["outcomes"][target]) == accepted
