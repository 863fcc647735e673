"""The rules for a connection's fields: grant type, client ID and secret, URLs (filled from
the provider's templates, checked against the egress policy), scopes and PKCE."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from tokendesk.catalog import Provider
from tokendesk.domain.connections import CLIENT_ID_MAX, CLIENT_SECRET_MAX, Connection, GrantType
from tokendesk.domain.egress import EgressPolicy
from tokendesk.domain.scopes import parse_scopes
from tokendesk.domain.urls import validate_authorization_url, validate_endpoint_url
from tokendesk.errors import ClientSecretRequired, ValidationError
from tokendesk.oauth.error_answers import ErrorAnswer
from tokendesk.oauth.facts import PostConnectionStep
from tokendesk.services.inputs import ConnectionUpdate

# Where the stored client secret (and the tokens issued with it) may go; the labels name an
# endpoint in messages.
ENDPOINT_LABELS = {
    "authorization_url": "authorization URL",
    "token_url": "token URL",
    "revocation_url": "revocation URL",
    "api_base_url": "API base URL",
}


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
            scopes=granted_scopes(provider, grant_type, scopes, placeholders),
            pkce=provider.pkce if pkce is None else pkce,
            placeholders={k: v.strip() for k, v in placeholders.items()},
        )

    def problems(
        self,
        provider: Provider,
        grant_type: GrantType,
        client_id: str,
        authorization_url: str | None,
        token_url: str | None,
        placeholders: dict[str, str],
    ) -> list[ValidationError]:
        """Every problem :meth:`validate` would raise one at a time, for the fields that do
        not depend on one another (client ID, token URL, authorization URL), all at once."""
        checks: list[Callable[[], object]] = [
            lambda: validate_client_id(client_id),
            lambda: self._url(provider, token_url, provider.token_url, placeholders, "token_url"),
        ]
        if grant_type is GrantType.AUTHORIZATION_CODE:
            checks.append(lambda: self._url(provider, authorization_url,
                                            provider.authorization_url, placeholders,
                                            "authorization_url"))
        found: list[ValidationError] = []
        for check in checks:
            try:
                check()
            except ValidationError as exc:
                found.append(exc)
        return found

    def validate_update(
        self, provider: Provider, current: Connection, data: ConnectionUpdate
    ) -> dict[str, Any]:
        """The authentication details after the edit ``data`` of ``current``, validated, as
        column values; new placeholders fill the URLs from the templates unless URLs are given.
        """
        placeholders = data.placeholders if data.placeholders is not None else current.placeholders
        refill = data.placeholders is not None
        fields = self.validate(
            provider,
            data.grant_type or current.grant_type,
            data.client_id if data.client_id is not None else current.client_id,
            data.authorization_url
            if data.authorization_url is not None
            else (None if refill else current.authorization_url),
            data.token_url
            if data.token_url is not None
            else (None if refill else current.token_url),
            data.scopes if data.scopes is not None else _kept_scopes(provider, current, data),
            data.pkce if data.pkce is not None else current.pkce,
            placeholders,
        )
        values = columns(fields)
        if data.client_auth_method is not None:
            values["client_auth_method"] = data.client_auth_method
        if data.revocation_url is not None:
            values["revocation_url"] = self.optional_url(data.revocation_url, "revocation_url")
        if data.api_base_url is not None:
            values["api_base_url"] = self.optional_url(data.api_base_url, "api_base_url")
        return values

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


def _kept_scopes(
    provider: Provider, current: Connection, data: ConnectionUpdate
) -> list[str] | None:
    """The scopes an edit that types none keeps: the stored ones, or None (the new grant
    type's defaults) when the grant type changes and the stored scopes are the old one's."""
    if data.grant_type is None or data.grant_type is current.grant_type:
        return list(current.scopes)
    try:
        old_defaults = granted_scopes(provider, current.grant_type, None, current.placeholders)
    except ValidationError:
        return list(current.scopes)
    return None if tuple(current.scopes) == old_defaults else list(current.scopes)


def granted_scopes(
    provider: Provider,
    grant_type: GrantType,
    scopes: list[str] | str | None,
    placeholders: dict[str, str],
) -> tuple[str, ...]:
    """The scopes to ask for: those typed, else the provider's defaults for ``grant_type``.

    Raises ValidationError (field ``scopes``) when the provider needs a scope for this grant
    type and none is given (Google has no default scope: consent would fail), and as
    :meth:`Provider.render` does for a placeholder left unfilled.
    """
    defaults = provider.defaults(grant_type.value)
    chosen = parse_scopes(scopes) if scopes is not None else defaults.default_scopes
    if defaults.scopes_required and not chosen:
        raise ValidationError(
            f"Enter at least one scope: {provider.name} has no default scope for the "
            f"{grant_type.label}.",
            field="scopes",
        )
    return provider.render_scopes(chosen, placeholders)


Origin = tuple[str, str, int]


def revocation_url_in_force(
    provider: Provider, typed: str | None, placeholders: dict[str, str]
) -> str | None:
    """The revocation URL in force: the one typed, else the provider's template filled in."""
    if typed:
        return typed
    if not provider.revocation_url:
        return None
    return provider.render(provider.revocation_url, placeholders, field="revocation_url")


def api_base_url_in_force(provider: Provider, connection: Connection) -> str | None:
    """The API base URL template in force: the connection's own, else the provider's with
    its ``<placeholders>`` filled (its ``{fields}`` are the token's, filled per call); None
    when neither gives one. Raises ValidationError for a placeholder left unfilled."""
    if connection.api_base_url:
        return connection.api_base_url
    if not provider.api_base_url:
        return None
    return provider.render(provider.api_base_url, connection.placeholders, field="api_base_url")


def introspection_url_in_force(
    provider: Provider, token_url: str, placeholders: dict[str, str]
) -> str | None:
    """The provider's introspection path at the token URL's origin, or None when the provider
    names no introspection endpoint (the catalog default lifetime then applies).

    The introspection request carries the client authentication, so it goes only where the
    client secret already goes: the token URL's origin. That origin is the org the tokens
    come from, also when it is not the catalog's template (a sandbox at test.salesforce.com,
    a custom domain).
    """
    if not provider.introspection_url:
        return None
    template = urlsplit(provider.introspection_url)
    path = template.path
    if "<" in path:
        try:
            path = urlsplit(provider.render(provider.introspection_url, placeholders,
                                            field="token_url")).path
        except ValidationError:
            return None
    origin = urlsplit(token_url)
    return urlunsplit((origin.scheme, origin.netloc, path, template.query, ""))


def error_answers(provider: Provider) -> tuple[ErrorAnswer, ...]:
    """The provider's own wording of standard token errors, as the OAuth layer reads them."""
    return tuple(
        ErrorAnswer(error=a.error, means=a.means, grant_types=a.grant_types, status=a.status,
                    description=a.error_description)
        for a in provider.error_answers
    )


def post_connection_step(provider: Provider) -> PostConnectionStep | None:
    """The provider's post-connection request as the OAuth layer takes it."""
    step = provider.post_connection
    if step is None:
        return None
    return PostConnectionStep(step.url, tuple(step.keep.items()), step.several_as)


def endpoints(provider: Provider, fields: dict[str, Any]) -> dict[str, str | None]:
    """Where the client secret or tokens go, from a connection's column values: the
    authorization, token and revocation URL in force."""
    return {
        "authorization_url": fields["authorization_url"] or None,
        "token_url": fields["token_url"] or None,
        "revocation_url": revocation_url_in_force(
            provider, fields["revocation_url"], fields["placeholders"]
        ),
        # Tokens go there (the API proxy); the provider's template moves with the
        # placeholders, which move the other endpoints too.
        "api_base_url": fields.get("api_base_url") or None,
    }


def stored_fields(connection: Connection) -> dict[str, Any]:
    """The connection's non-secret settings under their column names."""
    return {
        "name": connection.name,
        "description": connection.description,
        "grant_type": connection.grant_type.value,
        "client_id": connection.client_id,
        "authorization_url": connection.authorization_url,
        "token_url": connection.token_url,
        "scopes": list(connection.scopes),
        "pkce": connection.pkce,
        "placeholders": dict(connection.placeholders),
        "client_auth_method": connection.client_auth_method,
        "revocation_url": connection.revocation_url,
        "api_base_url": connection.api_base_url,
    }


def origin(url: str | None) -> Origin | None:
    """The origin (scheme, host, port; RFC 6454) of ``url``; None for no URL."""
    if not url:
        return None
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    default = 443 if scheme == "https" else 80 if scheme == "http" else 0
    return scheme, (parts.hostname or "").lower(), port or default


def moved_endpoints(before: dict[str, str | None], after: dict[str, str | None]) -> list[str]:
    """The endpoints (keys of ``after``) whose new URL points at another origin than before.

    Removing a URL moves nothing; adding one where there was none moves it.
    """
    return [
        field
        for field, url in after.items()
        if url and origin(url) != origin(before.get(field))
    ]


def require_secret_for(moved: list[str]) -> None:
    """Fail closed when endpoints moved to another server and no client secret was typed:
    the stored secret goes only to the origins it was given for.

    Raises ClientSecretRequired naming the first moved endpoint.
    """
    if not moved:
        return
    raise ClientSecretRequired(
        moved_sentence(moved, "the client secret"), field="client_secret", moved=moved
    )


def moved_sentence(moved: list[str], credential: str) -> str:
    """'The token URL now points at another server; enter <credential> again.' for the
    endpoint fields in ``moved`` (one sentence for the secret, the key and their kin)."""
    labels = [ENDPOINT_LABELS[field] for field in moved]
    what = labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]
    verb = "points" if len(labels) == 1 else "point"
    return f"The {what} now {verb} at another server; enter {credential} again."


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


# The settings an update's audit record shows as old -> new; the client secret never.
AUDITED_FIELDS = (
    "name",
    "description",
    "grant_type",
    "client_id",
    "authorization_url",
    "token_url",
    "revocation_url",
    "api_base_url",
    "scopes",
    "pkce",
    "placeholders",
    "client_auth_method",
    "invited_roles",
)


def field_changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``{field: {"old": ..., "new": ...}}`` for each audited field whose value changes."""
    return {
        field: {"old": before.get(field), "new": after[field]}
        for field in AUDITED_FIELDS
        if field in after and after[field] != before.get(field)
    }
