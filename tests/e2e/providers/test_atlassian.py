"""Jira (Atlassian OAuth 2.0 3LO), as its documentation describes it
(support/emulators/atlassian.py): a connection made from the catalog's defaults, consent with
``audience`` and ``prompt=consent``, the cloud id fetched after consent and handed out,
rotating refresh tokens with reuse detection, and a disconnect that says what to do at
Atlassian."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from support.authorization_server import (
    AuthorizationError,
    AuthorizationServer,
    authorization_code_client,
)
from support.desk import Desk
from support.emulators.atlassian import (
    CLOUD_ID,
    JIRA_SCOPES,
    RESOURCE,
    SITE_URL,
    UNKNOWN_REFRESH_TOKEN,
    AtlassianEmulator,
    server_options,
)
from support.emulators.journey import (
    HostRoutes,
    connection_from_catalog,
    consent,
    consent_link,
    verdict,
)
from support.tokendesk_server import Clock
from tokendesk.oauth.outbound import Outbound
from tokendesk.tokens.refresh import FORCED_REFRESH_INTERVAL_S

NAME = "Jira"
ONE_HOUR_S = 3600
# The app must start with a callback URL; each test registers its connection's own as well.
FIRST_CALLBACK = "http://127.0.0.1:1/oauth/callback"


@pytest.fixture(scope="module")
def authorization_server_options() -> dict[str, Any]:
    app = authorization_code_client("jira-app", [FIRST_CALLBACK], auth_method="client_secret_post")
    return {**server_options(), "clients": [app]}


@pytest.fixture
def atlassian(authorization_server: AuthorizationServer) -> Iterator[AtlassianEmulator]:
    with AtlassianEmulator(authorization_server) as emulator:
        yield emulator


def jira_desk(open_desk: Callable[..., Desk], atlassian: AtlassianEmulator,
              **typed: Any) -> Desk:
    """Tokendesk reaching api.atlassian.com at the emulator; a Jira connection from the
    catalog's defaults (``typed`` over what the user types) whose callback URL is registered
    with the app."""
    routes = HostRoutes({"https://api.atlassian.com": atlassian.url})
    desk = open_desk(Outbound(transport=routes))
    connection_from_catalog(desk.admin, atlassian, name=NAME, provider="jira",
                            grant_type="authorization_code", client=desk.oauth.client("jira-app"),
                            **typed)
    return desk


def save_shared_token(desk: Desk, atlassian: AtlassianEmulator) -> httpx.Response:
    return consent(atlassian, consent_link(desk.admin, NAME))


def test_a_jira_connection_from_the_catalog_consents_hands_out_the_cloud_id_and_rotates(
    open_desk: Callable[..., Desk], atlassian: AtlassianEmulator, clock: Clock
) -> None:
    desk = jira_desk(open_desk, atlassian)
    connection = desk.admin.get(f"/connections/{NAME}").json()

    landing = save_shared_token(desk, atlassian)
    first = desk.bot.get(f"/connections/{NAME}/token")
    handed_out = [first.json()["access_token"]]
    for _ in range(2):  # rotation: every refresh spends the refresh token it used
        clock.advance(ONE_HOUR_S)
        again = desk.bot.get(f"/connections/{NAME}/token")
        assert again.status_code == 200, again.text
        handed_out.append(again.json()["access_token"])
    disconnected = desk.admin.delete(f"/connections/{NAME}/tokens/shared")

    assert connection["scopes"] == ["offline_access", *JIRA_SCOPES]
    [authorize] = atlassian.requests_to("/authorize")
    sent = parse_qs(urlsplit(str(authorize.url)).query)
    assert sent["audience"] == ["api.atlassian.com"] and sent["prompt"] == ["consent"]
    assert landing.status_code == 303
    assert first.status_code == 200, first.text
    assert first.json()["provider_fields"] == {"cloud_id": CLOUD_ID, "site_url": SITE_URL}
    assert len(set(handed_out)) == 3
    assert len(set(atlassian.issued_refresh_tokens)) == 3  # a new refresh token each time
    refreshes = [r for r in desk.oauth.requests("token") if r["grant_type"] == "refresh_token"]
    assert [r["status"] for r in refreshes] == [200, 200]
    assert len({r["refresh_token_sha256"] for r in refreshes}) == 2  # each one used once
    assert disconnected.status_code == 200, disconnected.text
    assert "Connected apps" in disconnected.json()["message"]


def test_the_catalog_urls_are_atlassians_documented_ones(
    open_desk: Callable[..., Desk], atlassian: AtlassianEmulator
) -> None:
    desk = open_desk()

    created = connection_from_catalog(desk.admin, atlassian, name=NAME, provider="jira",
                                      grant_type="authorization_code",
                                      client=desk.oauth.client("jira-app"))

    assert created["catalog_urls"]["authorization_url"] == "https://auth.atlassian.com/authorize"
    assert created["catalog_urls"]["token_url"] == "https://auth.atlassian.com/oauth/token"
    assert created["catalog_urls"]["revocation_url"] is None


def test_a_spent_refresh_token_used_again_ends_the_grant_and_asks_for_consent(
    open_desk: Callable[..., Desk], atlassian: AtlassianEmulator, clock: Clock
) -> None:
    desk = jira_desk(open_desk, atlassian)
    save_shared_token(desk, atlassian)
    clock.advance(FORCED_REFRESH_INTERVAL_S + 1)
    desk.bot.post(f"/connections/{NAME}/token/refresh").raise_for_status()
    spent = atlassian.issued_refresh_tokens[0]

    replayed = atlassian.replay_refresh_token(spent, "jira-app")  # a leaked copy, used again
    clock.advance(ONE_HOUR_S)
    handout = desk.bot.get(f"/connections/{NAME}/token")
    status = desk.admin.get(f"/connections/{NAME}/tokens").json()

    assert replayed.status_code == 403
    assert replayed.json() == {"error": "invalid_grant",
                               "error_description": UNKNOWN_REFRESH_TOKEN}
    assert handout.status_code == 409, handout.text  # the rotated-in token died with the grant
    assert handout.json()["error"]["code"] == "reauthentication_required"
    assert "authenticate again" in handout.json()["error"]["message"].lower()
    assert status[0]["status"] == "needs_reauthentication"


def test_an_account_without_a_site_for_the_app_gets_a_plain_verdict(
    open_desk: Callable[..., Desk], authorization_server: AuthorizationServer
) -> None:
    with AtlassianEmulator(authorization_server, sites=()) as atlassian:
        desk = jira_desk(open_desk, atlassian)
        page = verdict(desk.server, atlassian, consent_link(desk.admin, NAME))

    assert "lists nothing this token may reach" in page
    assert "consent again" in page
    assert desk.bot.get(f"/connections/{NAME}/token").status_code == 409


def test_a_wrong_client_secret_gets_a_plain_verdict_without_the_secret(
    open_desk: Callable[..., Desk], atlassian: AtlassianEmulator
) -> None:
    desk = jira_desk(open_desk, atlassian, client_secret="not-the-jira-secret")
    link = consent_link(desk.admin, NAME)

    page = verdict(desk.server, atlassian, link)

    assert "invalid_client: the client ID or client secret was not accepted" in page
    assert "access_denied Unauthorized" in page  # Atlassian's own words
    assert "not-the-jira-secret" not in page
    assert desk.bot.get(f"/connections/{NAME}/token").status_code == 409


def test_atlassian_refuses_an_authorization_request_without_its_audience(
    atlassian: AtlassianEmulator, authorization_server: AuthorizationServer
) -> None:
    """Why the catalog sends audience=api.atlassian.com: a Custom connection to the same
    URLs, without it, stops at Atlassian's error page."""
    params = {"client_id": "jira-app", "response_type": "code", "prompt": "consent",
              "scope": "read:jira-work", "redirect_uri": FIRST_CALLBACK,
              "state": "s" * 43, "resource": RESOURCE}
    with httpx.Client(trust_env=False) as browser, pytest.raises(AuthorizationError) as refused:
        authorization_server.complete_consent(
            browser, f"{atlassian.url}/authorize?{httpx.QueryParams(params)}")

    assert refused.value.error == "invalid_request"
    assert "audience" in refused.value.description
