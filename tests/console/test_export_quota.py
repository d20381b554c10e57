"""Evidence packages expire after their retention and are bounded by a per-user quota."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from console.body_limit import MIB
from console.deps import AuthMethod, Principal
from console.export_retention import ExportQuotaError, check_package_quota, expire_packages
from console.permission import permissions_for
from storage.export_quota import PackageAge, is_over_quota, plan_export_expiry
from storage.model import AuditEntry, Export, Role, utcnow
from tests.support.console import make_user, running_station


def test_plan_expires_packages_at_their_retention_age() -> None:
    now = utcnow()
    packages = [
        PackageAge(1, now - timedelta(days=31)),
        PackageAge(2, now - timedelta(days=30)),
        PackageAge(3, now - timedelta(days=29, hours=23)),
    ]
    assert plan_export_expiry(packages, now=now, retention_days=30) == [1, 2]
    assert plan_export_expiry([], now=now, retention_days=30) == []
    assert is_over_quota(10, 10) and not is_over_quota(9, 10)


def _principal(user_id: int) -> Principal:
    return Principal(
        user_id=user_id,
        username="petrov",
        display_name=None,
        role=Role.INVESTIGATOR,
        permissions=permissions_for(Role.INVESTIGATOR),
        auth=AuthMethod.SESSION,
        source="10.0.0.5",
    )


def test_old_packages_are_deleted_and_the_quota_refuses_clearly(console_client: TestClient) -> None:
    station = running_station(console_client)
    user_id = make_user(station.database, "petrov", Role.INVESTIGATOR)
    exports = station.settings.data_dir / "exports"
    exports.mkdir(parents=True, exist_ok=True)
    quota = station.settings.config.console.export_quota_mb * MIB
    now = utcnow()
    for name, age_days, size in (("old.zip", 40, quota), ("new.zip", 1, quota - 1)):
        (exports / name).write_bytes(b"PK")
        with station.database.session() as session:
            session.add(
                Export(
                    created_by=user_id,
                    created_at=now - timedelta(days=age_days),
                    reason="complaint 1",
                    path=name,
                    bytes=size,
                    status="ready",
                )
            )
    check_package_quota(station, _principal(user_id))  # the old package expired first: room again
    assert not (exports / "old.zip").exists() and (exports / "new.zip").exists()
    with station.database.session() as session:
        statuses = {row.path: row.status for row in session.execute(select(Export.path, Export.status))}
        assert statuses == {None: "expired", "new.zip": "ready"}
        [row] = session.scalars(select(AuditEntry).where(AuditEntry.action == "export.expire")).all()
        assert row.reason == "retention"
        session.add(Export(created_by=user_id, reason="x", path="more.zip", bytes=1, status="ready"))
    with pytest.raises(ExportQuotaError) as refused:
        check_package_quota(station, _principal(user_id))
    assert refused.value.status_code == 409 and refused.value.code == "export_quota"
    assert "quota" in refused.value.detail and refused.value.extra["quota_bytes"] == quota
    assert expire_packages(station) == 0  # nothing else is old enough
