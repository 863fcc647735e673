"""A provider's end-to-end scene: Tokendesk, the provider's emulator, an administrator and a
bot -- and a connection made the way a person makes one, from the catalog's defaults."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, replace
from typing import Any

import httpx

from support.authorization_server import Client, complete_consent
from support.desk import BOT_ROLE
from support.emulators.base import ProviderEmulator
from support.tokendesk_server import TokendeskServer

PLACEHOLDER = re.compile(r"<([a-z-]+)>")


def filled(template: str | None, placeholders: dict[str, str]) -> str | None:
    """A catalog URL template with its placeholders filled as a user types them."""
    if template is None:
        return None
    return PLACEHOLDER.sub(lambda m: placeholders[m.group(1)], template)


def client_for(client_id: str, grant_type: str, *, scope: str | None = None) -> Client:
    """The provider-side registration of a connection (client secret by form, as the
    catalogs of Google and Salesforce say); its redirect URI is added once known."""
    grants = (grant_type, "refresh_token") if grant_type == "authorization_code" else (
        grant_type,)
    return Client(client_id=client_id, client_secret=f"{client_id}-{secrets.token_urlsafe(18)}",
                  grant_types=grants, token_endpoint_auth_method="client_secret_post",
                  scope=scope)


@dataclass
class Scene:
    """The people of one scenario and the provider they use."""

    tokendesk: TokendeskServer
    emulator: ProviderEmulator
    admin: httpx.Client
    bot: httpx.Client

    def provider(self, key: str) -> dict[str, Any]:
        shown = self.admin.get(f"/providers/{key}")
        assert shown.status_code == 200, shown.text
        return dict(shown.json())

    def catalog_connection(
        self,
        name: str,
        provider: str,
        grant_type: str,
        client: Client,
        *,
        placeholders: dict[str, str] | None = None,
        **typed: Any,
    ) -> dict[str, Any]:
        """Create a connection from ``provider``'s catalog defaults: the placeholders filled,
        the provider's origin swapped for the emulator's, everything else (scopes, client
        authentication, PKCE, authorization parameters) left to the catalog unless ``typed``;
        then register the connection's callback URL at the provider, as an admin would."""
        entry = self.provider(provider)
        values = placeholders or {}
        body: dict[str, Any] = {
            "name": name, "provider": provider, "grant_type": grant_type,
            "client_id": client.client_id, "client_secret": client.client_secret,
            "placeholders": values, "invited_roles": [BOT_ROLE],
            "token_url": self.emulator.at(filled(entry["token_url"], values) or ""),
        }
        if entry["revocation_url"]:
            body["revocation_url"] = self.emulator.at(filled(entry["revocation_url"], values)
                                                      or "")
        if grant_type == "authorization_code":
            body["authorization_url"] = self.emulator.at(
                filled(entry["authorization_url"], values) or "")
        body.update(typed)
        created = self.admin.post("/connections", json=body)
        assert created.status_code == 201, created.text
        connection = dict(created.json())
        redirect_uris = ((connection["callback_url"],) if grant_type == "authorization_code"
                         else ())
        self.register(replace(client, redirect_uris=redirect_uris))
        return connection

    def register(self, client: Client) -> None:
        register = getattr(self.emulator, "register_client", None)
        if register is not None:
            register(client)
        else:
            self.emulator.server.register_client(client)

    def consent_link(self, name: str) -> str:
        """'Test connection' with 'Save login credentials': the link to the provider."""
        verdict = self.admin.post(f"/connections/{name}/test", json={"save_credentials": True})
        assert verdict.status_code == 200, verdict.text
        return str(verdict.json()["authorize_url"])

    def browser(self) -> httpx.Client:
        return httpx.Client(trust_env=False, timeout=30, follow_redirects=False)

    def consent(self, link: str, browser: httpx.Client | None = None, *,
                approve: bool = True) -> httpx.Response:
        """Open a Tokendesk link in a browser, consent at the provider (or deny), and come
        back through the provider's redirect to Tokendesk's callback; returns Tokendesk's
        answer."""
        browser = browser or self.browser()
        url = complete_consent(browser, link, approve=approve)
        while url.startswith(self.emulator.url):  # the provider's own answer, then on
            answer = browser.get(url)
            assert answer.is_redirect, answer.text
            url = answer.headers["location"]
        return browser.get(url)

    def verdict(self, link: str, *, approve: bool = True) -> str:
        """Consent through ``link`` (or deny) and read the result page Tokendesk shows
        afterwards."""
        browser = self.browser()
        landing = self.consent(link, browser, approve=approve)
        assert landing.status_code == 303, landing.text
        page = browser.get(self.tokendesk.url + landing.headers["location"])
        assert page.status_code == 200, page.text
        return page.text

    def handout(self, name: str) -> httpx.Response:
        return self.bot.get(f"/connections/{name}/token", params={"token_type": "shared"})

    def refresh(self, name: str) -> httpx.Response:
        return self.bot.post(f"/connections/{name}/token/refresh",
                             params={"token_type": "shared"})

    def token_state(self, name: str) -> dict[str, Any]:
        [state] = self.admin.get(f"/connections/{name}/tokens").json()
        return dict(state)
