"""Who is acting: a user, through the console, an API key, or the command line."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from tokendesk.domain.permissions import Permission
from tokendesk.errors import PermissionDenied


class Via(StrEnum):
    API_KEY = "api_key"
    SESSION = "session"
    CLI = "cli"
    SYSTEM = "system"
    WORKLOAD = "workload"  # a workload's JWT from a trusted issuer (RFC 8693)


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated user with the permissions and custom roles in force right now."""

    user_id: str | None
    username: str
    via: Via
    permissions: frozenset[Permission]
    role_ids: frozenset[str]
    key_id: str | None = None  # the API key acting, when ``via`` is an API key

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions

    def require(self, permission: Permission) -> None:
        """Raise PermissionDenied unless the principal holds ``permission``."""
        if permission not in self.permissions:
            raise PermissionDenied(f"You need the permission '{permission.label}' to do this.")

    def require_any(self, *permissions: Permission) -> None:
        """Raise PermissionDenied unless the principal holds one of ``permissions``."""
        if not any(p in self.permissions for p in permissions):
            raise PermissionDenied(
                "You need one of these permissions: "
                + ", ".join(p.label for p in permissions)
                + "."
            )


def command_line_principal() -> Principal:
    """The operator at the server's command line: trusted like the data folder's owner."""
    return Principal(None, "cli", Via.CLI, frozenset(Permission), frozenset())
