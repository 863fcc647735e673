"""Connections: what a registered OAuth application is, and the rules for its fields."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class GrantType(StrEnum):
    AUTHORIZATION_CODE = "authorization_code"
    CLIENT_CREDENTIALS = "client_credentials"

    @property
    def label(self) -> str:
        return {
            GrantType.AUTHORIZATION_CODE: "Authorization Code Flow",
            GrantType.CLIENT_CREDENTIALS: "Client Credentials Flow",
        }[self]


CLIENT_AUTH_METHODS = ("client_secret_basic", "client_secret_post")
CLIENT_ID_MAX = 500
CLIENT_SECRET_MAX = 4000
DESCRIPTION_MAX = 1000


@dataclass(frozen=True, slots=True)
class Connection:
    """A registered OAuth application. The client secret stays in storage, encrypted."""

    id: str
    name: str
    description: str
    provider: str
    grant_type: GrantType
    client_id: str
    has_client_secret: bool
    authorization_url: str
    token_url: str
    scopes: tuple[str, ...]
    pkce: bool
    client_auth_method: str | None
    revocation_url: str | None
    placeholders: dict[str, str]
    invited_role_ids: frozenset[str]
    invited_roles: tuple[str, ...]
    version: int
    status: str
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    created_by: str
    updated_by: str


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of testing a connection; ``ok`` is None while a consent round trip is
    pending at ``authorize_url``."""

    ok: bool | None
    message: str
    cause: str | None = None
    authorize_url: str | None = None
