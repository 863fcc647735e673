"""A provider's end-to-end journey: a connection made from the catalog's defaults, as a user
would make it, pointed at the provider's emulator.

:func:`connection_from_catalog` creates the connection with only what the user types (client
ID and secret or key, the placeholders: a region chosen from its list, an instance host; any
field typed over a default) and keeps the URLs Tokendesk filled from the provider's catalog
entry; then the provider's origin in those URLs is swapped for the emulator's
(:meth:`ProviderEmulator.at`), the paths kept, and the client is registered at the provider
with the connection's callback URL, as an admin would.

:class:`HostRoutes` reaches a host the catalog names outright (Atlassian's
``https://api.atlassian.com/oauth/token/accessible-resources``, asked after consent) at the
emulator instead, as a hosts-file entry would: the request goes over real HTTP to the
emulator, every other request goes out unchanged.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import httpx

from support.authorization_server import (
    AUTHORIZATION_CODE,
    REFRESH_TOKEN,
    Client,
    complete_consent,
)
from support.desk import BOT_ROLE
from support.emulators.base import ProviderEmulator
from support.tokendesk_server import TokendeskServer

PLACEHOLDER = re.compile(r"<([a-z-]+)>")
# The fields that carry the client's credential, for each way it authenticates.
KEY_FIELDS = ("client_key", "client_certificate")


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


def client_for(client_id: str, grant_type: str, *, scope: str | None = None,
               client_secret: str | None = None) -> Client:
    """The provider-side registration of a connection (client secret by form, as the
    catalogs of Google and Salesforce say; a fresh secret unless ``client_secret``); its
    redirect URI is added once the connection's callback URL is known."""
    grants = ((grant_type, REFRESH_TOKEN) if grant_type == AUTHORIZATION_CODE
              else (grant_type,))
    return Client(client_id=client_id,
                  client_secret=client_secret or f"{client_id}-{secrets.token_urlsafe(18)}",
                  grant_types=grants, token_endpoint_auth_method="client_secret_post",
                  scope=scope)


def connection_from_catalog(
    admin: httpx.Client,
    emulator: ProviderEmulator,
    *,
    name: str,
    provider: str,
    grant_type: str,
    client: Client,
    placeholders: Mapping[str, str] | None = None,
    register: bool = True,
    **typed: Any,
) -> dict[str, Any]:
    """Create connection ``name`` from ``provider``'s catalog defaults with what the user
    types: ``client``'s ID and secret, the ``placeholders``, and ``typed`` fields over the
    defaults (scopes, a mistyped client ID or secret, ``client_auth_method`` with
    ``client_key`` and ``client_certificate``, a URL). Then swap the provider's origin in
    its URLs for the emulator's, and register ``client`` at the provider (for the code flow
    with the connection's callback URL) unless ``register`` is False (a client the test
    registers its own way, or one the provider must not know).

    Returns the connection as the API shows it, with the URLs Tokendesk filled in first
    under ``catalog_urls``."""
    values = dict(placeholders or {})
    body: dict[str, Any] = {
        "name": name, "provider": provider, "grant_type": grant_type,
        "client_id": client.client_id, "client_secret": client.client_secret,
        "placeholders": values, "invited_roles": [BOT_ROLE], **typed,
    }
    created = admin.post("/connections", json=body)
    assert created.status_code == 201, created.text
    filled = created.json()
    revocation = filled["revocation_url"] or catalog_revocation_url(admin, provider, values)
    swap: dict[str, Any] = {"token_url": emulator.at(filled["token_url"]), **credential(body)}
    if filled["authorization_url"]:
        swap["authorization_url"] = emulator.at(filled["authorization_url"])
    if revocation:
        swap["revocation_url"] = emulator.at(revocation)
    edited = admin.patch(f"/connections/{name}", json=swap)
    assert edited.status_code == 200, edited.text
    connection = dict(edited.json())
    if register:
        callbacks = ((connection["callback_url"],) if grant_type == AUTHORIZATION_CODE
                     else ())
        emulator.register_client(replace(client, redirect_uris=(*client.redirect_uris,
                                                                *callbacks)))
    return {**connection, "catalog_urls": {
        "authorization_url": filled["authorization_url"], "token_url": filled["token_url"],
        "revocation_url": revocation}}


def catalog_revocation_url(admin: httpx.Client, provider: str,
                           placeholders: Mapping[str, str]) -> str | None:
    """The provider's revocation URL from its catalog entry, placeholders filled (a
    connection shows none unless one was typed: the catalog's is in force)."""
    shown = admin.get(f"/providers/{provider}")
    assert shown.status_code == 200, shown.text
    template: str | None = shown.json()["revocation_url"]
    if not template:
        return None
    return PLACEHOLDER.sub(lambda m: placeholders[m.group(1)], template)


def credential(body: Mapping[str, Any]) -> dict[str, Any]:
    """The credential of a connection's ``body``, given again with its new endpoints:
    Tokendesk sends no stored secret or key to a host it was not typed for."""
    if body.get("client_auth_method") == "private_key_jwt":
        return {field: body[field] for field in KEY_FIELDS if field in body}
    return {"client_secret": body["client_secret"]}


def new_browser() -> httpx.Client:
    """A person's browser: no proxy from the environment, each redirect followed by hand."""
    return httpx.Client(trust_env=False, timeout=30, follow_redirects=False)


def consent_link(admin: httpx.Client, name: str) -> str:
    """'Test connection' with 'Save login credentials': the link to the provider's consent."""
    tested = admin.post(f"/connections/{name}/test", json={"save_credentials": True})
    assert tested.status_code == 200, tested.text
    return str(tested.json()["authorize_url"])


def consent(emulator: ProviderEmulator, link: str, browser: httpx.Client | None = None, *,
            approve: bool = True) -> httpx.Response:
    """Open a Tokendesk consent link in a browser, log in and consent at the provider (or
    deny), and come back through the provider's own answer -- the emulator's relay, which
    sends the browser on to the connection's callback URL as the provider does; returns
    Tokendesk's answer at the callback URL. Raises AuthorizationError on the provider's
    error page."""
    browser = browser or new_browser()
    url = complete_consent(browser, link, approve=approve)
    assert url.startswith(emulator.url), url  # the real server answers at the emulator
    while url.startswith(emulator.url):
        answer = browser.get(url)
        assert answer.status_code == 302, answer.text
        url = answer.headers["location"]
    return browser.get(url)


def verdict(tokendesk: TokendeskServer, emulator: ProviderEmulator, link: str, *,
            approve: bool = True) -> str:
    """Consent through ``link`` (or deny) and read the result page Tokendesk's callback sent
    the browser to."""
    browser = new_browser()
    landing = consent(emulator, link, browser, approve=approve)
    assert landing.status_code == 303, landing.text
    page = browser.get(tokendesk.url + landing.headers["location"])
    assert page.status_code == 200, page.text
    return page.text
