"""Every 403 is on record: a segment fetched under another user's playback view, a refused page."""

from __future__ import annotations

import json
from datetime import UTC, timedelta

import pytest
from fastapi import Request
from sqlalchemy import select
from starlette.exceptions import HTTPException

from console.denial_audit import denial_row, needs_denial_row
from console.error import ApiError
from storage.model import AuditEntry, utcnow
from tests.support.station_media import MediaStation

pytestmark = pytest.mark.timeout(120)


def _request(path: str, query: str = "") -> Request:
    return Request(
        {"type": "http", "method": "GET", "path": path, "query_string": query.encode(), "headers": []}
    )


def test_the_row_names_the_route_the_code_and_the_query() -> None:
    row = denial_row(
        _request("/api/recordings/segments/5", "view=12"), ApiError(403, "invalid_view", "x"), "1.2.3.4"
    )
    assert row["resource_id"] == "GET /api/recordings/segments/5" and row["reason"] == "invalid_view"
    assert row["detail"] == {"query": "view=12"} and row["source"] == "1.2.3.4" and row["allowed"] is False
    assert denial_row(_request("/x"), HTTPException(403), "a")["reason"] == "forbidden"
    assert (
        needs_denial_row(403, False) and not needs_denial_row(403, True) and not needs_denial_row(404, False)
    )


def test_a_segment_fetched_with_another_users_view_is_audited(media_station: MediaStation) -> None:
    start = (utcnow() - timedelta(minutes=20)).replace(microsecond=0)
    media_station.record("b5-e1", start, count=2)
    investigator = media_station.login("investigator")
    supervisor = media_station.login("supervisor")
    body = investigator.post(
        "/api/recordings/views",
        json={
            "camera": "b5-e1",
            "start": start.astimezone(UTC).isoformat(),
            "end": (start + timedelta(seconds=2)).astimezone(UTC).isoformat(),
        },
    ).json()
    segment_id = media_station.segment_ids("b5-e1")[0]
    fetched = supervisor.get(f"/api/recordings/segments/{segment_id}?view={body['view_id']}")
    assert fetched.status_code == 403
    with media_station.station.database.session() as session:
        [row] = session.scalars(select(AuditEntry).where(AuditEntry.action == "access.denied")).all()
        assert row.username == "supervisor" and row.reason == "invalid_view" and not row.allowed
        assert row.resource_id == f"GET /api/recordings/segments/{segment_id}"
        assert json.loads(row.detail or "{}") == {"query": f"view={body['view_id']}"}
