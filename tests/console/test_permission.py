"""The role -> permission table, read as a table."""

from __future__ import annotations

import pytest

from console.permission import ROLE_PERMISSIONS, Permission, is_allowed, permissions_for
from storage.model import Role

P = Permission
EXPECTED: dict[Role, set[Permission]] = {
    Role.OFFICER: {P.LIVE_VIEW, P.EVENTS_VIEW, P.EVENTS_REVIEW, P.COMPLAINTS_VIEW, P.COMPLAINTS_EDIT},
    Role.INVESTIGATOR: {P.RECORDINGS_VIEW, P.CLIPS_CREATE, P.EXPORTS_CREATE},
    Role.SUPERVISOR: {
        P.LIVE_VIEW,
        P.EVENTS_VIEW,
        P.EVENTS_REVIEW,
        P.COMPLAINTS_VIEW,
        P.COMPLAINTS_EDIT,
        P.RECORDINGS_VIEW,
        P.CLIPS_CREATE,
        P.EXPORTS_CREATE,
        P.REPORTS_VIEW,
    },
    Role.ADMIN: {P.CAMERAS_MANAGE, P.USERS_MANAGE, P.SETTINGS_MANAGE},
    Role.AUDITOR: {P.AUDIT_VIEW},
}


@pytest.mark.parametrize("role", list(Role))
def test_role_permissions_match_the_table(role: Role) -> None:
    assert permissions_for(role) == EXPECTED[role]
    assert permissions_for(role.value) == EXPECTED[role]


def test_every_role_is_mapped() -> None:
    assert set(ROLE_PERMISSIONS) == set(Role)


def test_every_permission_belongs_to_some_role() -> None:
    granted = set().union(*ROLE_PERMISSIONS.values())
    assert granted == set(Permission)


@pytest.mark.parametrize(
    ("role", "permission", "allowed"),
    [
        (Role.OFFICER, P.LIVE_VIEW, True),
        (Role.OFFICER, P.RECORDINGS_VIEW, False),
        (Role.OFFICER, P.EXPORTS_CREATE, False),
        (Role.INVESTIGATOR, P.EXPORTS_CREATE, True),
        (Role.INVESTIGATOR, P.LIVE_VIEW, False),
        (Role.SUPERVISOR, P.REPORTS_VIEW, True),
        (Role.SUPERVISOR, P.USERS_MANAGE, False),
        (Role.ADMIN, P.USERS_MANAGE, True),
        (Role.ADMIN, P.RECORDINGS_VIEW, False),
        (Role.AUDITOR, P.AUDIT_VIEW, True),
        (Role.AUDITOR, P.LIVE_VIEW, False),
        ("no-such-role", P.LIVE_VIEW, False),
    ],
)
def test_is_allowed(role: Role | str, permission: Permission, allowed: bool) -> None:
    assert is_allowed(role, permission) is allowed


def test_only_the_auditor_reads_the_audit_log() -> None:
    assert [role for role in Role if is_allowed(role, P.AUDIT_VIEW)] == [Role.AUDITOR]
