"""The wizard's draft as the services see it: inputs for create and update, and the steps."""

from __future__ import annotations

import re
from typing import Any

from pydantic import SecretStr

from tokendesk.catalog import Provider
from tokendesk.domain.connections import Connection, GrantType
from tokendesk.domain.urls import PLACEHOLDER_RE
from tokendesk.errors import ValidationError
from tokendesk.services.inputs import ConnectionCreate, ConnectionUpdate
from tokendesk.web.console.base import build_input
from tokendesk.web.console.store import Draft

STEPS = (
    ("settings", "Connection settings"),
    ("authentication", "Authentication details"),
    ("test", "Test connection and save credentials"),
    ("roles", "Invite roles"),
    ("review", "Create connection"),
)
STEP_NUMBERS = {key: number for number, (key, _title) in enumerate(STEPS, start=1)}
FIELD_STEPS = {
    "provider": "settings", "name": "settings", "description": "settings",
    "invited_roles": "roles",
}  # every other field is an authentication detail
CLIENT_AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt")
# The fields an edit compares with the stored connection; only those that differ are sent.
EDITABLE = ("name", "description", "grant_type", "client_id", "authorization_url",
            "token_url", "scopes", "placeholders", "client_auth_method", "pkce",
            "revocation_url", "api_base_url", "invited_roles", "client_certificate")


def step_of(field: str | None) -> str:
    return FIELD_STEPS.get(field or "", "authentication")


def apply_template(draft: Draft, provider: Provider) -> None:
    """Prefill the authentication details from ``provider``'s templates (a new draft, or a
    draft whose provider changed)."""
    draft.grant_type = ("authorization_code" if "authorization_code" in provider.grant_types
                        else provider.grant_types[0])
    draft.authorization_url = provider.authorization_url
    draft.token_url = provider.token_url
    draft.scopes = default_scopes_text(provider, draft.grant_type)
    draft.placeholders = {}
    draft.client_auth_method = ""
    draft.pkce = provider.pkce
    draft.revocation_url = ""
    draft.api_base_url = ""
    draft.template_of = provider.key


def default_scopes_text(provider: Provider, grant_type: str) -> str:
    """The Scope field's text for ``grant_type``'s default scopes (comma-separated)."""
    return ",".join(provider.defaults(grant_type).default_scopes)


def switch_grant_defaults(draft: Draft, provider: Provider, previous: str) -> bool:
    """Put the new grant type's default scopes in the draft when its grant type changed from
    ``previous`` and its scopes are still the defaults of ``previous`` (never what was typed).

    Returns True when the scopes changed.
    """
    if not previous or draft.grant_type in ("", previous):
        return False
    old, new = (default_scopes_text(provider, g) for g in (previous, draft.grant_type))
    if old == new or _scope_list(draft.scopes) != _scope_list(old):
        return False
    draft.scopes = new
    return True


def _scope_list(scopes: str) -> list[str]:
    return [s.strip() for s in scopes.replace(" ", ",").split(",") if s.strip()]


def filled_url(provider: Provider | None, template: str, placeholders: dict[str, str]) -> str:
    """``template`` with each placeholder typed so far filled in: the real address. A
    placeholder not typed yet, or whose value is not valid, stays ``<name>``."""
    if provider is None:
        return template
    declared = {p.name: p for p in provider.placeholders}

    def fill(match: re.Match[str]) -> str:
        spec, value = declared.get(match.group(1)), placeholders.get(match.group(1), "")
        if spec is None or not value.strip():
            return match.group(0)
        try:
            return spec.accept(value, field="placeholders")
        except ValidationError:
            return match.group(0)

    return PLACEHOLDER_RE.sub(fill, template)


def draft_urls(draft: Draft, provider: Provider | None) -> dict[str, str]:
    """The draft's URLs as they will be called: authorization, token and revocation URL."""
    return {name: filled_url(provider, value, draft.placeholders) for name, value in (
        ("authorization_url", draft.authorization_url), ("token_url", draft.token_url),
        ("revocation_url", draft.revocation_url))}


def load_connection(draft: Draft, connection: Connection) -> None:
    """Make ``draft`` show ``connection`` as stored (its secret stays stored)."""
    draft.editing = connection.name
    draft.connection_id, draft.shared_callback = connection.id, connection.shared_callback
    draft.provider = connection.provider
    draft.template_of = connection.provider
    draft.name = connection.name
    draft.description = connection.description
    draft.grant_type = connection.grant_type.value
    draft.client_id = connection.client_id
    draft.secret_ciphertext = None
    draft.secret_stored = connection.has_client_secret
    draft.key_ciphertext = None
    draft.key_stored = connection.has_client_key
    draft.client_certificate = (connection.client_certificate or "").strip()
    draft.authorization_url = connection.authorization_url
    draft.token_url = connection.token_url
    draft.scopes = ",".join(connection.scopes)
    draft.placeholders = dict(connection.placeholders)
    draft.client_auth_method = connection.client_auth_method or ""
    draft.pkce = connection.pkce
    draft.revocation_url = connection.revocation_url or ""
    draft.api_base_url = connection.api_base_url or ""
    draft.invited_roles = list(connection.invited_roles)
    draft.original = _snapshot(draft)


def merge_presets(scopes: str, provider: Provider, chosen: list[str]) -> str:
    """``scopes`` with the scopes of the chosen presets (Google Calendar, Drive, ...) added."""
    current = [s for s in scopes.replace(" ", ",").split(",") if s.strip()]
    for preset in chosen:
        for scope in provider.scope_presets.get(preset, ()):
            if scope not in current:
                current.append(scope)
    return ",".join(s.strip() for s in current)


def create_input(draft: Draft, secret: str, key: str | None = None) -> ConnectionCreate:
    """The draft as ConnectionCreate; raises ValidationError naming the field."""
    return build_input(ConnectionCreate, {
        "name": draft.name, "description": draft.description, "provider": draft.provider,
        **_details(draft), "client_secret": SecretStr(secret),
        "client_key": SecretStr(key) if key else None,
        "invited_roles": list(draft.invited_roles),
    })


def update_input(draft: Draft, secret: str | None, key: str | None = None) -> ConnectionUpdate:
    """The fields the draft changed since it was loaded, and a newly typed secret."""
    now = _snapshot(draft)
    values: dict[str, Any] = {k: v for k, v in now.items() if draft.original.get(k) != v}
    if "placeholders" in values:  # URLs are filled from the placeholders again
        values.update(authorization_url=now["authorization_url"], token_url=now["token_url"])
    details = _details(draft)
    values = {k: details.get(k, v) for k, v in values.items()}
    if "api_base_url" in values and not now["api_base_url"]:
        values["api_base_url"] = ""  # emptied: the provider's API base URL again
    if values.get("client_auth_method") == "":
        values.pop("client_auth_method")
    if secret:
        values["client_secret"] = SecretStr(secret)
    if key:
        values["client_key"] = SecretStr(key)
    return build_input(ConnectionUpdate, values)


def _details(draft: Draft) -> dict[str, Any]:
    code_flow = draft.grant_type == GrantType.AUTHORIZATION_CODE.value
    return {
        "grant_type": draft.grant_type,
        "client_id": draft.client_id,
        "authorization_url": draft.authorization_url if code_flow else None,
        "token_url": draft.token_url,
        "scopes": draft.scopes,
        "placeholders": {k: v for k, v in draft.placeholders.items() if v.strip()},
        "client_auth_method": draft.client_auth_method or None,
        "pkce": draft.pkce,
        "revocation_url": draft.revocation_url or None,
        "api_base_url": draft.api_base_url or None,
        "client_certificate": draft.client_certificate or None,
        "invited_roles": list(draft.invited_roles),
        "name": draft.name,
        "description": draft.description,
    }


def fingerprint(draft: Draft) -> dict[str, object]:
    """What a test tried: the draft's settings and which secret and key it held. A verdict
    given for another fingerprint no longer tells the truth about the draft."""
    tried = {k: v for k, v in _snapshot(draft).items()
             if k not in ("name", "description", "invited_roles")}
    return {**tried, "secret": draft.secret_ciphertext or draft.secret_stored,
            "key": draft.key_ciphertext or draft.key_stored, "provider": draft.provider}


def _snapshot(draft: Draft) -> dict[str, object]:
    return {
        "name": draft.name, "description": draft.description, "grant_type": draft.grant_type,
        "client_id": draft.client_id, "authorization_url": draft.authorization_url,
        "token_url": draft.token_url, "scopes": draft.scopes,
        "placeholders": dict(draft.placeholders),
        "client_auth_method": draft.client_auth_method, "pkce": draft.pkce,
        "revocation_url": draft.revocation_url, "api_base_url": draft.api_base_url,
        "invited_roles": sorted(draft.invited_roles),
        "client_certificate": draft.client_certificate,
    }
