"""Microsoft Entra, Microsoft 365 Outlook and SharePoint, end to end against the Microsoft
identity platform's emulator (``support.emulators.microsoft``, which cites the documentation):
connections made from the catalog's defaults, consent or client credentials, handout,
refresh, disconnection; and each documented AADSTS failure shown as a plain verdict."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import pytest

from support.authorization_server import Client
from support.client_keys import key_pair
from support.desk import Desk
from support.emulators.base import form_of, query_of
from support.emulators.journey import (
    client_for,
    connection_from_catalog,
    consent,
    consent_link,
    verdict,
)
from support.emulators.microsoft import MicrosoftEmulator, fingerprint
from support.tokendesk_server import Clock
from tokendesk.tokens.refresh import FORCED_REFRESH_INTERVAL_S

TENANT = "contoso.onmicrosoft.com"
SHAREPOINT = "contoso.sharepoint.com"
SECRET = "entra-secret~Value.7Q"
TOKEN_LIFETIME_S = 120  # more than the real server's access token lifetime (60 s)
Start = Callable[[type[MicrosoftEmulator]], MicrosoftEmulator]


@pytest.fixture
def microsoft(emulator: Start) -> MicrosoftEmulator:
    return emulator(MicrosoftEmulator)


def entra_app(name: str, grant_type: str) -> Client:
    """The app registration of connection ``name``, with the client secret ``SECRET``."""
    return client_for(f"app-{fingerprint(name)}", grant_type, client_secret=SECRET)


def from_catalog(desk: Desk, microsoft: MicrosoftEmulator, name: str, grant_type: str,
                 app: Client, *, provider: str = "microsoft_entra",
                 placeholders: dict[str, str] | None = None, **typed: Any) -> dict[str, Any]:
    """A connection from ``provider``'s catalog defaults (the tenant filled in), ``app``
    registered in Entra with the connection's callback URL (code flow)."""
    return connection_from_catalog(
        desk.admin, microsoft, name=name, provider=provider, grant_type=grant_type, client=app,
        placeholders=placeholders or {"tenant": TENANT}, **typed)


def code_flow(desk: Desk, microsoft: MicrosoftEmulator, name: str, provider: str = "microsoft_entra",
              *, scopes: str | None = None, placeholders: dict[str, str] | None = None) -> str:
    """A code-flow connection from the catalog, its app registered with the connection's
    callback URL, consented as the shared token; returns the app's client ID."""
    app = entra_app(name, "authorization_code")
    typed = {"scopes": scopes} if scopes is not None else {}
    from_catalog(desk, microsoft, name, "authorization_code", app, provider=provider,
                 placeholders=placeholders, **typed)
    landing = consent(microsoft, consent_link(desk.admin, name))
    assert landing.status_code == 303, landing.text
    return app.client_id


def app_only(desk: Desk, microsoft: MicrosoftEmulator, name: str, *, secret: str = SECRET,
             registered: bool = True, provider: str = "microsoft_entra",
             **fields: Any) -> dict[str, Any]:
    """A client-credentials connection from the catalog (its app registered in Entra unless
    not ``registered``, the client secret typed ``secret``) and the test connection's
    verdict."""
    from_catalog(desk, microsoft, name, "client_credentials", entra_app(name, "client_credentials"),
                 provider=provider, register=registered, client_secret=secret, **fields)
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
    assert again.json()["scope"] == "https://graph.microsoft.com/.default"  # Microsoft's words
    sent = [f["refresh_token"] for f in token_answers(microsoft) if "refresh_token" in f]
    issued = microsoft.apps[client_id].issued_refresh_tokens
    assert len(issued) == 3 and len(set(issued)) == 3  # a new refresh token at every use
    assert sent == issued[:2]  # each refresh used the token the previous answer rotated in
    refreshes = [f for f in token_answers(microsoft) if f["grant_type"] == "refresh_token"]
    assert {f["scope"] for f in refreshes} == {authorize["scope"]}  # required by Entra
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
    from_catalog(
        desk, microsoft, "Intranet", "client_credentials",
        client_for("sharepoint-app", "client_credentials"), provider="sharepoint",
        placeholders={"tenant-id": TENANT, "domain-name": SHAREPOINT},
        register=False,  # registered above, with its certificate
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


def test_sharepoint_refuses_an_app_only_token_obtained_with_a_client_secret(
    desk: Desk, microsoft: MicrosoftEmulator
) -> None:
    from_catalog(
        desk, microsoft, "Intranet", "client_credentials",
        client_for("sharepoint-secret-app", "client_credentials", client_secret=SECRET),
        provider="sharepoint", placeholders={"tenant-id": TENANT, "domain-name": SHAREPOINT})

    verdict = desk.admin.post("/connections/Intranet/test", json={"save_credentials": True})
    token = desk.bot.get("/connections/Intranet/token")
    site = microsoft.site(token.json()["access_token"])
    provider = desk.admin.get("/providers/sharepoint")

    assert verdict.json()["ok"] is True  # Entra issues the token...
    assert site.status_code == 401  # ...which SharePoint refuses, as documented
    assert site.json()["error_description"] == "Unsupported app only token."
    notes = provider.json()["grants"]["client_credentials"]["notes"]
    assert any("only when the app authenticates with a certificate" in n for n in notes)


# --- each documented failure, as a plain verdict ---------------------------------------------


def test_a_wrong_client_secret_is_named_in_the_connection_test(
    desk: Desk, microsoft: MicrosoftEmulator
) -> None:
    verdict = app_only(desk, microsoft, "Graph", secret="the-secret-id-not-its-value")

    assert verdict["ok"] is False and verdict["cause"] == "invalid_client"
    assert "the client secret is wrong: enter the current one" in verdict["message"]
    assert "AADSTS7000215" in verdict["message"]
    assert "the-secret-id-not-its-value" not in str(verdict)


def test_an_app_missing_from_the_tenant_is_named_in_the_connection_test(
    desk: Desk, microsoft: MicrosoftEmulator
) -> None:
    verdict = app_only(desk, microsoft, "Graph", registered=False)

    assert verdict["ok"] is False
    assert "not found in the tenant: check the tenant and the client ID" in verdict["message"]
    assert "AADSTS700016" in verdict["message"]


def test_a_scope_other_than_resource_default_is_refused_for_client_credentials(
    desk: Desk, microsoft: MicrosoftEmulator
) -> None:
    verdict = app_only(desk, microsoft, "Graph",
                       scopes="offline_access https://graph.microsoft.com/.default")

    assert verdict["ok"] is False and verdict["cause"] == "invalid_scope"
    assert "not allowed for client credentials: use the one scope <resource>/.default" in (
        verdict["message"])
    assert "AADSTS1002012" in verdict["message"]


def test_a_request_without_a_required_field_is_named(
    desk: Desk, microsoft: MicrosoftEmulator
) -> None:
    verdict = app_only(desk, microsoft, "Graph", scopes="")

    assert "scope" not in token_answers(microsoft)[0]
    assert verdict["ok"] is False
    assert "a required field is missing" in verdict["message"]
    assert "AADSTS90014" in verdict["message"] and "'scope'" in verdict["message"]


def test_a_request_loop_is_temporary_and_retried_later(
    desk: Desk, microsoft: MicrosoftEmulator
) -> None:
    microsoft.loop_limit = 1  # Entra stops the same request made again and again
    first = app_only(desk, microsoft, "Graph")

    looped = desk.admin.post("/connections/Graph/test").json()

    assert first["ok"] is True
    assert looped["ok"] is False and looped["cause"] == "unavailable"
    assert "request loop" in looped["message"] and "retry later" in looped["message"]


def test_an_expired_client_secret_reaches_the_test_the_token_and_the_bot(
    desk: Desk, microsoft: MicrosoftEmulator, clock: Clock
) -> None:
    assert app_only(desk, microsoft, "Graph")["ok"] is True
    microsoft.apps[f"app-{fingerprint('Graph')}"].secret_expired = True

    refused = forced_refresh(desk, clock, "Graph")
    clock.advance(TOKEN_LIFETIME_S)  # the token in hand has expired: a bot needs a new one
    handout = desk.bot.get("/connections/Graph/token")
    verdict = desk.admin.post("/connections/Graph/test").json()
    expired = "the client secret has expired in Entra: create a new one and enter it"

    assert refused.status_code != 200
    assert expired in refused.json()["error"]["message"]
    assert expired in token_state(desk, "Graph")["last_error"]
    assert handout.status_code != 200 and expired in handout.json()["error"]["message"]
    assert verdict["ok"] is False and expired in verdict["message"]
    assert SECRET not in refused.text + handout.text + str(verdict)


@pytest.mark.parametrize(("because", "words"), [
    (50173, "the refresh token has expired or was revoked (for example by a password change)"),
    (70008, "the refresh token has expired or was revoked: authenticate again"),
    (700082, "the refresh token has expired after being unused: authenticate again"),
])
def test_a_refresh_token_ended_at_microsoft_asks_to_authenticate_again(
    desk: Desk, microsoft: MicrosoftEmulator, clock: Clock, because: int, words: str
) -> None:
    client_id = code_flow(desk, microsoft, "Graph")
    microsoft.revoke_sessions(client_id, because=because)

    refused = forced_refresh(desk, clock, "Graph")
    handout = desk.bot.get("/connections/Graph/token", params={"token_type": "shared"})
    state = token_state(desk, "Graph")

    assert refused.status_code != 200
    assert words in refused.json()["error"]["message"]
    assert f"AADSTS{because}" in refused.json()["error"]["message"]
    assert state["needs_reauthentication"] is True and words in state["last_error"]
    assert handout.status_code != 200 and words in handout.json()["error"]["message"]


def test_withdrawn_consent_asks_an_administrator_to_consent(
    desk: Desk, microsoft: MicrosoftEmulator, clock: Clock
) -> None:
    client_id = code_flow(desk, microsoft, "Graph")
    microsoft.apps[client_id].consented = False  # an administrator removed the permissions

    refused = forced_refresh(desk, clock, "Graph")
    state = token_state(desk, "Graph")
    words = "an administrator must consent to the app's permissions"

    assert refused.status_code != 200 and words in refused.json()["error"]["message"]
    assert "AADSTS65001" in state["last_error"] and words in state["last_error"]


def test_a_consent_the_administrator_has_not_given_is_named_on_the_result_page(
    desk: Desk, microsoft: MicrosoftEmulator
) -> None:
    app = entra_app("Graph", "authorization_code")
    from_catalog(desk, microsoft, "Graph", "authorization_code", app)
    microsoft.apps[app.client_id].consented = False
    link = consent_link(desk.admin, "Graph")

    page = verdict(desk.server, microsoft, link)

    assert "an administrator must consent to the app" in html.unescape(page)
    assert "AADSTS65001" in page


def test_without_offline_access_entra_issues_no_refresh_token(
    desk: Desk, microsoft: MicrosoftEmulator, clock: Clock
) -> None:
    client_id = code_flow(desk, microsoft, "Graph",
                          scopes="openid https://graph.microsoft.com/Mail.Read")

    clock.advance(TOKEN_LIFETIME_S)  # the token in hand has expired
    refused = desk.bot.get("/connections/Graph/token", params={"token_type": "shared"})

    assert microsoft.apps[client_id].issued_refresh_tokens == []
    assert refused.status_code != 200
    assert "add offline_access" in refused.json()["error"]["message"]
    assert [f["grant_type"] for f in token_answers(microsoft)] == ["authorization_code"]
