"""A provider of the catalog as the API and the CLI show it (its defaults per grant type,
placeholders and refresh token lifetimes), and what an issuer's metadata would fill in."""

from __future__ import annotations

from pydantic import BaseModel

from tokendesk.catalog import Provider
from tokendesk.oauth.discovery import IssuerMetadata


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
