"""A route's database work is committed before its answer is sent: a client that got "done" finds it done,
and a commit that fails is an error answer, never a success the database does not hold."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from console.deps import SessionDep
from storage.model import Camera


def test_a_commit_that_fails_is_an_error_answer_not_a_success(console_app: FastAPI) -> None:
    def duplicate_camera(session: SessionDep) -> dict[str, str]:
        session.add(Camera(id="entrance-1", name="twice"))  # the id exists: the commit fails
        return {"status": "saved"}

    console_app.add_api_route("/probe/duplicate-camera", duplicate_camera, methods=["POST"])
    with TestClient(console_app, base_url="http://testserver", raise_server_exceptions=False) as client:
        answer = client.post("/probe/duplicate-camera")
    assert answer.status_code == 500, answer.text
    assert "saved" not in answer.text


def test_a_committed_write_is_visible_as_soon_as_the_answer_arrives(console_app: FastAPI) -> None:
    def add_camera(session: SessionDep) -> dict[str, str]:
        session.add(Camera(id="probe-cam", name="probe"))
        return {"status": "saved"}

    console_app.add_api_route("/probe/add-camera", add_camera, methods=["POST"])
    with TestClient(console_app, base_url="http://testserver") as client:
        assert client.post("/probe/add-camera").json() == {"status": "saved"}
        station = client.app.state.station  # type: ignore[attr-defined]
        with station.database.session() as session:
            assert session.get(Camera, "probe-cam") is not None
