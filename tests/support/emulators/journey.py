"""A provider's end-to-end journey: a connection made from the catalog's defaults, as a user
would make it, pointed at the provider's emulator.

:func:`connection_from_catalog` creates the connection with only what the user types (client
ID and secret, the placeholders: a region chosen from its list, an instance host) and checks
that Tokendesk filled the provider's documented URLs; then the provider's origin in those URLs
is swapped for the emulator's (:meth:`ProviderEmulator.at`), the paths kept.

:class:`HostRoutes` reaches a host the catalog names outright (Atlassian's
``https://api.atlassian.com/oauth/token/accessible-resources``, asked after consent) at the
emulator instead, as a hosts-file entry would: the request goes over real HTTP to the
emulator, every other request goes out unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import httpx

from support.authorization_server import AuthorizationServer, Client
from support.desk import BOT_ROLE, Desk
from support.emulators.base import ProviderEmulator


class HostRoutes(httpx.BaseTransport):
    """Sends a request for one of ``routes``' origins to the origin it maps to (path and
    query kept); every other request as it is."""

    def __init__(self, routes: Mapping[str, str]) -> None:
        self.routes = {origin.rstrip("/"): target.rstrip("/") for origin, target in routes.items()}
        self._http = httpx.HTTPTransport(trust_env=False)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        origin = f"{request.url.scheme}://{request.url.netloc.decode()}"
        target = self.routes.get(origin)
        if target is not None:
            swapped = httpx.URL(target)
            request.url = request.url.copy_with(scheme=swapped.scheme, host=swapped.host,
                                                port=swapped.port)
            request.headers["Host"] = swapped.netloc.decode()
        return self._http.handle_request(request)

    def close(self) -> None:
        self._http.close()


def connection_from_catalog(
    admin: httpx.Client,
    emulator: ProviderEmulator,
    *,
    name: str,
    provider: str,
    grant_type: str,
    client: Client,
    placeholders: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Create the connection from the catalog's defaults, then swap the provider's origin
    in its URLs for the emulator's; returns the connection as the API shows it, with the
    URLs Tokendesk filled in first under ``catalog_urls``."""
    created = admin.post("/connections", json={
        "name": name, "provider": provider, "grant_type": grant_type,
        "client_id": client.client_id, "client_secret": client.client_secret,
        "placeholders": dict(placeholders or {}), "invited_roles": [BOT_ROLE],
    })
    assert created.status_code == 201, created.text
    filled = created.json()
    # The secret goes with the new endpoints: Tokendesk sends no stored secret to a new host.
    swap: dict[str, Any] = {"token_url": emulator.at(filled["token_url"]),
                            "client_secret": client.client_secret}
    if filled["authorization_url"]:
        swap["authorization_url"] = emulator.at(filled["authorization_url"])
    revocation = admin.get(f"/providers/{provider}").json()["revocation_url"]
    if revocation:
        for key, value in (placeholders or {}).items():
            revocation = revocation.replace(f"<{key}>", value)
        swap["revocation_url"] = emulator.at(revocation)
    edited = admin.patch(f"/connections/{name}", json=swap)
    assert edited.status_code == 200, edited.text
    return {**edited.json(), "catalog_urls": {
        "authorization_url": filled["authorization_url"], "token_url": filled["token_url"],
        "revocation_url": revocation}}


def register_callback(server: AuthorizationServer, client: Client, callback_url: str) -> None:
    """Register the connection's own callback URL at the provider, as an admin would."""
    server.register_client(replace(client, redirect_uris=(*client.redirect_uris, callback_url)))


def consent(desk: Desk, link: str, browser: httpx.Client | None = None) -> httpx.Response:
    """Open a Tokendesk consent link in a browser, log in and consent at the provider, come
    back through the emulator's callback relay (support/emulators/callbacks.py); returns
    Tokendesk's answer at the connection's callback URL."""
    browser = browser or desk.browser()
    answer = browser.get(desk.oauth.complete_consent(browser, link))  # the emulator's relay
    assert answer.status_code == 302, answer.text
    return browser.get(answer.headers["location"])


def verdict_page(desk: Desk, browser: httpx.Client, landing: httpx.Response) -> str:
    """The text of the result page Tokendesk's callback sent the browser to."""
    assert landing.status_code == 303, landing.text
    return browser.get(desk.server.url + landing.headers["location"]).text
