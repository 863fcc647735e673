"""Users, roles and API keys as the rest of Tokendesk sees them (no hashes)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tokendesk.domain.permissions import Permission


@dataclass(frozen=True, slots=True)
class User:
    id: str
    username: str
    display_name: str
    disabled: bool
    role_ids: frozenset[str]
    created_at: datetime
    updated_at: datetime
    # Signed in with a generated password: a new one is needed before anything else.
    password_change_required: bool = False
    email: str | None = None


@dataclass(frozen=True, slots=True)
class Role:
    id: str
    name: str
    description: str
    system: bool
    permissions: frozenset[Permission]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ApiKey:
    """An API key's public record; the secret part exists only at creation."""

    id: str
    prefix: str
    name: str
    user_id: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None
