"""The rules for a connection's fields: grant type, client ID and secret, URLs (filled from
the provider's templates, checked against the egress policy), scopes and PKCE."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from tokendesk.catalog import Provider
from tokendesk.domain.connections import CLIENT_ID_MAX, CLIENT_SECRET_MAX, GrantType
from tokendesk.domain.egress import EgressPolicy
from tokendesk.domain.scopes import parse_scopes
from tokendesk.domain.urls import validate_authorization_url, validate_endpoint_url
from tokendesk.errors import ValidationError


@dataclass(frozen=True, slots=True)
class ConnectionFields:
    """The validated settings of a connection, before they are stored."""

    grant_type: GrantType
    client_id: str
    authorization_url: str
    token_url: str
    scopes: tuple[str, ...]
    pkce: bool
    placeholders: dict[str, str]


class ConnectionRules:
    """Validates what an administrator typed for a connection; raises ValidationError with
    the field concerned."""

    def __init__(self, allow_http_loopback: bool, egress: EgressPolicy) -> None:
        self.allow_http_loopback = allow_http_loopback
        self.egress = egress

    def validate(
        self,
        provider: Provider,
        grant_type: GrantType,
        client_id: str,
        authorization_url: str | None,
        token_url: str | None,
        scopes: list[str] | str | None,
        pkce: bool | None,
        placeholders: dict[str, str],
    ) -> ConnectionFields:
        if grant_type.value not in provider.grant_types:
            raise ValidationError(
                f"{provider.name} does not support the {grant_type.label}.", field="grant_type"
            )
        unknown = sorted(set(placeholders) - set(provider.placeholder_names()))
        if unknown:
            raise ValidationError(
                f"{provider.name} has no placeholder {', '.join('<' + u + '>' for u in unknown)}.",
                field="placeholders",
            )
        client_id = validate_client_id(client_id)
        token = self._url(provider, token_url, provider.token_url, placeholders, "token_url")
        authorize = ""
        if grant_type is GrantType.AUTHORIZATION_CODE:
            authorize = self._url(
                provider,
                authorization_url,
                provider.authorization_url,
                placeholders,
                "authorization_url",
            )
        if pkce and not provider.pkce:
            raise ValidationError(f"{provider.name} does not allow PKCE.", field="pkce")
        return ConnectionFields(
            grant_type=grant_type,
            client_id=client_id,
            authorization_url=authorize,
            token_url=token,
            scopes=provider.render_scopes(
                parse_scopes(scopes) if scopes is not None else provider.default_scopes,
                placeholders,
            ),
            pkce=provider.pkce if pkce is None else pkce,
            placeholders={k: v.strip() for k, v in placeholders.items()},
        )

    def _url(
        self,
        provider: Provider,
        given: str | None,
        template: str,
        placeholders: dict[str, str],
        field: str,
    ) -> str:
        label = "authorization URL" if field == "authorization_url" else "token URL"
        raw = given.strip() if given and given.strip() else template
        if not raw:
            raise ValidationError(f"Enter the {label}.", field=field)
        url = provider.render(raw, placeholders, field=field)
        if field == "authorization_url":
            # The browser, not Tokendesk, calls the authorization URL: no egress check.
            return validate_authorization_url(
                url, field=field, allow_http_loopback=self.allow_http_loopback
            )
        return self.callable_url(url, field)

    def callable_url(self, url: str, field: str) -> str:
        """A URL Tokendesk itself will call: valid, and not a blocked IP literal."""
        url = validate_endpoint_url(url, field=field, allow_http_loopback=self.allow_http_loopback)
        self.egress.check_literal(urlsplit(url).hostname or "", field=field)
        return url

    def optional_url(self, url: str | None, field: str) -> str | None:
        if url is None or not url.strip():
            return None
        return self.callable_url(url, field)


def check_secret(secret: str) -> None:
    if not secret.strip():
        raise ValidationError("Enter the client secret.", field="client_secret")
    if len(secret) > CLIENT_SECRET_MAX or any(ord(ch) < 32 for ch in secret):
        raise ValidationError(
            f"The client secret must be at most {CLIENT_SECRET_MAX} printable characters.",
            field="client_secret",
        )


def validate_client_id(client_id: str) -> str:
    value = client_id.strip()
    if not value:
        raise ValidationError("Enter the client ID.", field="client_id")
    if len(value) > CLIENT_ID_MAX or any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValidationError(
            f"The client ID must be at most {CLIENT_ID_MAX} printable characters.",
            field="client_id",
        )
    return value


def columns(fields: ConnectionFields) -> dict[str, Any]:
    return {
        "grant_type": fields.grant_type.value,
        "client_id": fields.client_id,
        "authorization_url": fields.authorization_url,
        "token_url": fields.token_url,
        "scopes": list(fields.scopes),
        "pkce": fields.pkce,
        "placeholders": fields.placeholders,
    }
