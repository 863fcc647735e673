"""A provider's end-to-end scene: Tokendesk, the provider's emulator, an administrator and a
bot; connections are made from the catalog's defaults by
``support.emulators.journey.connection_from_catalog``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from support.authorization_server import complete_consent
from support.emulators.base import ProviderEmulator
from support.tokendesk_server import TokendeskServer


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
