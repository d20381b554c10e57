"""What each role may do. Features check a :class:`Permission`, never a role name.

The map is pure data so it can be read (and tested) as a table:

============  =====================================================================
officer       live view, events, complaints
investigator  recordings, clips, exports
supervisor    everything of officer and investigator, plus reports
admin         cameras, users, settings
auditor       the audit log, nothing else
============  =====================================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from storage.model import Role


class Permission(StrEnum):
    LIVE_VIEW = "live.view"
    EVENTS_VIEW = "events.view"
    EVENTS_REVIEW = "events.review"
    COMPLAINTS_VIEW = "complaints.view"
    COMPLAINTS_EDIT = "complaints.edit"
    RECORDINGS_VIEW = "recordings.view"
    CLIPS_CREATE = "clips.create"
    EXPORTS_CREATE = "exports.create"
    REPORTS_VIEW = "reports.view"
    CAMERAS_MANAGE = "cameras.manage"
    USERS_MANAGE = "users.manage"
    SETTINGS_MANAGE = "settings.manage"
    AUDIT_VIEW = "audit.view"


_OFFICER = frozenset(
    {
        Permission.LIVE_VIEW,
        Permission.EVENTS_VIEW,
        Permission.EVENTS_REVIEW,
        Permission.COMPLAINTS_VIEW,
        Permission.COMPLAINTS_EDIT,
    }
)
_INVESTIGATOR = frozenset({Permission.RECORDINGS_VIEW, Permission.CLIPS_CREATE, Permission.EXPORTS_CREATE})

ROLE_PERMISSIONS: Mapping[Role, frozenset[Permission]] = MappingProxyType(
    {
        Role.OFFICER: _OFFICER,
        Role.INVESTIGATOR: _INVESTIGATOR,
        Role.SUPERVISOR: _OFFICER | _INVESTIGATOR | {Permission.REPORTS_VIEW},
        Role.ADMIN: frozenset(
            {Permission.CAMERAS_MANAGE, Permission.USERS_MANAGE, Permission.SETTINGS_MANAGE}
        ),
        Role.AUDITOR: frozenset({Permission.AUDIT_VIEW}),
    }
)


def permissions_for(role: Role | str) -> frozenset[Permission]:
    """Permissions of a role; an unknown role has none."""
    try:
        return ROLE_PERMISSIONS[Role(role)]
    except ValueError:
        return frozenset()


def is_allowed(role: Role | str, permission: Permission) -> bool:
    return permission in permissions_for(role)
