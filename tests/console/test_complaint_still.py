"""Stills attached to a complaint (issue 25, player): the frame a camera's recording shows at an instant,
extracted on the station with PyAV from real recorded segments, stored with its SHA-256, listed on the
complaint and audited; refusals translated; who may attach follows the rules for attaching footage
(officers around the incident and within their playback horizon, older footage by a supervisor).
"""

from __future__ import annotations

import hashlib
import io
import json
from datetime import datetime, timedelta
from typing import Any

import av
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from storage.model import AuditEntry, utcnow
from tests.console.test_complaint_api import iso, register
from tests.support.segments import read_frame_mark
from tests.support.station_media import MediaStation

pytestmark = pytest.mark.timeout(120)


def still(client: TestClient, cid: int, at: str, camera: str = "b5-e1", **headers: str) -> Any:
    return client.post(f"/api/complaints/{cid}/stills", json={"camera_id": camera, "at": at}, headers=headers)


def error_of(response: Any) -> tuple[int, str, str]:
    body = response.json()["error"]
    return response.status_code, body["code"], body["message"]


def audit_rows(media: MediaStation, action: str) -> list[tuple[bool, str | None, dict[str, Any]]]:
    with media.station.database.session() as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id))
        return [(row.allowed, row.username, json.loads(row.detail or "{}")) for row in rows]


def test_a_still_is_the_recorded_frame_with_its_hash_listed_and_audited(media_station: MediaStation) -> None:
    now = utcnow()
    start = now - timedelta(minutes=26)
    files = media_station.record("b5-e1", start, count=2)
    officer = media_station.login("officer")
    cid = register(officer)["complaint"]["id"]
    # 1.02 s into the second file: frame 25 of it (25 fps) shows from 1.00 s to 1.04 s
    at = files[1].start_utc + timedelta(seconds=1.02)
    response = still(officer, cid, iso(at))
    assert response.status_code == 201, response.text
    made = response.json()
    frame_at = datetime.fromisoformat(made["frame_at"])
    assert abs((frame_at - (files[1].start_utc + timedelta(seconds=1.0))).total_seconds()) < 1e-3
    assert (made["width"], made["height"], made["source_sha256"]) == (640, 360, files[1].sha256)

    image = officer.get(made["url"])
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
    assert hashlib.sha256(image.content).hexdigest() == made["sha256"] == image.headers["x-content-sha256"]
    with av.open(io.BytesIO(image.content), mode="r") as container:
        frame = next(container.decode(video=0))
    assert read_frame_mark(frame) == files[1].first_frame + 25

    detail = officer.get(f"/api/complaints/{cid}").json()
    assert [(s["id"], s["sha256"], s["camera_id"]) for s in detail["stills"]] == [
        (made["id"], made["sha256"], "b5-e1")
    ]
    assert detail["history"][-1]["action"] == "still_attached"
    assert detail["history"][-1]["detail"]["sha256"] == made["sha256"]
    [(allowed, user, audited)] = audit_rows(media_station, "complaint.still_attach")
    assert (allowed, user, audited["sha256"], audited["source_sha256"]) == (
        True,
        "officer",
        made["sha256"],
        files[1].sha256,
    )
    assert [row[0] for row in audit_rows(media_station, "complaint.still_view")] == [True]
    # those who work complaints or see recordings get the picture; an auditor sees the hash only
    assert media_station.login("investigator").get(made["url"]).status_code == 200
    assert media_station.login("auditor").get(made["url"]).status_code == 403
    assert officer.get(f"/api/complaints/{cid}/stills/999").status_code == 404


def test_a_still_refused_for_a_bad_time_or_no_footage_says_why_in_the_users_language(
    media_station: MediaStation,
) -> None:
    now = utcnow()
    media_station.record("b5-e1", now - timedelta(minutes=26), count=1)
    officer = media_station.login("officer")
    cid = register(officer)["complaint"]["id"]
    ru = {"Accept-Language": "ru"}
    status, code, message = error_of(still(officer, cid, iso(now + timedelta(minutes=5)), **ru))
    assert (status, code) == (422, "still_in_future")
    assert message == "Записи на это время ещё нет: оно в будущем"
    status, code, message = error_of(still(officer, cid, iso(now - timedelta(minutes=22)), **ru))
    assert (status, code) == (422, "no_recording_at")
    assert message == "Камера b5-e1 ничего не записала в это время: кадра для прикрепления нет"
    kk = error_of(still(officer, cid, iso(now - timedelta(minutes=22)), **{"Accept-Language": "kk"}))
    assert kk[1] == "no_recording_at" and "b5-e1" in kk[2] and kk[2] != message
    assert still(officer, cid, "вчера").status_code == 422
    assert error_of(still(officer, cid, iso(now - timedelta(minutes=26)), camera="nope"))[:2] == (
        422,
        "unknown_camera",
    )
    assert officer.post(f"/api/complaints/{cid}/stills", json={"camera_id": "b5-e1"}).status_code == 422
    assert audit_rows(media_station, "complaint.still_attach") == []


def test_who_may_attach_a_still_follows_the_attach_rules(media_station: MediaStation) -> None:
    now = utcnow()
    old = now - timedelta(days=10)
    media_station.record("b5-e1", old, count=1)
    media_station.record("b5-e1", now - timedelta(minutes=26), count=1)
    recent_at = iso(now - timedelta(minutes=26) + timedelta(seconds=0.5))
    old_at = iso(old + timedelta(seconds=0.5))
    officer = media_station.login("officer")
    cid = register(officer)["complaint"]["id"]
    # an investigator sees recordings but does not work complaints; an auditor neither
    assert still(media_station.login("investigator"), cid, recent_at).status_code == 403
    assert still(media_station.login("auditor"), cid, recent_at).status_code == 403
    # officers: only around the reported incident (the window is now-30 .. now-20 min, margin 1 h) ...
    far = register(
        officer,
        incident_start=iso(now - timedelta(hours=5)),
        incident_end=iso(now - timedelta(hours=4, minutes=50)),
    )["complaint"]["id"]
    assert error_of(still(officer, far, recent_at))[:2] == (403, "outside_incident_window")
    # ... and not older than their own playback horizon (7 days here), even on a complaint dated back
    backdated = register(
        officer, incident_start=iso(old - timedelta(minutes=5)), incident_end=iso(old + timedelta(minutes=5))
    )["complaint"]["id"]
    assert error_of(still(officer, backdated, old_at))[:2] == (403, "attach_needs_supervisor")
    refusals = audit_rows(media_station, "complaint.still_attach")
    assert [(allowed, user, detail["code"]) for allowed, user, detail in refusals] == [
        (False, "officer", "outside_incident_window"),
        (False, "officer", "attach_needs_supervisor"),
    ]
    # a supervisor attaches the old frame; the officer the recent one
    assert still(media_station.login("supervisor"), backdated, old_at).status_code == 201
    assert still(officer, cid, recent_at).status_code == 201
    # a closed complaint takes no more stills
    closed = officer.post(f"/api/complaints/{cid}/status", json={"status": "in_progress"})
    assert closed.status_code == 200, closed.text
    closed = officer.post(
        f"/api/complaints/{cid}/status",
        json={"status": "rejected", "outcome": "unfounded", "note": "не подтвердилось"},
    )
    assert closed.status_code == 200, closed.text
    assert error_of(still(officer, cid, recent_at))[:2] == (409, "complaint_closed")
