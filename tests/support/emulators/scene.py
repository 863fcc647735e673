"""A provider's end-to-end scene: Tokendesk, the provider's emulator, an administrator and a
bot; connections are made from the catalog's defaults by
``support.emulators.journey.connection_from_catalog``, consent and its verdict go through
the journey's :func:`~support.emulators.journey.consent` and
:func:`~support.emulators.journey.verdict`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from support.emulators.base import ProviderEmulator
from support.emulators.journey import consent, consent_link, verdict
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
        return consent_link(self.admin, name)

    def consent(self, link: str, *, approve: bool = True) -> httpx.Response:
        return consent(self.emulator, link, approve=approve)

    def verdict(self, link: str, *, approve: bool = True) -> str:
        return verdict(self.tokendesk, self.emulator, link, approve=approve)

    def handout(self, name: str) -> httpx.Response:
        return self.bot.get(f"/connections/{name}/token", params={"token_type": "shared"})

    def refresh(self, name: str) -> httpx.Response:
        return self.bot.post(f"/connections/{name}/token/refresh",
                             params={"token_type": "shared"})

    def token_state(self, name: str) -> dict[str, Any]:
        [state] = self.admin.get(f"/connections/{name}/tokens").json()
        return dict(state)
