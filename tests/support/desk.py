"""A scenario's cast for end-to-end tests: Tokendesk, the authorization server, people, bots."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import httpx

from support.authorization_server import AuthorizationServer
from support.tokendesk_server import TokendeskServer

BOT_ROLE = "Sales bots"


@dataclass
class Desk:
    """The people and bots of one scenario, each with an API client."""

    server: TokendeskServer
    oauth: AuthorizationServer
    admin: httpx.Client
    bot: httpx.Client

    def create_connection(self, name: str, client_id: str, **overrides: Any) -> dict[str, Any]:
        client = self.oauth.clients[client_id]
        code_flow = "authorization_code" in client.grant_types
        body: dict[str, Any] = {
            "name": name,
            "provider": "custom",
            "grant_type": "authorization_code" if code_flow else "client_credentials",
            "client_id": client.client_id,
            "client_secret": client.client_secret,
            "token_url": self.oauth.token_endpoint,
            "revocation_url": self.oauth.revocation_endpoint,
            "scopes": "openid offline_access api:read" if code_flow else "api:read",
            "client_auth_method": client.token_endpoint_auth_method,
            "invited_roles": [BOT_ROLE],
        }
        if code_flow:
            body["authorization_url"] = self.oauth.authorization_endpoint + "?prompt=consent"
        body.update(overrides)
        response = self.admin.post("/connections", json=body)
        assert response.status_code == 201, response.text
        if code_flow:  # register the connection's own callback URL, as an admin would
            self.oauth.register_client(replace(client, redirect_uris=(
                *client.redirect_uris, response.json()["callback_url"])))
        return dict(response.json())

    def browser(self) -> httpx.Client:
        return httpx.Client(trust_env=False, timeout=30, follow_redirects=False)

    def consent(
        self, link: str, browser: httpx.Client | None = None, user: str = "alice"
    ) -> httpx.Response:
        """Open a Tokendesk link in a browser, consent at the provider, come back."""
        browser = browser or self.browser()
        callback = self.oauth.complete_consent(browser, link, user)
        return browser.get(callback)
