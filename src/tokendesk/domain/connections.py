"""Connections: what a registered OAuth application is, and the rules for its fields."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from tokendesk.domain.connection_proxy import GLOBAL_PROXY, ConnectionProxy
from tokendesk.domain.principal import Principal


class GrantType(StrEnum):
    AUTHORIZATION_CODE = "authorization_code"
    CLIENT_CREDENTIALS = "client_credentials"

    @property
    def label(self) -> str:
        return {
            GrantType.AUTHORIZATION_CODE: "Authorization Code Flow",
            GrantType.CLIENT_CREDENTIALS: "Client Credentials Flow",
        }[self]


class ConnectionStatus(StrEnum):
    """Whether the provider accepts the connection's client (the whole application, not one
    token): ``misconfigured`` once it refused the client credentials (invalid_client)."""

    OK = "ok"
    MISCONFIGURED = "misconfigured"


CLIENT_AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt")
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
    status: ConnectionStatus
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    created_by: str
    updated_by: str
    # Older connections share one redirect URI; newer ones have their own (see callback_url).
    shared_callback: bool = False
    # private_key_jwt: whether a private key is stored (never the key), and the public
    # certificate (PEM) when one was given.
    has_client_key: bool = False
    client_certificate: str | None = None
    # The day the client secret expires, as an administrator entered it (the provider's
    # console shows it: Microsoft Entra "Certificates & secrets"); None when not entered.
    client_secret_expires_on: date | None = None
    # When the client ID, secret or key, or the token URL last changed (None: not recorded).
    client_changed_at: datetime | None = None
    # Where the API proxy sends calls; None: the provider's template (catalog).
    api_base_url: str | None = None
    # How it reaches its provider: the global forward proxy, directly, or its own proxy.
    proxy: ConnectionProxy = GLOBAL_PROXY

    def invites(self, principal: Principal) -> bool:
        """True when one of ``principal``'s roles is invited: he may use its tokens."""
        return not principal.role_ids.isdisjoint(self.invited_role_ids)

    def callback_url(self, shared: str) -> str:
        """The redirect URI to register at the provider for this connection: its own
        ``<shared>/<id>``, so that an answer without ``iss`` still says which connection it is
        for (RFC 9700 §4.4.2 mix-up defence); ``shared`` itself for a connection created
        before redirect URIs were per connection."""
        return shared if self.shared_callback else f"{shared}/{self.id}"

    @property
    def misconfigured(self) -> bool:
        return self.status is ConnectionStatus.MISCONFIGURED


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of testing a connection; ``ok`` is None while a consent round trip is
    pending at ``authorize_url``."""

    ok: bool | None
    message: str
    cause: str | None = None
    authorize_url: str | None = None
