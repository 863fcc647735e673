"""JSON views of domain objects, shared by the REST API and the CLI's --json output.

None has a field that could carry a stored secret out.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel

from tokendesk.catalog import Provider
from tokendesk.domain.accounts import ApiKey, Role, User
from tokendesk.domain.audit import AuditEvent
from tokendesk.domain.client_keys import certificate_info
from tokendesk.domain.connections import Connection, Verdict
from tokendesk.domain.diagnosis import Diagnosis
from tokendesk.domain.egress import EgressAllowlist
from tokendesk.domain.proxy import ForwardProxy
from tokendesk.domain.token_states import StateWords, TokenState
from tokendesk.domain.tokens import EXPIRY_SOURCE_WORDS, StoredToken, TokenStatus
from tokendesk.oauth.discovery import IssuerMetadata


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


class PlaceholderChoiceOut(BaseModel):
    value: str
    label: str


class PlaceholderOut(BaseModel):
    name: str
    label: str
    help: str
    # The allowed values when the placeholder is a choice (Genesys Cloud regions).
    choices: list[PlaceholderChoiceOut] = []


class GrantDefaultsOut(BaseModel):
    """What a connection of one grant type starts with, and what the user must supply."""

    default_scopes: list[str]
    scopes_required: bool
    placeholders: list[str]
    authorization_params: dict[str, str]
    notes: list[str]

    @classmethod
    def of(cls, p: Provider, grant_type: str) -> GrantDefaultsOut:
        defaults = p.defaults(grant_type)
        return cls(
            default_scopes=list(defaults.default_scopes),
            scopes_required=defaults.scopes_required,
            placeholders=[x.name for x in p.placeholders_for(grant_type)],
            authorization_params=dict(defaults.authorization_params),
            notes=list(defaults.notes),
        )


class RefreshTokenOut(BaseModel):
    absolute_lifetime_days: int | None
    inactivity_lifetime_days: int | None
    testing_app_lifetime_days: int | None
    source: str


class ProviderOut(BaseModel):
    key: str
    name: str
    authorization_url: str
    token_url: str
    revocation_url: str | None
    # Where the API proxy sends calls: <placeholders>, and {fields} of the token.
    api_base_url: str | None = None
    placeholders: list[PlaceholderOut]
    grant_types: list[str]
    grants: dict[str, GrantDefaultsOut]
    scope_presets: dict[str, list[str]]
    pkce: bool
    client_auth_method: str
    notes: list[str]
    documentation_url: str
    refresh_token_lifetimes: RefreshTokenOut | None
    # What to do at the provider to end a token, when it has no revocation endpoint.
    revocation_note: str | None = None

    @classmethod
    def of(cls, p: Provider) -> ProviderOut:
        lifetimes = p.refresh_token
        return cls(
            key=p.key,
            name=p.name,
            authorization_url=p.authorization_url,
            token_url=p.token_url,
            revocation_url=p.revocation_url,
            api_base_url=p.api_base_url,
            placeholders=[
                PlaceholderOut(
                    name=x.name, label=x.label, help=x.help,
                    choices=[PlaceholderChoiceOut(value=c.value, label=c.label)
                             for c in x.choices],
                )
                for x in p.placeholders
            ],
            grant_types=list(p.grant_types),
            grants={g: GrantDefaultsOut.of(p, g) for g in p.grant_types},
            scope_presets={k: list(v) for k, v in p.scope_presets.items()},
            pkce=p.pkce,
            client_auth_method=p.client_auth_method,
            notes=list(p.notes),
            documentation_url=p.documentation_url,
            refresh_token_lifetimes=(
                RefreshTokenOut(**lifetimes.model_dump()) if lifetimes else None
            ),
            revocation_note=p.revocation_note,
        )


class UserOut(BaseModel):
    username: str
    display_name: str
    disabled: bool
    roles: list[str]
    created_at: datetime
    email: str | None = None

    @classmethod
    def of(cls, user: User, role_names: dict[str, str]) -> UserOut:
        return cls(
            username=user.username,
            display_name=user.display_name,
            email=user.email,
            disabled=user.disabled,
            roles=sorted((role_names.get(r, r) for r in user.role_ids), key=str.casefold),
            created_at=user.created_at,
        )


class RoleOut(BaseModel):
    name: str
    description: str
    system: bool
    permissions: list[str]

    @classmethod
    def of(cls, role: Role) -> RoleOut:
        return cls(
            name=role.name,
            description=role.description,
            system=role.system,
            permissions=sorted(p.value for p in role.permissions),
        )


class ApiKeyOut(BaseModel):
    id: str
    prefix: str
    name: str
    user: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, key: ApiKey, username: str) -> ApiKeyOut:
        return cls(
            id=key.id,
            prefix="td_" + key.prefix,
            name=key.name,
            user=username,
            created_at=key.created_at,
            last_used_at=key.last_used_at,
            revoked_at=key.revoked_at,
        )


class NewApiKeyOut(ApiKeyOut):
    key: str


class AuditEventOut(BaseModel):
    id: int
    at: datetime
    actor: str
    via: str
    action: str
    target_type: str
    target: str
    outcome: str
    details: dict[str, Any]

    @classmethod
    def of(cls, e: AuditEvent) -> AuditEventOut:
        return cls(
            id=e.id,
            at=e.at,
            actor=e.actor,
            via=e.via,
            action=e.action,
            target_type=e.target_type,
            target=e.target,
            outcome=e.outcome,
            details=e.details,
        )


class EgressAllowlistOut(BaseModel):
    """The egress allowlist: ``allowlist`` is what administrators store (editable);
    ``environment_allowlist`` comes from TOKENDESK_EGRESS_ALLOWLIST (read-only). Both apply."""

    allowlist: list[str]
    environment_allowlist: list[str]
    updated_at: datetime | None
    updated_by: str

    @classmethod
    def of(cls, a: EgressAllowlist) -> EgressAllowlistOut:
        return cls(allowlist=list(a.stored), environment_allowlist=list(a.environment),
                   updated_at=a.updated_at, updated_by=a.updated_by)


class ProxyOut(BaseModel):
    enabled: bool
    scheme: str
    host: str
    port: int | None
    auth: str
    username: str
    password_stored: bool
    bypass: list[str]
    updated_at: datetime | None
    updated_by: str

    @classmethod
    def of(cls, p: ForwardProxy) -> ProxyOut:
        return cls(
            enabled=p.enabled,
            scheme=p.scheme,
            host=p.host,
            port=p.port,
            auth=p.auth,
            username=p.username,
            password_stored=p.has_password,
            bypass=list(p.bypass),
            updated_at=p.updated_at,
            updated_by=p.updated_by,
        )


_REFUSED_STATES = frozenset({TokenState.NEEDS_CONSENT, TokenState.MISCONFIGURED})


class DiagnosisOut(BaseModel):
    """Why the provider refused the token's refresh, and what to do."""

    cause: str
    reason: str
    action: str

    @classmethod
    def of(cls, d: Diagnosis | None) -> DiagnosisOut | None:
        return None if d is None else cls(cause=d.cause.value, reason=d.reason, action=d.action)


class TokenStatusOut(BaseModel):
    """A token's state (never the token). ``status`` is what the refresh path decided
    (valid, needs_reauthentication, corrupted, misconfigured); ``state``, ``state_label``,
    ``reason`` and ``action`` are the one vocabulary the console, CLI and SDK use too."""

    kind: str
    user_id: str | None
    status: str
    valid_until: datetime | None
    last_refresh_at: datetime | None
    last_error: str | None
    # Whether Tokendesk can refresh it (a refresh token the provider has not refused).
    refreshable: bool
    needs_reauthentication: bool
    # Where valid_until comes from, in words ("the provider's introspection said"); None
    # when not recorded.
    valid_until_source: str | None = None
    state: str | None = None
    state_label: str | None = None
    reason: str | None = None
    action: str | None = None
    # When a back-off ends and the next refresh is tried.
    retry_at: datetime | None = None
    # Whether a refresh token is stored (kept after a refusal, for the record).
    refresh_token_kept: bool = False
    diagnosis: DiagnosisOut | None = None
    # Refresh now: whether a new token set was stored, and what happened in words.
    refreshed: bool | None = None
    message: str | None = None

    @classmethod
    def of(cls, t: StoredToken, words: StateWords | None = None) -> TokenStatusOut:
        return cls(
            kind=t.kind.value,
            user_id=t.user_id,
            status=t.status.value,
            valid_until=t.expires_at,
            last_refresh_at=t.last_refresh_at,
            last_error=t.last_error,
            refreshable=t.has_refresh_token and t.status is TokenStatus.VALID,
            # A refused client secret (misconfigured) needs an administrator, not a consent.
            needs_reauthentication=t.status
            in (TokenStatus.NEEDS_REAUTHENTICATION, TokenStatus.CORRUPTED),
            valid_until_source=EXPIRY_SOURCE_WORDS[t.expiry_source] if t.expiry_source else None,
            state=words.state.value if words else None,
            state_label=words.label if words else None,
            reason=words.reason if words else None,
            action=words.action if words else None,
            retry_at=words.until if words else None,
            refresh_token_kept=t.has_refresh_token,
            # A diagnosis explains a refusal that still stands (a later refresh clears it).
            diagnosis=DiagnosisOut.of(t.diagnosis) if words is None
            or words.state in _REFUSED_STATES else None,
        )


class VerdictOut(BaseModel):
    ok: bool | None
    message: str
    cause: str | None
    authorize_url: str | None

    @classmethod
    def of(cls, verdict: Verdict) -> VerdictOut:
        return cls(
            ok=verdict.ok,
            message=verdict.message,
            cause=verdict.cause,
            authorize_url=verdict.authorize_url,
        )


class FlowLinkOut(BaseModel):
    """A one-time link that starts a consent in the browser that opens it."""

    url: str
    expires_at: datetime


class IssuerMetadataOut(BaseModel):
    """What an issuer's metadata would fill in a custom connection (RFC 8414)."""

    issuer: str
    authorization_url: str | None
    token_url: str
    revocation_url: str | None
    scopes_supported: list[str]
    pkce: bool
    client_auth_method: str | None
    sends_iss: bool

    @classmethod
    def of(cls, found: IssuerMetadata) -> IssuerMetadataOut:
        return cls(
            issuer=found.issuer,
            authorization_url=found.authorization_endpoint,
            token_url=found.token_endpoint,
            revocation_url=found.revocation_endpoint,
            scopes_supported=list(found.scopes_supported),
            pkce=found.pkce_s256,
            client_auth_method=found.client_auth_method,
            sends_iss=found.sends_iss,
        )
