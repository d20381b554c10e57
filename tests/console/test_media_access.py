"""Media access: the pure decision as a table, and every media path walked for every role and case.

Adding a media path (live view, snapshot, clip, export package...): append a :class:`MediaPath` to
``MEDIA_PATHS`` whose ``call`` performs the request for the case's camera and range and returns the HTTP
status; the matrix then checks it for every role against ``EXPECTED``. Paths that are live-only can set
``live=True`` (then only the ``recent`` case applies and the live rule is expected).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from console.media_access import MediaPolicy, MediaPurpose, MediaRequest, decide_media_access
from console.permission import Permission, permissions_for
from storage.model import AuditEntry, Role, utcnow
from tests.support.station_media import MediaStation

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
POLICY = MediaPolicy(officer_recording_days=7, reason_required_after_days=1)


def request(
    days_ago: float,
    purpose: MediaPurpose = MediaPurpose.PLAYBACK,
    *,
    reason: str | None = None,
    complaint: str | None = None,
    minutes: int = 5,
) -> MediaRequest:
    start = NOW - timedelta(days=days_ago)
    return MediaRequest(
        camera_id="cam",
        start_utc=start,
        end_utc=start + timedelta(minutes=minutes),
        purpose=purpose,
        reason=reason,
        complaint_number=complaint,
    )


@pytest.mark.parametrize(
    ("role", "req", "attached", "known", "expected"),
    [
        (Role.INVESTIGATOR, request(0.1), (), None, "ok"),
        (Role.INVESTIGATOR, request(30), (), None, "reason_required"),
        (Role.INVESTIGATOR, request(30, reason="case 17"), (), None, "ok"),
        (Role.INVESTIGATOR, request(30, reason="  "), (), None, "reason_required"),
        (Role.INVESTIGATOR, request(30, complaint="2026-000001"), (), True, "ok"),
        (Role.INVESTIGATOR, request(30, complaint="2026-999999"), (), False, "unknown_complaint"),
        (Role.INVESTIGATOR, request(0.1, MediaPurpose.EXPORT), (), None, "reason_required"),
        (Role.INVESTIGATOR, request(0.1, MediaPurpose.EXPORT, reason="court"), (), None, "ok"),
        (Role.INVESTIGATOR, request(0.1, MediaPurpose.LIVE), (), None, "media_forbidden"),
        (Role.INVESTIGATOR, request(30, MediaPurpose.TIMELINE), (), None, "ok"),
        (Role.SUPERVISOR, request(300, reason="audit"), (), None, "ok"),
        (Role.SUPERVISOR, request(0, MediaPurpose.LIVE), (), None, "ok"),
        (Role.OFFICER, request(0.5), (), None, "ok"),
        (Role.OFFICER, request(3), (), None, "reason_required"),
        (Role.OFFICER, request(3, reason="complaint by phone"), (), None, "ok"),
        (Role.OFFICER, request(8, reason="x y z"), (), None, "outside_officer_window"),
        (Role.OFFICER, request(8, MediaPurpose.TIMELINE), (), None, "outside_officer_window"),
        (
            Role.OFFICER,
            request(8, complaint="2026-000001"),
            (
                (NOW - timedelta(days=8, minutes=1), NOW - timedelta(days=8) + timedelta(minutes=2)),
                (
                    NOW - timedelta(days=8) + timedelta(minutes=2),
                    NOW - timedelta(days=8) + timedelta(minutes=9),
                ),
            ),
            True,
            "ok",
        ),
        (
            Role.OFFICER,
            request(8, reason="abc"),
            ((NOW - timedelta(days=8), NOW - timedelta(days=8) + timedelta(minutes=4)),),
            None,
            "outside_officer_window",
        ),
        (Role.OFFICER, request(0.1, MediaPurpose.EXPORT, reason="court"), (), None, "media_forbidden"),
        (Role.OFFICER, request(0, MediaPurpose.SNAPSHOT), (), None, "ok"),
        (Role.ADMIN, request(0.1), (), None, "media_forbidden"),
        (Role.ADMIN, request(0, MediaPurpose.LIVE), (), None, "media_forbidden"),
        (Role.AUDITOR, request(0.1, MediaPurpose.TIMELINE), (), None, "media_forbidden"),
    ],
)
def test_decision_table(
    role: Role,
    req: MediaRequest,
    attached: tuple[tuple[datetime, datetime], ...],
    known: bool | None,
    expected: str,
) -> None:
    decision = decide_media_access(
        permissions=permissions_for(role),
        request=req,
        policy=POLICY,
        now=NOW,
        attached=attached,
        complaint_known=known,
    )
    assert decision.code == expected, decision.message
    assert decision.allowed is (expected == "ok")


# --- every media path, every role --------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    camera: str
    start: datetime
    end: datetime
    complaint_id: int | None = None  # a complaint with exactly this range attached


@dataclass(frozen=True)
class MediaPath:
    name: str
    call: Callable[[MediaStation, TestClient, Case], int]
    live: bool = False
    cases: frozenset[str] = frozenset({"recent", "old", "attached"})


REASON = "проверка по запросу"


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _timeline(media: MediaStation, client: TestClient, case: Case) -> int:
    params = {"camera": case.camera, "start": _iso(case.start), "end": _iso(case.end)}
    return int(client.get("/api/recordings/timeline", params=params).status_code)


def _view(media: MediaStation, client: TestClient, case: Case) -> int:
    body = {"camera": case.camera, "start": _iso(case.start), "end": _iso(case.end), "reason": REASON}
    return int(client.post("/api/recordings/views", json=body).status_code)


def _view_of(media: MediaStation, client: TestClient, case: Case) -> tuple[int, int]:
    """A view id this client may use for the case (its own if allowed, else the investigator's)."""
    body = {"camera": case.camera, "start": _iso(case.start), "end": _iso(case.end), "reason": REASON}
    own = client.post("/api/recordings/views", json=body)
    if own.status_code == 201:
        return int(own.json()["view_id"]), int(own.json()["segments"][0]["id"])
    other = media.login("investigator").post("/api/recordings/views", json=body).json()
    return int(other["view_id"]), int(other["segments"][0]["id"])


def _segment(media: MediaStation, client: TestClient, case: Case) -> int:
    view_id, segment_id = _view_of(media, client, case)
    response = client.get(
        f"/api/recordings/segments/{segment_id}?view={view_id}", headers={"Range": "bytes=0-9"}
    )
    return int(response.status_code)


def _thumbnail(media: MediaStation, client: TestClient, case: Case) -> int:
    view_id, segment_id = _view_of(media, client, case)
    return int(client.get(f"/api/recordings/segments/{segment_id}/thumbnail?view={view_id}").status_code)


def _snapshot(media: MediaStation, client: TestClient, case: Case) -> int:
    return int(client.get(f"/api/live/cameras/{case.camera}/snapshot.jpg").status_code)


def _live_offer(media: MediaStation, client: TestClient, case: Case) -> int:
    body = {"camera_id": case.camera, "sdp": "v=0\r\nnot a real offer", "type": "offer"}
    return int(client.post("/api/live/offer", json=body).status_code)


def _export(media: MediaStation, client: TestClient, case: Case) -> int:
    response = client.post(f"/api/complaints/{case.complaint_id}/export", json={"reason": REASON})
    if response.status_code != 201:
        return int(response.status_code)
    return int(client.get(response.json()["download_url"]).status_code)


def _range_export(media: MediaStation, client: TestClient, case: Case) -> int:
    body = {"cameras": [case.camera], "start": _iso(case.start), "end": _iso(case.end), "reason": REASON}
    response = client.post("/api/exports", json=body)
    if response.status_code != 201:
        return int(response.status_code)
    return int(client.get(response.json()["download_url"]).status_code)


MEDIA_PATHS: list[MediaPath] = [
    MediaPath("timeline", _timeline),
    MediaPath("playback view", _view),
    MediaPath("segment file", _segment),
    MediaPath("thumbnail", _thumbnail),
    # attaching "old" footage would make it "attached": the export path runs on complaints' ranges only
    MediaPath("evidence package", _export, cases=frozenset({"recent", "attached"})),
    MediaPath("range export", _range_export),
    # live paths: the media station's cameras are disabled (no ingest), so an allowed request gets as far as
    # "not streaming" (404), "no picture yet" (503) or "bad offer" (400); refused roles get 403 first
    MediaPath("live snapshot", _snapshot, live=True),
    MediaPath("live offer", _live_offer, live=True),
]
LIVE_ROLES = {"officer", "supervisor"}
# what exporting needs beyond seeing the footage
EXPORT_ROLES = {"investigator", "supervisor"}
EXPORT_PATHS = {"evidence package", "range export"}
# role -> case -> allowed
EXPECTED: dict[str, dict[str, bool]] = {
    "officer": {"recent": True, "old": False, "attached": True},
    "investigator": {"recent": True, "old": True, "attached": True},
    "supervisor": {"recent": True, "old": True, "attached": True},
    "admin": {"recent": False, "old": False, "attached": False},
    "auditor": {"recent": False, "old": False, "attached": False},
}


@pytest.mark.timeout(180)
def test_an_export_refused_for_a_missing_reason_is_audited_for_every_camera(
    media_station: MediaStation,
) -> None:
    start = utcnow().replace(microsecond=0) - timedelta(minutes=30)
    for camera in ("b5-e1", "b5-bins"):
        media_station.record(camera, start, count=1)
    investigator = media_station.login("investigator")
    body = {"cameras": ["b5-e1", "b5-bins"], "start": _iso(start), "end": _iso(start + timedelta(seconds=2))}
    refused = investigator.post("/api/exports", json=body)
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "reason_required", refused.text
    with media_station.station.database.session() as session:
        denied = session.scalars(select(AuditEntry).where(AuditEntry.action == "media.denied")).all()
        assert sorted(str(row.resource_id) for row in denied) == ["b5-bins", "b5-e1"]


def test_every_media_path_for_every_role(media_station: MediaStation) -> None:
    now = utcnow().replace(microsecond=0)
    recent = now - timedelta(minutes=30)
    old = now - timedelta(days=10)
    attached = now - timedelta(days=12)
    media_station.record("b5-e1", recent, count=1)
    media_station.record("b5-e1", old, count=1)
    media_station.record("b5-e1", attached, count=1)
    supervisor = media_station.login("supervisor")

    def complaint_with(start: datetime) -> int:
        created = supervisor.post(
            "/api/complaints",
            json={
                "received_at": _iso(start + timedelta(minutes=5)),
                "channel": "walk_in",
                "category": "vandalism",
                "building": "5",
                "entrance": "1",
                "incident_start": _iso(start),
                "incident_end": _iso(start + timedelta(seconds=2)),
            },
        )
        assert created.status_code == 201, created.text
        cid: int = created.json()["complaint"]["id"]
        attach = supervisor.post(
            f"/api/complaints/{cid}/evidence",
            json={"camera_id": "b5-e1", "start": _iso(start), "end": _iso(start + timedelta(seconds=2))},
        )
        assert attach.status_code == 201, attach.text
        return cid

    cases = [
        Case("recent", "b5-e1", recent, recent + timedelta(seconds=2), complaint_with(recent)),
        Case("old", "b5-e1", old, old + timedelta(seconds=2)),
        Case("attached", "b5-e1", attached, attached + timedelta(seconds=2), complaint_with(attached)),
    ]
    clients = {role: media_station.login(role) for role in EXPECTED}
    wrong: list[str] = []
    for path in MEDIA_PATHS:
        for role, client in clients.items():
            for case in cases:
                if case.name not in path.cases or (path.live and case.name != "recent"):
                    continue
                status = path.call(media_station, client, case)
                if path.live:
                    allowed = role in LIVE_ROLES
                    ok = status in (400, 404, 503) if allowed else status == 403
                else:
                    allowed = EXPECTED[role][case.name] and (
                        path.name not in EXPORT_PATHS or role in EXPORT_ROLES
                    )
                    ok = status in (200, 201, 206) if allowed else status == 403
                if not ok:
                    wrong.append(f"{path.name} / {role} / {case.name}: {status} (allowed={allowed})")
    assert not wrong, "\n".join(wrong)


def test_permission_map_still_matches_the_matrix() -> None:
    """The matrix assumes who holds recordings.view and complaints.view; fail loudly if that changes."""
    assert Permission.RECORDINGS_VIEW in permissions_for(Role.INVESTIGATOR)
    assert Permission.RECORDINGS_VIEW not in permissions_for(Role.OFFICER)
    assert Permission.COMPLAINTS_VIEW in permissions_for(Role.OFFICER)
    assert not permissions_for(Role.ADMIN) & {Permission.RECORDINGS_VIEW, Permission.COMPLAINTS_VIEW}
