"""Genesys Cloud, as its documentation describes it (support/emulators/genesys.py): a
connection made from the catalog's defaults with the region chosen from its list, client
credentials without scope, and a disconnect that says Genesys could not revoke the token."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from support.authorization_server import (
    DEFAULT_API_SCOPES,
    AuthorizationServer,
    authorization_code_client,
    client_credentials_client,
)
from support.desk import Desk
from support.emulators.genesys import GenesysEmulator
from support.emulators.journey import connection_from_catalog, consent_link, verdict
from support.tokendesk_server import Clock

REGION = "mypurecloud.de"  # EMEA (Frankfurt), one the old template could not express
NAME = "Genesys Frankfurt"
ONE_DAY_S = 24 * 3600
FIRST_CALLBACK = "http://127.0.0.1:1/oauth/callback"


@pytest.fixture(scope="module")
def authorization_server_options() -> dict[str, Any]:
    # A Genesys OAuth client's roles, not scopes, say what its token may do: no scope. The
    # code grant's client is given the API's scopes; its answer always has a refresh token.
    return {"clients": [client_credentials_client("genesys-cc", scope=None),
                        authorization_code_client("genesys-app", [FIRST_CALLBACK],
                                                  scope=" ".join(DEFAULT_API_SCOPES))],
            "refresh_token_policy": "always"}


@pytest.fixture
def genesys(authorization_server: AuthorizationServer) -> Iterator[GenesysEmulator]:
    with GenesysEmulator(authorization_server, region=REGION) as emulator:
        yield emulator


def connect(desk: Desk, genesys: GenesysEmulator, **typed: Any) -> dict[str, Any]:
    """A client-credentials connection from the catalog; ``typed`` over what the user types
    (a client ID or secret other than the OAuth client's)."""
    return connection_from_catalog(
        desk.admin, genesys, name=NAME, provider="genesys", grant_type="client_credentials",
        client=desk.oauth.client("genesys-cc"), placeholders={"region": REGION}, **typed)


def test_a_genesys_connection_from_the_catalog_hands_out_renews_and_disconnects(
    open_desk: Callable[..., Desk], genesys: GenesysEmulator, clock: Clock
) -> None:
    desk = open_desk()
    connection = connect(desk, genesys)

    verdict = desk.admin.post(f"/connections/{NAME}/test", json={"save_credentials": True})
    first = desk.bot.get(f"/connections/{NAME}/token")
    clock.advance(ONE_DAY_S)  # past the token's lifetime: a new one is asked for
    second = desk.bot.get(f"/connections/{NAME}/token")
    disconnected = desk.admin.delete(f"/connections/{NAME}/tokens/shared")

    assert connection["catalog_urls"]["token_url"] == f"https://login.{REGION}/oauth/token"
    assert connection["scopes"] == []
    assert verdict.status_code == 200 and verdict.json()["ok"] is True, verdict.text
    assert first.status_code == 200 and second.status_code == 200, first.text + second.text
    assert first.json()["access_token"] != second.json()["access_token"]
    token_requests = [r for r in desk.oauth.requests("token") if r["status"] == 200]
    assert [r["grant_type"] for r in token_requests] == ["client_credentials"] * 2
    assert all(r["scope"] is None for r in token_requests)  # no scope sent
    assert all(r["client_auth_method"] == "client_secret_basic" for r in token_requests)
    assert disconnected.status_code == 200, disconnected.text
    message = disconnected.json()["message"]
    assert "Genesys Cloud offers no revocation endpoint" in message
    assert "Admin > OAuth" in message  # what to do there
    assert desk.oauth.requests("revocation") == []
    assert desk.admin.get(f"/connections/{NAME}/tokens").json() == []


def test_a_genesys_consent_hands_out_refreshes_and_says_how_to_end_the_token(
    open_desk: Callable[..., Desk], genesys: GenesysEmulator, clock: Clock
) -> None:
    desk = open_desk()
    connection = connection_from_catalog(
        desk.admin, genesys, name=NAME, provider="genesys", grant_type="authorization_code",
        client=desk.oauth.client("genesys-app"), placeholders={"region": REGION})
    link = consent_link(desk.admin, NAME)

    page = verdict(desk.server, genesys, link)
    first = desk.bot.get(f"/connections/{NAME}/token")
    clock.advance(ONE_DAY_S)
    second = desk.bot.get(f"/connections/{NAME}/token")
    disconnected = desk.admin.delete(f"/connections/{NAME}/tokens/shared")

    assert connection["catalog_urls"]["authorization_url"] == (
        f"https://login.{REGION}/oauth/authorize")
    assert "The connection works" in page
    assert first.status_code == 200 and second.status_code == 200, first.text + second.text
    assert first.json()["access_token"] != second.json()["access_token"]
    token_requests = desk.oauth.requests("token")
    assert [(r["grant_type"], r["status"]) for r in token_requests] == [
        ("authorization_code", 200), ("refresh_token", 200)]
    assert token_requests[0]["code_verifier_sent"] is True  # PKCE
    assert all(r["client_auth_method"] == "client_secret_basic" for r in token_requests)
    assert disconnected.status_code == 200
    assert "Genesys Cloud offers no revocation endpoint" in disconnected.json()["message"]
    assert desk.oauth.requests("revocation") == []


def test_an_oauth_client_genesys_does_not_know_gets_a_plain_verdict(
    open_desk: Callable[..., Desk], genesys: GenesysEmulator
) -> None:
    desk = open_desk()
    connect(desk, genesys, client_id="client-of-another-region")

    verdict = desk.admin.post(f"/connections/{NAME}/test").json()

    assert verdict["ok"] is False
    assert verdict["cause"] == "invalid_client"
    assert "the client ID or client secret was not accepted" in verdict["message"]
    assert "client not found" in verdict["message"]  # Genesys's own words


def test_a_wrong_client_secret_gets_a_plain_verdict_without_the_secret(
    open_desk: Callable[..., Desk], genesys: GenesysEmulator
) -> None:
    desk = open_desk()
    connect(desk, genesys, client_secret="not-the-genesys-secret")

    verdict = desk.admin.post(f"/connections/{NAME}/test").json()

    assert verdict["ok"] is False
    assert verdict["cause"] == "invalid_client"
    assert "not-the-genesys-secret" not in str(verdict)


def test_a_region_typed_the_old_way_is_refused_with_the_list_to_choose_from(
    open_desk: Callable[..., Desk]
) -> None:
    desk = open_desk()
    client = desk.oauth.client("genesys-cc")

    refused = desk.admin.post("/connections", json={
        "name": NAME, "provider": "genesys", "grant_type": "client_credentials",
        "client_id": client.client_id, "client_secret": client.client_secret,
        "placeholders": {"region": "usw2"}})

    assert refused.status_code == 422, refused.text
    message = refused.json()["error"]["message"]
    assert "'usw2' is not a Genesys Cloud region" in message
    assert "usw2.pure.cloud (Americas (US West) us-west-2)" in message
    assert "mypurecloud.de (EMEA (Frankfurt) eu-central-1)" in message
