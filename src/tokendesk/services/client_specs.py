"""What the OAuth layer needs to call a connection's provider (``ClientSpec``), built from a
stored connection or from what the wizard holds before anything is stored."""

from __future__ import annotations

from collections.abc import Sequence

from tokendesk.catalog import Provider
from tokendesk.domain.secret import Secret
from tokendesk.oauth.assertion import ClientKey
from tokendesk.oauth.client import ClientSpec
from tokendesk.services.connection_rules import (
    error_answers,
    introspection_url_in_force,
    post_connection_step,
    revocation_url_in_force,
)


def build_client_spec(
    provider: Provider,
    *,
    client_id: str,
    client_secret: Secret | None,
    token_url: str,
    authorization_url: str,
    revocation_url: str | None,
    scopes: Sequence[str],
    placeholders: dict[str, str],
    client_auth_method: str | None,
    client_key: Secret | None,
    client_certificate: str | None,
    pkce: bool,
) -> ClientSpec:
    """The ClientSpec of one connection of ``provider`` (secret and key included)."""
    method = client_auth_method or provider.client_auth_method
    key = (ClientKey(client_key, client_certificate, provider.assertion_certificate_header)
           if client_key is not None and method == "private_key_jwt" else None)
    return ClientSpec(
        client_id=client_id,
        client_secret=client_secret,
        token_url=token_url,
        authorization_url=authorization_url,
        revocation_url=revocation_url_in_force(provider, revocation_url, placeholders),
        scopes=tuple(scopes),
        scope_separator=provider.scope_separator,
        client_auth_method=method,
        client_key=key,
        pkce=pkce,
        authorization_params=tuple(provider.authorization_params.items()),
        default_token_lifetime_s=provider.default_token_lifetime_s,
        expires_in_unit=provider.expires_in_unit,
        keep_response_fields=tuple(provider.keep_response_fields),
        transient_error_codes=provider.transient_error_codes,
        error_verdicts=tuple(provider.error_verdicts.items()),
        error_answers=error_answers(provider),
        refresh_scope=provider.refresh_scope,
        introspection_url=introspection_url_in_force(provider, token_url, placeholders),
        post_connection=post_connection_step(provider),
    )
