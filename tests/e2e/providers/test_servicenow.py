"""ServiceNow, as its documentation describes it (support/emulators/servicenow.py): a
connection made from the catalog's defaults with the instance host filled in, consent at
oauth_auth.do, tokens and refresh at oauth_token.do, revocation at oauth_revoke_token.do, and
ServiceNow's own wording of a refusal."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from support.authorization_server import (
    AuthorizationServer,
    authorization_code_client,
    client_credentials_client,
)
from support.desk import Desk
from support.emulators.journey import connection_from_catalog, consent, consent_link, verdict
from support.emulators.servicenow import DEFAULT_SCOPE, INSTANCE, ServiceNowEmulator
from support.tokendesk_server import Clock

NAME = "ServiceNow"
ONE_HOUR_S = 3600
FIRST_CALLBACK = "http://127.0.0.1:1/oauth/callback"


@pytest.fixture(scope="module")
def authorization_server_options() -> dict[str, Any]:
    # ServiceNow issues a refresh token with every authorization code, asked or not; its
    # OAuth applications take no scope by default.
    return {
        "clients": [
            authorization_code_client("now-app", [FIRST_CALLBACK], auth_method="client_secret_post"),
            client_credentials_client("now-cc", auth_method="client_secret_post", scope=None),
        ],
        "refresh_token_policy": "always",
        "resource": f"https://{INSTANCE}",
        "api_scopes": [DEFAULT_SCOPE],
    }


@pytest.fixture
def servicenow(authorization_server: AuthorizationServer) -> Iterator[ServiceNowEmulator]:
    with ServiceNowEmulator(authorization_server) as emulator:
        yield emulator


def connect(desk: Desk, servicenow: ServiceNowEmulator, client_id: str,
            **typed: Any) -> dict[str, Any]:
    """A connection of the instance from the catalog with the OAuth application
    ``client_id``; ``typed`` over what the user types (a wrong client secret)."""
    grant_type = "client_credentials" if client_id == "now-cc" else "authorization_code"
    return connection_from_catalog(
        desk.admin, servicenow, name=NAME, provider="servicenow", grant_type=grant_type,
        client=desk.oauth.client(client_id), placeholders={"yourinstance": INSTANCE}, **typed)


def test_a_servicenow_connection_from_the_catalog_consents_refreshes_and_revokes(
    open_desk: Callable[..., Desk], servicenow: ServiceNowEmulator, clock: Clock
) -> None:
    desk = open_desk()
    connection = connect(desk, servicenow, "now-app")
    link = consent_link(desk.admin, NAME)

    page = verdict(desk.server, servicenow, link)
    first = desk.bot.get(f"/connections/{NAME}/token")
    clock.advance(ONE_HOUR_S)
    second = desk.bot.get(f"/connections/{NAME}/token")
    disconnected = desk.admin.delete(f"/connections/{NAME}/tokens/shared")

    assert connection["catalog_urls"] == {
        "authorization_url": f"https://{INSTANCE}/oauth_auth.do",
        "token_url": f"https://{INSTANCE}/oauth_token.do",
        "revocation_url": f"https://{INSTANCE}/oauth_revoke_token.do",
    }
    assert "The connection works" in page
    assert first.status_code == 200 and second.status_code == 200, first.text + second.text
    assert first.json()["access_token"] != second.json()["access_token"]
    refreshes = [r for r in desk.oauth.requests("token") if r["grant_type"] == "refresh_token"]
    assert [(r["status"], r["client_auth_method"]) for r in refreshes] == [
        (200, "client_secret_post")]
    assert disconnected.status_code == 204, disconnected.text
    assert servicenow.requests_to("/oauth_revoke_token.do")
    assert not servicenow.is_active(servicenow.issued_refresh_tokens[-1])
    assert not servicenow.is_active(second.json()["access_token"])


def test_a_client_credentials_connection_gets_its_token_from_oauth_token_do(
    open_desk: Callable[..., Desk], servicenow: ServiceNowEmulator
) -> None:
    desk = open_desk()
    connect(desk, servicenow, "now-cc")

    verdict = desk.admin.post(f"/connections/{NAME}/test", json={"save_credentials": True})
    handout = desk.bot.get(f"/connections/{NAME}/token")

    assert verdict.json()["ok"] is True, verdict.text
    assert handout.status_code == 200, handout.text
    [request] = [r for r in servicenow.requests_to("/oauth_token.do")]
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"


def test_a_wrong_client_secret_gets_servicenows_answer_in_a_plain_verdict(
    open_desk: Callable[..., Desk], servicenow: ServiceNowEmulator
) -> None:
    desk = open_desk()
    connect(desk, servicenow, "now-cc", client_secret="not-the-now-secret")

    verdict = desk.admin.post(f"/connections/{NAME}/test").json()

    assert verdict["ok"] is False
    assert verdict["cause"] == "invalid_client"
    assert "the client ID or client secret was not accepted" in verdict["message"]
    assert "server_error access_denied" in verdict["message"]  # ServiceNow's own words
    assert "not-the-now-secret" not in str(verdict)


def test_a_refresh_token_servicenow_refuses_asks_for_consent_again(
    open_desk: Callable[..., Desk], servicenow: ServiceNowEmulator, clock: Clock
) -> None:
    desk = open_desk()
    connect(desk, servicenow, "now-app")
    consent(servicenow, consent_link(desk.admin, NAME))
    # The refresh token is refused (its lifespan is over, or it was revoked at the instance).
    desk.oauth.inject_fault(error="invalid_grant", grant_type="refresh_token")
    clock.advance(ONE_HOUR_S)

    handout = desk.bot.get(f"/connections/{NAME}/token")
    again = desk.bot.get(f"/connections/{NAME}/token")
    status = desk.admin.get(f"/connections/{NAME}/tokens").json()

    [refused] = [r for r in servicenow.requests_to("/oauth_token.do")
                 if b"grant_type=refresh_token" in r.content]
    assert b"client_secret=" in refused.content  # ServiceNow reads the client from the body
    assert handout.status_code == again.status_code == 409, handout.text
    assert handout.json()["error"]["code"] == "reauthentication_required"
    assert "authenticate again" in handout.json()["error"]["message"].lower()
    assert desk.oauth.token_calls("refresh_token") == 1  # not retried for ever
    assert status[0]["status"] == "needs_reauthentication"
    assert "server_error access_denied" in status[0]["last_error"]
