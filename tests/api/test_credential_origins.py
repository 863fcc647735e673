"""Credentials go only where they were given for (issue 11): a stored client secret, its
tokens and the provider's errors about them never reach another origin (scheme, host, port).

The provider and the listener are real HTTP servers on 127.0.0.1 (different ports, so
different origins); Tokendesk may call 127.0.0.1 here because the tests allow it.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from support.api import CLIENT_SECRET, Api, make_user
from support.listener import Listener, Seen, listening
from tokendesk.config import Settings
from tokendesk.domain.principal import command_line_principal
from tokendesk.domain.secret import Secret
from tokendesk.domain.tokens import TokenKind, TokenSet
from tokendesk.storage.tables import audit_events
from tokendesk.wiring import Tokendesk

REFRESH_TOKEN = "rt-live-at-the-real-provider"
ACCESS_TOKEN = "at-live-at-the-real-provider"
CLIENT_ID = "desk-client"
NAME = "Desk"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"allow_http_loopback": True,
                                       "egress_allowlist": "127.0.0.1"})


def issue_tokens(seen: Seen) -> tuple[int, dict[str, Any]]:
    if seen.path.endswith("/token"):
        return 200, {"access_token": "at-from-client-credentials", "token_type": "Bearer",
                     "expires_in": 3600}
    return 200, {}


@pytest.fixture
def provider() -> Iterator[Listener]:
    with listening(issue_tokens) as server:
        yield server


@pytest.fixture
def listener() -> Iterator[Listener]:
    with listening() as server:
        yield server


def create(admin: Api, provider: Listener, **fields: Any) -> dict[str, Any]:
    body = {
        "name": NAME, "provider": "custom", "grant_type": "authorization_code",
        "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
        "authorization_url": f"{provider.url}/authorize", "token_url": f"{provider.url}/token",
        "revocation_url": f"{provider.url}/revoke", **fields,
    }
    response = admin.post("/connections", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def store_shared_token(td: Tokendesk, *, expires_in_s: int = 3600) -> None:
    """The shared token a consent at the provider would have saved."""
    with td.transaction() as tx:
        connection = td.connections.get(tx, command_line_principal(), NAME)
        td.tokens.store(tx, connection, TokenKind.SHARED, None, TokenSet(
            Secret(ACCESS_TOKEN), "Bearer", td.clock() + timedelta(seconds=expires_in_s),
            Secret(REFRESH_TOKEN)))


def assert_nothing_reached(listener: Listener) -> None:
    assert listener.requests == []


def refused_for_the_secret(response: Any, what: str) -> None:
    assert response.status_code == 422, response.text
    assert response.json() == {"error": {
        "code": "client_secret_required",
        "message": f"The {what} now points at another server; enter the client secret again.",
        "field": "client_secret"}}


def test_moving_the_revocation_url_without_the_secret_is_refused_and_tokens_stay_home(
    admin: Api, td: Tokendesk, provider: Listener, listener: Listener
) -> None:
    create(admin, provider)
    store_shared_token(td)

    moved = admin.patch(f"/connections/{NAME}", json={"revocation_url": f"{listener.url}/revoke"})
    disconnected = admin.delete(f"/connections/{NAME}/tokens/shared")

    refused_for_the_secret(moved, "revocation URL")
    assert disconnected.status_code == 204, disconnected.text
    assert_nothing_reached(listener)
    revoked = {seen.form()["token"] for seen in provider.requests if seen.path == "/revoke"}
    assert revoked == {REFRESH_TOKEN, ACCESS_TOKEN}  # the real provider was told


def test_a_revocation_url_moved_with_a_new_secret_retires_the_tokens_and_sends_them_nowhere(
    admin: Api, td: Tokendesk, provider: Listener, listener: Listener
) -> None:
    create(admin, provider)
    store_shared_token(td)

    moved = admin.patch(f"/connections/{NAME}", json={
        "revocation_url": f"{listener.url}/revoke", "client_secret": "typed-again"})
    [status] = admin.get(f"/connections/{NAME}/tokens").json()
    disconnected = admin.delete(f"/connections/{NAME}/tokens/shared")

    assert moved.status_code == 200, moved.text
    assert status["status"] == "needs_reauthentication"
    assert disconnected.status_code == 204, disconnected.text
    assert_nothing_reached(listener)
    assert provider.requests == []  # no longer the stored revocation origin


def test_moving_the_token_url_without_the_secret_is_refused_and_the_test_calls_the_provider(
    admin: Api, provider: Listener, listener: Listener
) -> None:
    create(admin, provider, grant_type="client_credentials", authorization_url=None)

    moved = admin.patch(f"/connections/{NAME}", json={"token_url": f"{listener.url}/token"})
    tested = admin.post(f"/connections/{NAME}/test")

    refused_for_the_secret(moved, "token URL")
    assert tested.status_code == 200 and tested.json()["ok"] is True, tested.text
    assert_nothing_reached(listener)
    [call] = provider.requests
    assert call.path == "/token" and call.headers["authorization"].startswith("Basic ")


def test_moving_the_authorization_url_without_the_secret_is_refused(
    admin: Api, provider: Listener, listener: Listener
) -> None:
    create(admin, provider)

    moved = admin.patch(f"/connections/{NAME}",
                        json={"authorization_url": f"{listener.url}/authorize"})

    refused_for_the_secret(moved, "authorization URL")
    shown = admin.get(f"/connections/{NAME}").json()
    assert shown["authorization_url"] == f"{provider.url}/authorize"


def test_new_placeholder_values_that_move_the_endpoints_need_the_secret(admin: Api) -> None:
    response = admin.post("/connections", json={
        "name": NAME, "provider": "servicenow", "grant_type": "authorization_code",
        "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
        "placeholders": {"yourinstance": "acme"}})
    assert response.status_code == 201, response.text

    moved = admin.patch(f"/connections/{NAME}", json={"placeholders": {"yourinstance": "evil"}})

    assert moved.status_code == 422, moved.text
    assert moved.json()["error"] == {
        "code": "client_secret_required",
        "message": "The authorization URL, token URL and revocation URL now point at another "
                   "server; enter the client secret again.", "field": "client_secret"}
    assert "acme" in admin.get(f"/connections/{NAME}").json()["token_url"]


def test_a_new_path_on_the_same_server_needs_no_secret(
    admin: Api, provider: Listener
) -> None:
    create(admin, provider)

    moved = admin.patch(f"/connections/{NAME}", json={"token_url": f"{provider.url}/v2/token"})

    assert moved.status_code == 200, moved.text
    assert moved.json()["token_url"] == f"{provider.url}/v2/token"


def test_an_allowed_move_is_audited_with_old_and_new_values_and_no_secret(
    admin: Api, td: Tokendesk, provider: Listener, listener: Listener
) -> None:
    create(admin, provider)

    moved = admin.patch(f"/connections/{NAME}", json={
        "token_url": f"{listener.url}/token", "client_secret": "typed-again-secret",
        "description": "moved"})

    assert moved.status_code == 200, moved.text
    with td.engine.connect() as conn:
        [details] = conn.execute(select(audit_events.c.details).where(
            audit_events.c.action == "connection.update")).scalars().all()
    assert details["changes"] == {
        "description": {"old": "", "new": "moved"},
        "token_url": {"old": f"{provider.url}/token", "new": f"{listener.url}/token"}}
    assert details["changed"] == ["client_secret", "description", "token_url"]
    assert "typed-again-secret" not in str(details) and CLIENT_SECRET not in str(details)


def echo_the_basic_credentials(seen: Seen) -> tuple[int, dict[str, Any]]:
    """A hostile token endpoint: repeats the Basic credentials it got, in every encoding."""
    basic = seen.headers.get("authorization", "").removeprefix("Basic ")
    pair = base64.b64decode(basic).decode()
    return 400, {"error": "invalid_grant", "error_description": (
        f"refused {basic} {basic.rstrip('=')} {pair} {base64.b64encode(pair.encode()).decode()}")}


def test_a_provider_echoing_the_basic_credentials_leaks_them_nowhere(
    admin: Api, td: Tokendesk, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "s3cret/with+signs=="
    with listening(echo_the_basic_credentials) as hostile:
        create(admin, hostile, client_secret=secret, invited_roles=[])
        bot = Api(admin.http, make_user(td, "bot", permissions=["oauth_connections.view"]))
        admin.patch(f"/connections/{NAME}", json={"invited_roles": ["bot-role"]})
        store_shared_token(td, expires_in_s=-60)  # expired: the handout refreshes it

        with caplog.at_level(logging.DEBUG):
            answer = bot.get(f"/connections/{NAME}/token")
            statuses = admin.get(f"/connections/{NAME}/tokens")
        assert hostile.requests, "the hostile endpoint was called"
        basic = hostile.requests[0].headers["authorization"].removeprefix("Basic ")

    assert answer.status_code >= 400
    assert "refused" in answer.text and "refused" in statuses.text
    forms = {secret, basic, basic.rstrip("="), base64.b64decode(basic).decode(),
             base64.b64encode(f"{CLIENT_ID}:{secret}".encode()).decode()}
    for text in (answer.text, statuses.text, caplog.text):
        for form in forms:
            assert form not in text
