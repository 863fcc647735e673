"""Salesforce end to end, against the Salesforce emulator (tests/support/emulators/salesforce.py):
connections made from the catalog's defaults (My Domain ``acme.my``) consent or use client
credentials, hand out ``instance_url`` with a token whose expiry Tokendesk learned from the
org's introspection endpoint, refresh with the same refresh token, and disconnect; Salesforce's
refusals reach the administrator as plain verdicts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from support.authorization_server import AuthorizationServer, Client
from support.emulators.journey import client_for, connection_from_catalog
from support.emulators.salesforce import (
    EXPIRED_TOKEN,
    SERVER_OPTIONS,
    SESSION_TIMEOUT_S,
    SalesforceEmulator,
)
from support.emulators.scene import Scene
from support.tokendesk_server import Clock, TokendeskServer
from tokendesk.tokens.refresh import FORCED_REFRESH_INTERVAL_S

MY_DOMAIN = {"yourinstance": "acme.my"}
CONSUMER_KEY = "3MVG9sf-consumer-key"
CATALOG_DEFAULT_LIFETIME_S = 7200
ONE_HOUR_S = 3600


@pytest.fixture(scope="module")
def authorization_server_options() -> dict[str, Any]:
    return dict(SERVER_OPTIONS)


@pytest.fixture
def salesforce(authorization_server: AuthorizationServer) -> Iterator[SalesforceEmulator]:
    with SalesforceEmulator(authorization_server) as emulator:
        yield emulator


@pytest.fixture
def scene(tokendesk: TokendeskServer, salesforce: SalesforceEmulator, admin: httpx.Client,
          bot: httpx.Client) -> Scene:
    return Scene(tokendesk, salesforce, admin, bot)


def connected_app(grant_type: str) -> Client:
    """The connected app; for client credentials, its selected OAuth scope is ``api``."""
    scope = "api" if grant_type == "client_credentials" else None
    return client_for(CONSUMER_KEY, grant_type, scope=scope)


def from_catalog(scene: Scene, name: str, grant_type: str, **typed: Any) -> dict[str, Any]:
    """A connection of the org's My Domain from the catalog, its connected app registered."""
    return connection_from_catalog(scene.admin, scene.emulator, name=name, provider="salesforce",
                                   grant_type=grant_type, client=connected_app(grant_type),
                                   placeholders=MY_DOMAIN, **typed)


def web_server_flow(scene: Scene, name: str = "CRM", **typed: Any) -> dict[str, Any]:
    return from_catalog(scene, name, "authorization_code", **typed)


def client_credentials(scene: Scene, name: str = "CRM sync", **typed: Any) -> dict[str, Any]:
    return from_catalog(scene, name, "client_credentials", **typed)


def lifetime_s(handout: httpx.Response) -> float:
    expires_at = datetime.fromisoformat(handout.json()["expires_at"])
    return (expires_at - datetime.now(expires_at.tzinfo)).total_seconds()


def test_a_web_server_flow_connection_from_the_catalog_consents_hands_out_refreshes_revokes(
    scene: Scene, salesforce: SalesforceEmulator, clock: Clock
) -> None:
    web_server_flow(scene)

    landing = scene.consent(scene.consent_link("CRM"))
    first = scene.handout("CRM")
    state = scene.token_state("CRM")
    clock.advance(FORCED_REFRESH_INTERVAL_S + 1)  # past the window that answers without a call
    renewed = scene.refresh("CRM")
    clock.advance(FORCED_REFRESH_INTERVAL_S + 1)
    again = scene.refresh("CRM")
    disconnected = scene.admin.delete("/connections/CRM/tokens/shared")

    assert landing.status_code == 303
    assert first.status_code == 200, first.text
    assert first.json()["provider_fields"]["instance_url"] == salesforce.url
    assert first.json()["provider_fields"]["id"] == salesforce.identity_url
    # No expires_in: the org's 15-minute session timeout came from introspection.
    assert lifetime_s(first) <= SESSION_TIMEOUT_S
    assert state["valid_until_source"] and "introspection" in state["valid_until_source"]
    assert salesforce.requests_to("/services/oauth2/introspect")
    assert renewed.status_code == again.status_code == 200, (renewed.text, again.text)
    assert renewed.json()["access_token"] != first.json()["access_token"]
    assert renewed.json()["provider_fields"]["instance_url"] == salesforce.url
    refreshes = [r for r in salesforce.server.requests("token")
                 if r["grant_type"] == "refresh_token"]
    assert len(refreshes) == 2  # the refresh token is not rotated: the same one twice
    assert refreshes[0]["refresh_token_sha256"] == refreshes[1]["refresh_token_sha256"]
    assert disconnected.status_code == 204, disconnected.text
    assert salesforce.requests_to("/services/oauth2/revoke")
    assert salesforce.server.requests("revocation")[0]["status"] == 200
    assert scene.handout("CRM").json()["error"]["code"] == "not_authenticated"


def test_a_client_credentials_connection_from_the_catalog_sends_no_scope_and_learns_its_expiry(
    scene: Scene, salesforce: SalesforceEmulator, clock: Clock
) -> None:
    created = client_credentials(scene)

    verdict = scene.admin.post("/connections/CRM sync/test", json={"save_credentials": True})
    first = scene.handout("CRM sync")
    clock.advance(FORCED_REFRESH_INTERVAL_S + 1)
    renewed = scene.refresh("CRM sync")
    disconnected = scene.admin.delete("/connections/CRM sync/tokens/shared")

    assert created["scopes"] == []  # the connected app's selected scopes apply
    assert verdict.status_code == 200 and verdict.json()["ok"] is True, verdict.text
    assert first.status_code == 200, first.text
    assert first.json()["provider_fields"]["instance_url"] == salesforce.url
    assert lifetime_s(first) <= SESSION_TIMEOUT_S < CATALOG_DEFAULT_LIFETIME_S
    [sent, *_] = [r for r in salesforce.requests_to("/services/oauth2/token")]
    assert "scope" not in sent.content.decode()
    assert renewed.status_code == 200, renewed.text
    assert renewed.json()["access_token"] != first.json()["access_token"]
    assert disconnected.status_code == 204
    assert salesforce.requests_to("/services/oauth2/revoke")


def test_a_wrong_consumer_secret_gets_a_verdict_in_salesforces_words(
    scene: Scene, salesforce: SalesforceEmulator
) -> None:
    client_credentials(scene, client_secret="typed-wrong-secret")

    verdict = scene.admin.post("/connections/CRM sync/test").json()

    assert verdict["ok"] is False
    assert verdict["cause"] == "invalid_client"
    assert "invalid client credentials" in verdict["message"]
    assert "typed-wrong-secret" not in str(verdict)


def test_a_mistyped_consumer_key_gets_a_verdict_naming_it(
    scene: Scene, salesforce: SalesforceEmulator
) -> None:
    client_credentials(scene, client_id="3MVG9sf-mistyped")

    verdict = scene.admin.post("/connections/CRM sync/test").json()

    assert verdict["ok"] is False
    assert verdict["cause"] == "invalid_client"  # the catalog reads invalid_client_id so
    assert "client ID or client secret was not accepted" in verdict["message"]
    assert "invalid_client_id client identifier invalid" in verdict["message"]  # its words


def test_a_wrong_consumer_secret_in_the_web_server_flow_is_shown_after_consent(
    scene: Scene, salesforce: SalesforceEmulator
) -> None:
    web_server_flow(scene, client_secret="typed-wrong-secret")

    page = scene.verdict(scene.consent_link("CRM"))

    assert "invalid_client" in page and "invalid client credentials" in page
    assert "typed-wrong-secret" not in page


def test_a_revoked_refresh_token_asks_for_reauthentication_in_salesforces_words(
    scene: Scene, salesforce: SalesforceEmulator, clock: Clock
) -> None:
    web_server_flow(scene)
    scene.consent(scene.consent_link("CRM"))
    client = salesforce.server.clients[CONSUMER_KEY]
    # An administrator revokes the app's tokens in Setup (Connected Apps OAuth Usage).
    revoked = httpx.post(f"{salesforce.url}/services/oauth2/revoke", trust_env=False, data={
        "token": scene.handout("CRM").json()["access_token"],
        "client_id": client.client_id, "client_secret": client.client_secret or ""})
    clock.advance(ONE_HOUR_S)  # the session has timed out: a refresh is due

    handout = scene.handout("CRM")

    assert revoked.status_code == 200
    assert handout.status_code == 409, handout.text
    assert handout.json()["error"]["code"] == "reauthentication_required"
    state = scene.token_state("CRM")
    assert state["needs_reauthentication"] is True
    assert EXPIRED_TOKEN in state["last_error"]



def test_a_user_who_denies_access_gets_a_verdict_in_salesforces_words(
    scene: Scene, salesforce: SalesforceEmulator
) -> None:
    web_server_flow(scene)
    salesforce.server.update_settings(auto_approve_user=None)  # show the consent page

    page = scene.verdict(scene.consent_link("CRM"), approve=False)

    assert "access_denied" in page and "end-user denied authorization" in page
    assert salesforce.server.token_calls() == 0
