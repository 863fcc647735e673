"""A scenario's cast for end-to-end tests: Tokendesk, the authorization server, people, bots."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

import httpx

from support.api import ADMIN_PASSWORD
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

    def sign_in(self, browser: httpx.Client, username: str) -> None:
        """Sign ``browser`` in to the console as ``username`` (through the sign-in form)."""
        form = browser.get(self.server.url + "/sign-in")
        token = re.search(r'name="csrf_token" value="([^"]*)"', form.text)
        assert token is not None, form.text
        signed_in = browser.post(self.server.url + "/sign-in", data={
            "username": username, "password": ADMIN_PASSWORD, "next": "/",
            "csrf_token": token.group(1)})
        assert signed_in.status_code == 303, signed_in.text

    def consent(
        self,
        link: str,
        browser: httpx.Client | None = None,
        user: str = "alice",
        *,
        as_user: str | None = None,
    ) -> httpx.Response:
        """Open a Tokendesk link in a browser, consent at the provider (as the provider's
        ``user``), come back. A link for a user-specific token is opened signed in to
        Tokendesk as ``as_user``, confirmed on the page that names him, then followed."""
        browser = browser or self.browser()
        if as_user is not None:
            self.sign_in(browser, as_user)
            confirmed = browser.post(link)
            assert confirmed.status_code == 303, confirmed.text
            link = confirmed.headers["location"]
        callback = self.oauth.complete_consent(browser, link, user)
        return browser.get(callback)
