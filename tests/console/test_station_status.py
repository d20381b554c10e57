"""The station's overall status (pure): what makes it degraded, what only warns."""

from __future__ import annotations

from console.health import CameraHealth, CameraStatus
from console.station_status import StatusLevel, assess_station
from storage.retention import RetentionAlarm, RetentionStatus, early_deletion_message

EARLY = RetentionAlarm("footage_deleted_early", early_deletion_message({"cam-1": 4, "cam-2": 2}))


def camera(camera_id: str, status: CameraStatus, detail: str | None = None) -> CameraHealth:
    return CameraHealth(id=camera_id, name=f"Camera {camera_id}", status=status, detail=detail)


def test_all_recording_is_ok() -> None:
    status = assess_station(
        database_ok=True,
        retention=RetentionStatus(),
        cameras=[camera("cam-1", CameraStatus.ONLINE), camera("yard", CameraStatus.DISABLED)],
        recorder_alarms={},
    )
    assert status.level is StatusLevel.OK and status.reasons == ()


def test_early_deletion_alone_only_warns() -> None:
    # a disk smaller than the retention target: everything is still recorded, so not an outage
    status = assess_station(
        database_ok=True,
        retention=RetentionStatus(alarms=(EARLY,)),
        cameras=[camera("cam-1", CameraStatus.ONLINE), camera("cam-2", CameraStatus.ONLINE)],
        recorder_alarms={},
    )
    assert status.level is StatusLevel.WARNING
    assert [(r.code, r.camera_id) for r in status.reasons] == [("footage_deleted_early", None)]
    assert "6 segment(s) of 2 camera(s)" in status.reasons[0].message


def test_a_real_outage_is_not_hidden_behind_the_standing_warning() -> None:
    status = assess_station(
        database_ok=True,
        retention=RetentionStatus(alarms=(EARLY,)),
        cameras=[
            camera("cam-1", CameraStatus.DEGRADED, "12.0 fps of 25 expected"),
            camera("cam-2", CameraStatus.UNAUTHORIZED, "unauthorized: 401"),
            camera("cam-3", CameraStatus.ONLINE),
        ],
        recorder_alarms={"cam-3": ("disk_too_slow", "disk too slow: 16 MiB waiting")},
    )
    assert status.level is StatusLevel.DEGRADED
    assert [(r.level.value, r.code, r.camera_id) for r in status.reasons] == [
        ("degraded", "camera_unauthorized", "cam-2"),
        ("degraded", "recorder_disk_too_slow", "cam-3"),
        ("warning", "footage_deleted_early", None),
        ("warning", "camera_degraded", "cam-1"),
    ]
    assert status.reasons[0].message == "Camera cam-2 is unauthorized: unauthorized: 401"
    assert (
        status.reasons[1].message
        == "Camera cam-3: recorder alarm disk_too_slow: disk too slow: 16 MiB waiting"
    )
    assert status.reasons[3].message == "Camera cam-1 delivers with trouble: 12.0 fps of 25 expected"


def test_database_retention_stop_and_retention_failures_degrade() -> None:
    status = assess_station(
        database_ok=False,
        retention=RetentionStatus(
            recording_stopped=True,
            alarms=(
                RetentionAlarm("evidence_only_left", "only evidence left", "cam-1"),
                RetentionAlarm("retention_error", "retention pass failed: EIO"),
            ),
        ),
        cameras=[],
        recorder_alarms={},
    )
    assert status.level is StatusLevel.DEGRADED
    assert [r.code for r in status.reasons] == [
        "database_down",
        "recording_stopped",
        "evidence_only_left",
        "retention_error",
    ]
    assert all(r.level is StatusLevel.DEGRADED for r in status.reasons)


def test_cameras_still_connecting_or_disabled_are_no_reason() -> None:
    status = assess_station(
        database_ok=True,
        retention=RetentionStatus(),
        cameras=[
            camera("cam-1", CameraStatus.UNKNOWN),
            camera("cam-2", CameraStatus.CONNECTING),
            camera("yard", CameraStatus.DISABLED, "enabled: false"),
        ],
        recorder_alarms={
            "yard": ("disk_full", None)
        },  # a disabled camera's recorder cannot alarm; ignored if it did
    )
    assert status.level is StatusLevel.OK


def test_a_recorder_error_alarm_is_not_prefixed_twice() -> None:
    status = assess_station(
        database_ok=True,
        retention=RetentionStatus(),
        cameras=[camera("cam-1", CameraStatus.ONLINE)],
        recorder_alarms={"cam-1": ("recorder_error", None)},
    )
    assert [(r.code, r.message) for r in status.reasons] == [
        ("recorder_error", "Camera cam-1: recorder alarm recorder_error")
    ]


def test_detection_troubles_only_warn() -> None:
    status = assess_station(
        database_ok=True,
        retention=RetentionStatus(),
        cameras=[],
        recorder_alarms={},
        detection_problems=[("detection_stalled", "detection has analysed nothing", "gate-1")],
    )
    assert status.level is StatusLevel.WARNING
    assert [(r.code, r.camera_id) for r in status.reasons] == [("detection_stalled", "gate-1")]
