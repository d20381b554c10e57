"""The camera form's pure decisions: which URLs the console accepts, and which password a saved URL gets
(a typed one, one written into the URL, or the stored one kept when the form sends ``***`` or none), and
when the password typed once also serves the sub-stream address."""

from __future__ import annotations

import pytest

from config.schema import CameraConfig
from console.camera_form import (
    CameraChange,
    CameraCreate,
    LocationForm,
    audit_view,
    camera_changes,
    camera_entry,
    check_stream_url,
    merge_password,
    sub_stream_password,
)
from console.field_error import FieldProblemError

STORED = "rtsp://admin:p%40ss-1@10.0.0.5:554/stream1"


@pytest.mark.parametrize(
    ("submitted", "typed", "stored", "saved"),
    [
        ("rtsp://admin:***@10.0.0.5:554/stream1", None, STORED, STORED),  # shown redacted, sent back
        ("rtsp://admin@10.0.0.5:554/stream1", None, STORED, STORED),  # the password left out
        (
            "rtsp://admin:***@10.0.0.9/stream1",
            None,
            STORED,
            "rtsp://admin:p%40ss-1@10.0.0.9/stream1",
        ),  # moved
        (
            "rtsp://admin:***@10.0.0.5:554/stream1",
            "n3w:pw",
            STORED,
            "rtsp://admin:n3w%3Apw@10.0.0.5:554/stream1",
        ),
        (
            "rtsp://admin:inline@10.0.0.5/x",
            None,
            STORED,
            "rtsp://admin:inline@10.0.0.5/x",
        ),  # written in the URL
        ("rtsp://10.0.0.5/x", None, STORED, "rtsp://10.0.0.5/x"),  # no user: no credentials at all
        ("rtsp://viewer@10.0.0.5/x", "pw", None, "rtsp://viewer:pw@10.0.0.5/x"),  # a new camera
        ("rtsp://viewer:***@10.0.0.5/x", None, None, "rtsp://viewer@10.0.0.5/x"),  # nothing stored to keep
    ],
)
def test_merge_password(submitted: str, typed: str | None, stored: str | None, saved: str) -> None:
    assert merge_password("url", submitted, typed, stored) == saved


def test_a_password_needs_a_user_name() -> None:
    with pytest.raises(FieldProblemError) as raised:
        merge_password("url", "rtsp://10.0.0.5/x", "pw", None)
    assert raised.value.field == "url" and "user name" in str(raised.value.message)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://10.0.0.5/x", "must start with rtsp://"),
        ("file:///etc/passwd", "must start with rtsp://"),
        ("10.0.0.5/x", "must start with rtsp://"),
        ("rtsp:///x", "no camera host"),
        ("rtsp://10.0.0.5:99999/x", "invalid port"),
        ("rtsp://10.0.0.5/a b", "spaces"),
    ],
)
def test_urls_the_console_refuses(url: str, problem: str) -> None:
    with pytest.raises(FieldProblemError) as raised:
        check_stream_url("url", url)
    assert problem in str(raised.value.message)


@pytest.mark.parametrize(
    "url", ["rtsp://10.0.0.5/x", "RTSPS://user@cam.local:322/live", "rtsp://[::1]:554/x"]
)
def test_urls_the_console_accepts(url: str) -> None:
    check_stream_url("url", url)


def test_a_new_camera_is_written_without_defaults() -> None:
    form = CameraCreate(
        id="yard", name="Двор", url="rtsp://x/y", location=LocationForm(area="двор", floor=""), enabled=True
    )
    assert camera_entry(form, "rtsp://u:p@x/y", None) == {
        "id": "yard",
        "name": "Двор",
        "url": "rtsp://u:p@x/y",
        "location": {"area": "двор"},
    }


def test_an_edit_sets_only_what_the_form_sent() -> None:
    form = CameraChange(enabled=False, sub_url="", location=LocationForm(building="5"))
    assert camera_changes(form, None, None) == {
        "sub_url": None,
        "enabled": False,
        "location": {"building": "5", "entrance": None, "floor": None, "area": None},
    }


def test_the_audit_view_holds_no_password() -> None:
    camera = CameraConfig(id="gate", name="Ворота", url=STORED, sub_url="rtsp://admin:sub-pw@10.0.0.5/sub")
    view = audit_view(camera)
    assert view is not None and "p%40ss-1" not in str(view) and "sub-pw" not in str(view)
    assert view["url"] == "rtsp://admin:***@10.0.0.5:554/stream1"


@pytest.mark.parametrize(
    ("sub_url", "typed", "used"),
    [
        ("rtsp://admin@10.0.0.5/sub", "new-pw", "new-pw"),  # the same account, no password of its own
        ("rtsp://admin:***@10.0.0.5/sub", "new-pw", "new-pw"),  # shown redacted: the new password too
        ("rtsp://admin:own@10.0.0.5/sub", "new-pw", None),  # its own password stays
        ("rtsp://10.0.0.5/sub", "new-pw", None),  # no user: no password
        ("rtsp://admin@10.0.0.5/sub", None, None),  # nothing typed
        ("rtsp://admin@10.0.0.5/sub", "", None),
    ],
)
def test_the_typed_password_serves_the_sub_stream(sub_url: str, typed: str | None, used: str | None) -> None:
    assert sub_stream_password(sub_url, typed) == used
