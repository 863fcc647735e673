"""Permissions by feature, and the system roles.

A role grants permissions on features. *Manage connections* implies *View connections*.
System roles exist on every installation, cannot be edited or deleted, and are never
listed for invitation to a connection: only custom roles are.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Permission(StrEnum):
    VIEW_CONNECTIONS = "oauth_connections.view"
    MANAGE_CONNECTIONS = "oauth_connections.manage"
    MANAGE_USERS = "administration.users"
    MANAGE_ROLES = "administration.roles"
    MANAGE_SETTINGS = "administration.settings"
    VIEW_AUDIT = "administration.audit"

    @property
    def label(self) -> str:
        return PERMISSION_LABELS[self]


PERMISSION_LABELS: dict[Permission, str] = {
    Permission.VIEW_CONNECTIONS: "OAuth Connections: View connections",
    Permission.MANAGE_CONNECTIONS: "OAuth Connections: Manage connections",
    Permission.MANAGE_USERS: "Administration: Manage users",
    Permission.MANAGE_ROLES: "Administration: Manage roles",
    Permission.MANAGE_SETTINGS: "Administration: Network settings",
    Permission.VIEW_AUDIT: "Administration: View audit log",
}

IMPLIED: dict[Permission, frozenset[Permission]] = {
    Permission.MANAGE_CONNECTIONS: frozenset({Permission.VIEW_CONNECTIONS}),
}


def expand(permissions: Iterable[Permission]) -> frozenset[Permission]:
    """The permissions plus those they imply."""
    granted = set(permissions)
    for permission in list(granted):
        granted |= IMPLIED.get(permission, frozenset())
    return frozenset(granted)


@dataclass(frozen=True)
class SystemRole:
    name: str
    description: str
    permissions: frozenset[Permission]


ADMINISTRATOR = SystemRole(
    "Administrator", "Every permission on every feature.", frozenset(Permission)
)
AUDITOR = SystemRole(
    "Auditor",
    "Reads connections and the audit log; changes nothing.",
    frozenset({Permission.VIEW_CONNECTIONS, Permission.VIEW_AUDIT}),
)
SYSTEM_ROLES: tuple[SystemRole, ...] = (ADMINISTRATOR, AUDITOR)
