"""Helpers shared by the API, CLI and end-to-end tests."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi.testclient import TestClient

from tokendesk.crypto import KeyRing
from tokendesk.domain.principal import command_line_principal
from tokendesk.services.inputs import ApiKeyCreate, RoleCreate, UserCreate
from tokendesk.wiring import Tokendesk

ADMIN_PASSWORD = "correct horse battery staple"
CLIENT_SECRET = "cs-7f3a9c2e-very-secret-value"


def keyring_spec(ring: KeyRing) -> str:
    """The ``TOKENDESK_ENCRYPTION_KEYS`` value of ``ring``."""
    doc = json.loads(ring.to_json())
    return ",".join(f"{kid}:{material}" for kid, material in doc["keys"].items())


@dataclass
class Api:
    """An HTTP client on the app, signed with one API key."""

    http: TestClient
    key: str

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.key}", **kwargs.pop("headers", {})}
        return self.http.request(method, "/api/v1" + path, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.call("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.call("PATCH", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.call("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.call("DELETE", path, **kwargs)


def key_for(td: Tokendesk, username: str) -> str:
    with td.transaction() as tx:
        return td.auth.create_api_key(
            tx, command_line_principal(), ApiKeyCreate(name="tests", user=username)
        ).key


def make_user(
    td: Tokendesk, username: str, *, roles: Sequence[str] = (), permissions: Sequence[str] = ()
) -> str:
    """Create a user (and a custom role with ``permissions`` when given); returns an API key."""
    actor = command_line_principal()
    with td.transaction() as tx:
        role_names = list(roles)
        if permissions:
            td.accounts.create_role(
                tx, actor, RoleCreate(name=f"{username}-role", permissions=list(permissions))
            )  # type: ignore[arg-type]
            role_names.append(f"{username}-role")
        td.accounts.create_user(
            tx,
            actor,
            UserCreate(
                username=username,
                password=ADMIN_PASSWORD,  # type: ignore[arg-type]
                roles=role_names,
            ),
        )
    return key_for(td, username)


def connection_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Salesforce prod",
        "description": "CRM for the sales bots",
        "provider": "salesforce",
        "grant_type": "authorization_code",
        "client_id": "3MVG9-client-id",
        "client_secret": CLIENT_SECRET,
        "placeholders": {"yourinstance": "acme"},
        "scopes": "api,refresh_token,offline_access",
    }
    body.update(overrides)
    return body
