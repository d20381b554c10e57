"""Recordings API: timeline spans/gaps on real segment rows, playback of real MP4 bytes (Range too)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import av
import pytest
from sqlalchemy import select

from storage.gap import add_gap
from storage.model import AuditEntry, GapReason, utcnow
from tests.support.station_media import MediaStation

pytestmark = pytest.mark.timeout(120)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value)


def test_timeline_merges_segments_and_explains_gaps(media_station: MediaStation) -> None:
    start = (utcnow() - timedelta(minutes=20)).replace(microsecond=0)
    files = media_station.record("b5-e1", start, count=5, skip=(2,))  # 2 s each: [0,4) hole [4,6) [6,10)
    with media_station.station.database.session() as session:
        add_gap(
            session,
            camera_id="b5-e1",
            start_utc=start + timedelta(seconds=4),
            end_utc=start + timedelta(seconds=6),
            reason=GapReason.CAMERA_UNREACHABLE,
        )
    investigator = media_station.login("investigator")
    response = investigator.get(
        "/api/recordings/timeline",
        params={
            "camera": "b5-e1",
            "start": iso(start - timedelta(seconds=10)),
            "end": iso(start + timedelta(minutes=1)),
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    spans = [(parse(s["start"]), parse(s["end"]), s["segments"]) for s in body["spans"]]
    assert spans == [
        (files[0].start_utc, files[1].end_utc, 2),
        (files[2].start_utc, files[3].end_utc, 2),
    ]
    gaps = [(parse(g["start"]), parse(g["end"]), g["reasons"]) for g in body["gaps"]]
    assert gaps[0] == (start - timedelta(seconds=10), start, [])
    assert gaps[1] == (files[1].end_utc, files[2].start_utc, ["camera_unreachable"])
    assert gaps[2][0] == files[3].end_utc and gaps[2][1] == start + timedelta(minutes=1)
    assert body["recorded_s"] == pytest.approx(8.0)
    assert body["events"] == []


def test_timeline_rejects_bad_ranges_and_unknown_cameras(media_station: MediaStation) -> None:
    investigator = media_station.login("investigator")
    now = utcnow()

    def code(**params: str) -> tuple[int, str]:
        response = investigator.get("/api/recordings/timeline", params=params)
        return response.status_code, response.json().get("error", {}).get("code", "")

    assert code(camera="b5-e1", start=iso(now), end=iso(now - timedelta(hours=1))) == (422, "invalid_range")
    assert code(camera="b5-e1", start=iso(now - timedelta(days=90)), end=iso(now)) == (422, "range_too_long")
    assert code(camera="../../etc", start=iso(now - timedelta(hours=1)), end=iso(now)) == (
        422,
        "unknown_camera",
    )
    assert code(camera="b5-e1", start="2025-01-01T00:00:00", end=iso(now))[0] == 422


def open_view(client: Any, camera: str, start: datetime, end: datetime, **extra: str) -> Any:
    return client.post(
        "/api/recordings/views", json={"camera": camera, "start": iso(start), "end": iso(end), **extra}
    )


def test_playback_serves_real_mp4_with_range_and_audits_the_view(media_station: MediaStation) -> None:
    start = (utcnow() - timedelta(minutes=20)).replace(microsecond=0)
    files = media_station.record("b5-e1", start, count=2)
    investigator = media_station.login("investigator")
    view = open_view(investigator, "b5-e1", start, start + timedelta(seconds=4))
    assert view.status_code == 201, view.text
    body = view.json()
    assert [parse(s["start"]) for s in body["segments"]] == [f.start_utc for f in files]
    url = body["segments"][0]["url"]
    whole = investigator.get(url)
    assert whole.status_code == 200 and whole.headers["content-type"] == "video/mp4"
    assert whole.content == files[0].path.read_bytes()
    assert whole.headers["accept-ranges"] == "bytes"
    with av.open(io.BytesIO(whole.content), "r") as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        frames = len(list(container.decode(stream)))
    assert frames == files[0].frames
    part = investigator.get(url, headers={"Range": "bytes=0-99"})
    assert part.status_code == 206 and part.content == whole.content[:100]
    assert part.headers["content-range"] == f"bytes 0-99/{len(whole.content)}"
    tail = investigator.get(url, headers={"Range": f"bytes={len(whole.content) - 10}-"})
    assert tail.status_code == 206 and tail.content == whole.content[-10:]
    thumbnail = investigator.get(body["segments"][0]["thumbnail_url"])
    assert thumbnail.status_code == 200 and thumbnail.content[:2] == b"\xff\xd8"
    assert investigator.get(body["segments"][0]["thumbnail_url"]).content == thumbnail.content  # cached
    with media_station.station.database.session() as session:
        entry = session.get(AuditEntry, body["view_id"])
        assert entry is not None and entry.action == "recording.view" and entry.resource_id == "b5-e1"
        views = session.scalars(select(AuditEntry).where(AuditEntry.action == "recording.view")).all()
    assert len(views) == 1  # segment and thumbnail fetches ride on the audited view


def test_segment_fetch_needs_a_fitting_view_of_the_same_user(media_station: MediaStation) -> None:
    start = (utcnow() - timedelta(minutes=20)).replace(microsecond=0)
    media_station.record("b5-e1", start, count=3)
    media_station.record("parking", start, count=1)
    investigator = media_station.login("investigator")
    supervisor = media_station.login("supervisor")
    body = open_view(investigator, "b5-e1", start, start + timedelta(seconds=2)).json()
    ids = media_station.segment_ids("b5-e1")
    view_id = body["view_id"]
    assert investigator.get(f"/api/recordings/segments/{ids[0]}?view={view_id}").status_code == 200
    assert supervisor.get(f"/api/recordings/segments/{ids[0]}?view={view_id}").status_code == 403  # not yours
    assert investigator.get(f"/api/recordings/segments/{ids[2]}?view={view_id}").status_code == 403  # outside
    parking = media_station.segment_ids("parking")[0]
    assert investigator.get(f"/api/recordings/segments/{parking}?view={view_id}").status_code == 403  # camera
    assert investigator.get(f"/api/recordings/segments/999999?view={view_id}").status_code == 404
    assert investigator.get(f"/api/recordings/segments/{ids[0]}").status_code == 422  # no view
    assert investigator.get(f"/api/recordings/segments/..%2F..%2Fetc?view={view_id}").status_code in (
        404,
        422,
    )


def test_old_footage_needs_a_reason_or_a_complaint_number(media_station: MediaStation) -> None:
    start = (utcnow() - timedelta(days=3)).replace(microsecond=0)
    media_station.record("b5-e1", start, count=1)
    investigator = media_station.login("investigator")
    end = start + timedelta(seconds=2)
    refused = open_view(investigator, "b5-e1", start, end)
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "reason_required"
    unknown = open_view(investigator, "b5-e1", start, end, complaint="2099-999999")
    assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "unknown_complaint"
    allowed = open_view(investigator, "b5-e1", start, end, reason="запрос следователя №17")
    assert allowed.status_code == 201
    with media_station.station.database.session() as session:
        entry = session.get(AuditEntry, allowed.json()["view_id"])
        assert entry is not None and entry.reason == "запрос следователя №17"
        denied = session.scalars(select(AuditEntry).where(AuditEntry.action == "media.denied")).all()
    assert len(denied) == 2
    recent = (utcnow() - timedelta(minutes=5)).replace(microsecond=0)
    assert open_view(investigator, "b5-e1", recent, recent + timedelta(seconds=2)).status_code == 201
