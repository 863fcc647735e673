"""Input shapes shared by the REST API and the CLI: strict, no unknown fields.

The web layer uses these as request bodies and the CLI builds them from options, so both
edges are validated by one definition.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, StrictBool, StrictInt

from tokendesk.domain.connections import GrantType
from tokendesk.domain.permissions import Permission

ClientAuthMethod = Literal["client_secret_basic", "client_secret_post", "private_key_jwt"]
# How a connection reaches its provider: the global forward proxy, directly, its own proxy.
ProxyModeName = Literal["global", "none", "own"]


class StrictInput(BaseModel):
    """No unknown fields; booleans and numbers only as JSON booleans and numbers (not 0/1 or
    "80"), as the OpenAPI document says. Not ``strict=True`` as a whole: enums arrive as
    strings from JSON and from the CLI."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class ConnectionCreate(StrictInput):
    name: str = Field(max_length=200)
    description: str = Field(default="", max_length=5000)
    provider: str = Field(default="custom", max_length=64)
    grant_type: GrantType
    client_id: str = Field(max_length=2000)
    # Not needed with client_auth_method private_key_jwt, which takes client_key instead.
    client_secret: SecretStr = Field(default=SecretStr(""), max_length=8000)
    # The day the client secret expires, as the provider's console shows it (optional).
    client_secret_expires_on: date | None = None
    authorization_url: str | None = Field(default=None, max_length=8000)
    token_url: str | None = Field(default=None, max_length=8000)
    scopes: list[str] | str | None = None
    pkce: StrictBool | None = None
    client_auth_method: ClientAuthMethod | None = None
    # private_key_jwt: the private key (PEM, write-only) and the public certificate (PEM).
    client_key: SecretStr | None = Field(default=None, max_length=20000)
    client_certificate: str | None = Field(default=None, max_length=20000)
    revocation_url: str | None = Field(default=None, max_length=8000)
    # Where the API proxy sends calls; an empty one: the provider's template.
    api_base_url: str | None = Field(default=None, max_length=8000)
    placeholders: dict[str, str] = Field(default_factory=dict)
    invited_roles: list[str] = Field(default_factory=list)
    # A custom connection's issuer: its RFC 8414 / OpenID Connect metadata fills the URLs,
    # PKCE and the client authentication method left open above.
    issuer: str | None = Field(default=None, max_length=2000)
    # The connection's way to its provider; with "own": its proxy (http(s)://host:port), the
    # proxy's username and password (write-only) and the hosts reached directly.
    proxy_mode: ProxyModeName | None = None
    proxy_url: str | None = Field(default=None, max_length=2048)
    proxy_username: str | None = Field(default=None, max_length=255)
    proxy_password: SecretStr | None = Field(default=None, max_length=2000)
    proxy_bypass: list[str] | str | None = None


class ConnectionUpdate(StrictInput):
    """A partial edit: absent fields keep their value; an absent secret keeps the stored one."""

    name: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    grant_type: GrantType | None = None
    client_id: str | None = Field(default=None, max_length=2000)
    client_secret: SecretStr | None = Field(default=None, max_length=8000)
    # The day the client secret expires; null forgets it. A new secret without a new day
    # forgets the stored day (it was the old secret's).
    client_secret_expires_on: date | None = None
    authorization_url: str | None = Field(default=None, max_length=8000)
    token_url: str | None = Field(default=None, max_length=8000)
    scopes: list[str] | str | None = None
    pkce: StrictBool | None = None
    client_auth_method: ClientAuthMethod | None = None
    # An absent key keeps the stored one; an absent certificate keeps the stored one.
    client_key: SecretStr | None = Field(default=None, max_length=20000)
    client_certificate: str | None = Field(default=None, max_length=20000)
    revocation_url: str | None = Field(default=None, max_length=8000)
    # Where the API proxy sends calls; an empty one: the provider's template.
    api_base_url: str | None = Field(default=None, max_length=8000)
    placeholders: dict[str, str] | None = None
    invited_roles: list[str] | None = None
    # An absent proxy password keeps the stored one (for the same proxy URL only).
    proxy_mode: ProxyModeName | None = None
    proxy_url: str | None = Field(default=None, max_length=2048)
    proxy_username: str | None = Field(default=None, max_length=255)
    proxy_password: SecretStr | None = Field(default=None, max_length=2000)
    proxy_bypass: list[str] | str | None = None


class UserCreate(StrictInput):
    username: str = Field(max_length=200)
    password: SecretStr = Field(max_length=2000)
    display_name: str = Field(default="", max_length=500)
    # Where e-mail notifications go; none: no e-mail.
    email: str | None = Field(default=None, max_length=500)
    roles: list[str] = Field(default_factory=list)


class UserUpdate(StrictInput):
    display_name: str | None = Field(default=None, max_length=500)
    # An empty string removes the address.
    email: str | None = Field(default=None, max_length=500)
    password: SecretStr | None = Field(default=None, max_length=2000)
    disabled: StrictBool | None = None
    roles: list[str] | None = None


class RoleCreate(StrictInput):
    name: str = Field(max_length=200)
    description: str = Field(default="", max_length=2000)
    permissions: list[Permission] = Field(default_factory=list)


class RoleUpdate(StrictInput):
    name: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    permissions: list[Permission] | None = None


class ApiKeyCreate(StrictInput):
    name: str = Field(max_length=200)
    user: str | None = Field(
        default=None, max_length=200, description="Username; default: yourself"
    )


class ProxySettingsInput(StrictInput):
    enabled: StrictBool
    scheme: str = Field(default="http", max_length=8)
    host: str = Field(default="", max_length=255)
    port: StrictInt | None = Field(default=None, ge=1, le=65535)
    auth: str = Field(default="none", max_length=8)
    username: str = Field(default="", max_length=255)
    password: SecretStr | None = Field(default=None, max_length=2000)
    bypass: list[str] | str = Field(default_factory=list)


class SmtpSettingsInput(StrictInput):
    """The SMTP server of e-mail notifications; an absent password keeps the stored one."""

    enabled: StrictBool
    host: str = Field(default="", max_length=255)
    port: StrictInt | None = Field(default=None, ge=1, le=65535)
    starttls: StrictBool = True
    username: str = Field(default="", max_length=255)
    password: SecretStr | None = Field(default=None, max_length=2000)
    from_address: str = Field(default="", max_length=500)


class EgressAllowlistInput(StrictInput):
    # The stored allowlist, replaced as a whole; TOKENDESK_EGRESS_ALLOWLIST is not part of it.
    allowlist: list[str] | str


class WebhookCreate(StrictInput):
    """A webhook: where to send which events (``token.refresh_failed``, ...)."""

    url: str = Field(max_length=8000)
    events: list[str] = Field(max_length=50)
    description: str = Field(default="", max_length=5000)


class WebhookUpdate(StrictInput):
    """A partial edit of a webhook: absent fields keep their value."""

    url: str | None = Field(default=None, max_length=8000)
    events: list[str] | None = Field(default=None, max_length=50)
    description: str | None = Field(default=None, max_length=5000)
    enabled: StrictBool | None = None
