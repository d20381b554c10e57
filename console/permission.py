"""What each role may do. Features check a :class:`Permission`, never a role name.

The map is pure data so it can be read (and tested) as a table:

============  =====================================================================
officer       live view, events, complaints
investigator  recordings, clips, exports
supervisor    everything of officer and investigator, plus reports
admin         cameras, users, settings
auditor       the audit log, nothing else
============  =====================================================================

The pages of the web console are data too (:data:`PAGE_LINKS`): the sidebar shows a role exactly the pages
:func:`may_open_page` lets it open, and every page route asks :func:`may_open_page` before it renders, so a
link and its permission cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class PageLink:
    """A page of the web console with its sidebar entry.

    ``any_of`` lists the permissions that open it (one is enough); an empty set opens it to every signed-in
    user. ``label`` is the English msgid, translated when the sidebar is rendered.
    """

    key: str
    path: str
    label: str
    icon: str
    any_of: frozenset[Permission] = frozenset()

    def is_open_to(self, permissions: Iterable[Permission]) -> bool:
        return not self.any_of or bool(self.any_of & frozenset(permissions))


COMPLAINT_READ_PERMISSIONS = frozenset(
    {Permission.COMPLAINTS_VIEW, Permission.RECORDINGS_VIEW, Permission.AUDIT_VIEW}
)
"""Who reads complaints: officers (the work itself), investigators (footage and packages for a complaint)
and auditors."""

RECORDING_PAGE_PERMISSIONS = frozenset({Permission.RECORDINGS_VIEW, Permission.COMPLAINTS_VIEW})
"""Who opens the recordings page: investigators see every range, officers a recent window (see
:mod:`console.media_access`)."""

EXPORT_LIST_PERMISSIONS = frozenset({Permission.EXPORTS_CREATE, Permission.AUDIT_VIEW})
"""Who opens the exports page and lists packages: those who build them (investigators, supervisors) and
auditors (who may list every package but download none: downloading needs ``exports.create``)."""

EXPORT_LIST_ALL_PERMISSIONS = frozenset({Permission.RECORDINGS_VIEW, Permission.AUDIT_VIEW})
"""Who lists every user's packages, not only their own: investigators, supervisors and auditors."""

PAGE_LINKS: tuple[PageLink, ...] = (
    PageLink("home", "/", "Overview", "home"),
    PageLink("live", "/live", "Live view", "live", frozenset({Permission.LIVE_VIEW})),
    PageLink("events", "/events", "Events", "events", frozenset({Permission.EVENTS_VIEW})),
    PageLink("complaints", "/complaints", "Complaints", "complaints", COMPLAINT_READ_PERMISSIONS),
    PageLink("recordings", "/recordings", "Recordings", "recordings", RECORDING_PAGE_PERMISSIONS),
    PageLink("exports", "/exports", "Exports", "exports", EXPORT_LIST_PERMISSIONS),
    PageLink("verify", "/verify", "Verify package", "audit"),
    PageLink("audit", "/audit", "Audit log", "log", frozenset({Permission.AUDIT_VIEW})),
    PageLink("cameras", "/admin/cameras", "Cameras", "cameras", frozenset({Permission.CAMERAS_MANAGE})),
    PageLink("zones", "/admin/zones", "Detection zones", "zones", frozenset({Permission.CAMERAS_MANAGE})),
    PageLink("users", "/admin/users", "Users", "users", frozenset({Permission.USERS_MANAGE})),
    PageLink(
        "settings", "/admin/settings", "Station settings", "settings", frozenset({Permission.SETTINGS_MANAGE})
    ),
)
_PAGES_BY_KEY: Mapping[str, PageLink] = MappingProxyType({page.key: page for page in PAGE_LINKS})


def page_link(key: str) -> PageLink:
    """The page named ``key``; raises KeyError for an unknown one."""
    return _PAGES_BY_KEY[key]


def may_open_page(permissions: Iterable[Permission], key: str) -> bool:
    return page_link(key).is_open_to(permissions)


def pages_for(permissions: Iterable[Permission]) -> tuple[PageLink, ...]:
    """The sidebar of a user holding ``permissions``, in sidebar order."""
    held = frozenset(permissions)
    return tuple(page for page in PAGE_LINKS if page.is_open_to(held))
