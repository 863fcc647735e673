"""Microsoft Entra, Microsoft 365 Outlook and SharePoint, end to end against the Microsoft
identity platform's emulator (``support.emulators.microsoft``, which cites the documentation):
connections made from the catalog's defaults, consent or client credentials, handout,
refresh, disconnection; and each documented AADSTS failure shown as a plain verdict."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from support.client_keys import key_pair
from support.desk import Desk
from support.emulators.base import form_of, query_of
from support.emulators.catalog import create_from_catalog
from support.emulators.microsoft import MicrosoftEmulator, fingerprint
from support.tokendesk_server import Clock
from tokendesk.tokens.refresh import FORCED_REFRESH_INTERVAL_S

TENANT = "contoso.onmicrosoft.com"
SHAREPOINT = "contoso.sharepoint.com"
SECRET = "entra-secret~Value.7Q"
Start = Callable[[type[MicrosoftEmulator]], MicrosoftEmulator]


@pytest.fixture
def microsoft(emulator: Start) -> MicrosoftEmulator:
    return emulator(MicrosoftEmulator)


def code_flow(desk: Desk, microsoft: MicrosoftEmulator, name: str, provider: str = "microsoft_entra",
              *, scopes: str | None = None, placeholders: dict[str, str] | None = None) -> str:
    """A code-flow connection from the catalog, its app registered with the connection's
    callback URL, consented as the shared token; returns the app's client ID."""
    client_id = f"app-{fingerprint(name)}"
    typed = {"scopes": scopes} if scopes is not None else {}
    created = create_from_catalog(
        desk, microsoft, name, provider=provider, grant_type="authorization_code",
        placeholders=placeholders or {"tenant": TENANT}, client_id=client_id,
        client_secret=SECRET, **typed)
    microsoft.register_app(client_id, client_secret=SECRET,
                           redirect_uris=(created["callback_url"],))
    link = desk.admin.post(f"/connections/{name}/test", json={"save_credentials": True})
    assert link.status_code == 200, link.text
    landing = consent(desk, link.json()["authorize_url"])
    assert landing.status_code == 303, landing.text
    return client_id


def consent(desk: Desk, link: str) -> httpx.Response:
    """Open a Tokendesk consent link, consent at the provider, come back through the
    provider's redirect (the emulator's, which passes the answer on as Entra sends it)."""
    browser = desk.browser()
    answer = browser.get(desk.oauth.complete_consent(browser, link))
    assert answer.status_code == 302, answer.text
    return browser.get(answer.headers["location"])


def app_only(desk: Desk, microsoft: MicrosoftEmulator, name: str, *, secret: str = SECRET,
             registered: bool = True, provider: str = "microsoft_entra",
             **fields: Any) -> dict[str, Any]:
    """A client-credentials connection from the catalog and the test connection's verdict."""
    client_id = f"app-{fingerprint(name)}"
    if registered:
        microsoft.register_app(client_id, client_secret=SECRET)
    create_from_catalog(desk, microsoft, name, provider=provider,
                        grant_type="client_credentials", placeholders={"tenant": TENANT},
                        client_id=client_id, client_secret=secret, **fields)
    verdict = desk.admin.post(f"/connections/{name}/test", json={"save_credentials": True})
    assert verdict.status_code == 200, verdict.text
    return dict(verdict.json())


def forced_refresh(desk: Desk, clock: Clock, name: str) -> Any:
    clock.advance(FORCED_REFRESH_INTERVAL_S + 1)  # past the window that answers without a call
    return desk.bot.post(f"/connections/{name}/token/refresh", params={"token_type": "shared"})


def token_state(desk: Desk, name: str) -> dict[str, Any]:
    states = desk.admin.get(f"/connections/{name}/tokens").json()
    return dict(next(s for s in states if s["kind"] == "shared"))


def token_answers(microsoft: MicrosoftEmulator) -> list[dict[str, Any]]:
    return [form_of(r) for r in microsoft.requests_to("/oauth2/v2.0/token")]


# --- the three providers, end to end -------------------------------------------------------


def test_an_entra_connection_from_the_catalog_consents_hands_out_rotates_and_disconnects(
    desk: Desk, microsoft: MicrosoftEmulator, clock: Clock
) -> None:
    client_id = code_flow(desk, microsoft, "Graph")

    first = desk.bot.get("/connections/Graph/token", params={"token_type": "shared"})
    renewed = forced_refresh(desk, clock, "Graph")
    again = forced_refresh(desk, clock, "Graph")
    disconnected = desk.admin.delete("/connections/Graph/tokens/shared")
    after = desk.bot.get("/connections/Graph/token", params={"token_type": "shared"})

    authorize = query_of(microsoft.requests_to("/oauth2/v2.0/authorize")[0])
    assert microsoft.requests_to("/oauth2/v2.0/authorize")[0].url.path == (
        f"/{TENANT}/oauth2/v2.0/authorize")
    assert authorize["scope"].split() == [
        "offline_access", "openid", "https://graph.microsoft.com/.default"]
    assert authorize["code_challenge_method"] == "S256"
    assert first.status_code == renewed.status_code == again.status_code == 200, renewed.text
    assert len({first.json()["access_token"], renewed.json()["access_token"],
                again.json()["access_token"]}) == 3
    sent = [f["refresh_token"] for f in token_answers(microsoft) if "refresh_token" in f]
    issued = microsoft.apps[client_id].issued_refresh_tokens
    assert len(issued) == 3 and len(set(issued)) == 3  # a new refresh token at every use
    assert sent == issued[:2]  # each refresh used the token the previous answer rotated in
    assert {f["client_secret"] for f in token_answers(microsoft)} == {SECRET}  # secret_post
    assert disconnected.status_code == 200, disconnected.text
    assert disconnected.json()["revoked_at_provider"] is False  # Microsoft has no RFC 7009
    assert "Revoke sessions" in disconnected.json()["message"]  # the catalog says what to do
    assert after.status_code != 200


def test_an_outlook_connection_gets_app_only_tokens_with_the_graph_default_scope(
    desk: Desk, microsoft: MicrosoftEmulator, clock: Clock
) -> None:
    verdict = app_only(desk, microsoft, "Mailboxes", provider="microsoft_365_outlook")

    first = desk.bot.get("/connections/Mailboxes/token")
    renewed = forced_refresh(desk, clock, "Mailboxes")
    disconnected = desk.admin.delete("/connections/Mailboxes/tokens/shared")
    after = desk.bot.get("/connections/Mailboxes/token")

    assert verdict["ok"] is True, verdict
    assert first.status_code == renewed.status_code == 200, renewed.text
    assert renewed.json()["access_token"] != first.json()["access_token"]
    forms = token_answers(microsoft)
    assert {f["grant_type"] for f in forms} == {"client_credentials"}
    assert {f["scope"] for f in forms} == {"https://graph.microsoft.com/.default"}
    assert disconnected.status_code == 200, disconnected.text
    assert disconnected.json()["revoked_at_provider"] is False  # Microsoft has no RFC 7009
    assert after.status_code == 200, after.text  # client credentials: a new token on demand
    assert after.json()["access_token"] != renewed.json()["access_token"]
    assert len(token_answers(microsoft)) == 3


def test_a_sharepoint_app_only_connection_by_certificate_reads_the_site(
    desk: Desk, microsoft: MicrosoftEmulator, clock: Clock
) -> None:
    pair = key_pair("sharepoint-app")
    microsoft.register_app("sharepoint-app", certificate=pair)
    create_from_catalog(
        desk, microsoft, "Intranet", provider="sharepoint", grant_type="client_credentials",
        placeholders={"tenant-id": TENANT, "domain-name": SHAREPOINT}, client_id="sharepoint-app",
        client_auth_method="private_key_jwt", client_key=pair.key_pem,
        client_certificate=pair.certificate_pem, client_secret="")

    verdict = desk.admin.post("/connections/Intranet/test", json={"save_credentials": True})
    first = desk.bot.get("/connections/Intranet/token")
    site = microsoft.site(first.json()["access_token"])
    renewed = forced_refresh(desk, clock, "Intranet")
    disconnected = desk.admin.delete("/connections/Intranet/tokens/shared")

    assert verdict.status_code == 200 and verdict.json()["ok"] is True, verdict.text
    assert first.status_code == renewed.status_code == 200, renewed.text
    assert site.status_code == 200, site.text
    assert renewed.json()["access_token"] != first.json()["access_token"]
    forms = token_answers(microsoft)
    assert {f["scope"] for f in forms} == {f"https://{SHAREPOINT}/.default"}
    assert {f["client_assertion_type"] for f in forms} == {
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}
    assert all("client_secret" not in f for f in forms)
    assert disconnected.status_code == 200, disconnected.text
    assert disconnected.json()["revoked_at_provider"] is False  # Microsoft has no RFC 7009
