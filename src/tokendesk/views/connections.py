"""A connection as the API and the CLI show it: in full for *View connections*, as an
invited user uses it otherwise; a client certificate's public facts only, never a secret."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel

from tokendesk.domain.client_keys import certificate_info
from tokendesk.domain.connections import Connection


class CertificateOut(BaseModel):
    """The public facts of a client certificate (private_key_jwt); never the key."""

    thumbprint_sha1: str  # hex, as Microsoft Entra lists it
    x5t: str  # base64url SHA-1 thumbprint (RFC 7515 §4.1.7)
    x5t_s256: str  # base64url SHA-256 thumbprint (RFC 7515 §4.1.8)
    not_before: datetime
    expires_at: datetime

    @classmethod
    def of(cls, pem: str | None) -> CertificateOut | None:
        if not pem:
            return None
        info = certificate_info(pem)
        return cls(
            thumbprint_sha1=info.sha1_hex,
            x5t=info.thumbprint_sha1,
            x5t_s256=info.thumbprint_sha256,
            not_before=info.not_before,
            expires_at=info.not_after,
        )


class ConnectionUseOut(BaseModel):
    """A connection as an invited user without *View connections* sees it: what he needs to
    use it, not its settings (client ID, URLs, scopes, invited roles are for viewers)."""

    name: str
    description: str
    provider: str
    grant_type: str

    @classmethod
    def of(cls, connection: Connection) -> ConnectionUseOut:
        return cls(name=connection.name, description=connection.description,
                   provider=connection.provider, grant_type=connection.grant_type.value)


class ConnectionOut(BaseModel):
    name: str
    description: str
    provider: str
    grant_type: str
    client_id: str
    client_secret_stored: bool
    # The day the client secret expires, as an administrator entered it.
    client_secret_expires_on: date | None = None
    authorization_url: str
    token_url: str
    scopes: list[str]
    pkce: bool
    client_auth_method: str | None
    # private_key_jwt: whether a private key is stored (the key itself never leaves) and
    # the public facts of the certificate.
    has_client_key: bool = False
    client_certificate: CertificateOut | None = None
    revocation_url: str | None
    # The connection's own API base URL (the API proxy); None: the provider's.
    api_base_url: str | None = None
    placeholders: dict[str, str]
    invited_roles: list[str]
    callback_url: str
    # How it reaches its provider: "global" (the forward proxy), "none" or "own"; with "own",
    # its proxy's URL, username and bypass list, and whether a password is stored (never it).
    proxy_mode: str = "global"
    proxy_url: str | None = None
    proxy_username: str = ""
    proxy_password_stored: bool = False
    proxy_bypass: list[str] = []
    created_at: datetime
    updated_at: datetime
    created_by: str
    updated_by: str

    @classmethod
    def of(cls, connection: Connection, callback_url: str) -> ConnectionOut:
        """``connection`` as the API shows it; ``callback_url`` is the shared one
        (``<public_url>/oauth/callback``), from which the connection's own derives."""
        return cls(
            name=connection.name,
            description=connection.description,
            provider=connection.provider,
            grant_type=connection.grant_type.value,
            client_id=connection.client_id,
            client_secret_stored=connection.has_client_secret,
            client_secret_expires_on=connection.client_secret_expires_on,
            authorization_url=connection.authorization_url,
            token_url=connection.token_url,
            scopes=list(connection.scopes),
            pkce=connection.pkce,
            client_auth_method=connection.client_auth_method,
            has_client_key=connection.has_client_key,
            client_certificate=CertificateOut.of(connection.client_certificate),
            revocation_url=connection.revocation_url,
            api_base_url=connection.api_base_url,
            placeholders=connection.placeholders,
            invited_roles=list(connection.invited_roles),
            callback_url=connection.callback_url(callback_url),
            proxy_mode=connection.proxy.mode.value,
            proxy_url=connection.proxy.url,
            proxy_username=connection.proxy.username,
            proxy_password_stored=connection.proxy.has_password,
            proxy_bypass=list(connection.proxy.bypass),
            created_at=connection.created_at,
            updated_at=connection.updated_at,
            created_by=connection.created_by,
            updated_by=connection.updated_by,
        )
