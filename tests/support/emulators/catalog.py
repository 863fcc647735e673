"""Connections made as a user makes them: from a provider's catalog defaults."""

from __future__ import annotations

from typing import Any

from support.desk import BOT_ROLE, Desk
from support.emulators.base import ProviderEmulator
from tokendesk.catalog import load_catalog

CATALOG = load_catalog()


def create_from_catalog(
    desk: Desk,
    emulator: ProviderEmulator,
    name: str,
    *,
    provider: str,
    grant_type: str,
    placeholders: dict[str, str],
    client_id: str,
    **fields: Any,
) -> dict[str, Any]:
    """Create connection ``name`` of ``provider`` with the catalog's defaults for
    ``grant_type`` (scopes, client authentication), ``placeholders`` filled as a user would,
    and the provider's URLs at the emulator (``emulator.at``); ``fields`` add or override
    what the user types (client secret or key, scopes). Returns the created connection."""
    entry = CATALOG.get(provider)
    body: dict[str, Any] = {
        "name": name,
        "provider": provider,
        "grant_type": grant_type,
        "client_id": client_id,
        "placeholders": placeholders,
        "token_url": emulator.at(entry.render(entry.token_url, placeholders, field="token_url")),
        "invited_roles": [BOT_ROLE],
    }
    if grant_type == "authorization_code":
        body["authorization_url"] = emulator.at(
            entry.render(entry.authorization_url, placeholders, field="authorization_url"))
    body.update(fields)
    response = desk.admin.post("/connections", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())
