"""One-time consent links through the console: a user-specific token's link is completed only
by its own Tokendesk user, and says whom and what it is for before the provider; and each
connection shows its own callback URL, from the wizard's first step on (RFC 9700 §4.4.2)."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import pytest
from console_support import PUBLIC_URL, Console, add_user
from fastapi.testclient import TestClient
from starlette.types import ASGIApp

from support.api import Api, connection_body, key_for
from tokendesk.domain.principal import command_line_principal
from tokendesk.services.inputs import ConnectionCreate
from tokendesk.wiring import Tokendesk

NAME = "Salesforce prod"
PROVIDER_AUTHORIZE = "https://acme.salesforce.com/services/oauth2/authorize"


@pytest.fixture
def people(td: Tokendesk) -> None:
    """alice and bob, both invited to the authorization code connection NAME."""
    add_user(td, "alice", role="Sales")
    add_user(td, "bob", role="Sales")
    with td.transaction() as tx:
        td.connections.create(tx, command_line_principal(), ConnectionCreate.model_validate(
            connection_body(name=NAME, invited_roles=["Sales"])))


def link_of(app: ASGIApp, td: Tokendesk, username: str, token_type: str = "user") -> str:
    """The path of a one-time link ``username`` asked for through the API."""
    with TestClient(app, base_url=PUBLIC_URL) as http:
        answer = Api(http, key_for(td, username)).post(
            f"/connections/{NAME}/authorize", json={"token_type": token_type})
    assert answer.status_code == 200, answer.text
    return urlsplit(answer.json()["url"]).path


def goes_to_the_provider(response: object) -> bool:
    location = getattr(response, "headers", {}).get("location", "")
    return bool(location.startswith(PROVIDER_AUTHORIZE))


@pytest.mark.usefixtures("people")
def test_a_users_link_opened_without_a_session_asks_him_to_sign_in_then_continues(
    app: ASGIApp, td: Tokendesk, browser: Callable[[], Console],
) -> None:
    link = link_of(app, td, "alice")
    anyone = browser()

    opened = anyone.http.get(link, follow_redirects=False)
    assert opened.status_code == 401
    assert not goes_to_the_provider(opened)
    assert "Sign in as alice" in opened.text and NAME in opened.text
    signed_in = anyone.sign_in("alice", next_path=link)
    assert signed_in.headers["location"] == link  # after sign-in it continues
    confirm = anyone.get(link)
    sent = anyone.post(link, csrf=False)

    assert confirm.status_code == 200
    assert re.search(r'Tokendesk user <strong id="link-user">alice</strong>', confirm.text)
    assert f'<strong id="link-connection">{NAME}</strong>' in confirm.text
    assert sent.status_code == 303 and goes_to_the_provider(sent)


@pytest.mark.usefixtures("people")
def test_a_users_link_in_another_users_session_is_refused_and_stays_his(
    app: ASGIApp, td: Tokendesk, browser: Callable[[], Console],
) -> None:
    link = link_of(app, td, "alice")
    bob = browser()
    bob.sign_in("bob")

    opened = bob.http.get(link, follow_redirects=False)
    forced = bob.post(link, csrf=False)
    alice = browser()
    alice.sign_in("alice")
    hers = alice.post(link, csrf=False)

    assert opened.status_code == 403
    assert "This link is for another user" in opened.text
    assert "you are signed in as <strong id=\"you\">bob</strong>" in opened.text
    assert forced.status_code == 400 and not goes_to_the_provider(forced)
    assert "sign in as that user" in forced.text
    assert hers.status_code == 303 and goes_to_the_provider(hers)


@pytest.mark.usefixtures("people")
def test_a_user_specific_answer_is_refused_in_a_browser_without_his_session(
    app: ASGIApp, td: Tokendesk, browser: Callable[[], Console],
) -> None:
    link = link_of(app, td, "alice")
    alice = browser()
    alice.sign_in("alice")
    sent = alice.post(link, csrf=False)
    query = parse_qs(urlsplit(sent.headers["location"]).query)
    callback = urlsplit(query["redirect_uri"][0]).path
    elsewhere = browser()  # the flow cookie copied, the session not
    elsewhere.http.cookies.set("tokendesk_flow", alice.http.cookies["tokendesk_flow"])

    answer = elsewhere.http.get(callback, params={"state": query["state"][0], "code": "c0de"})

    assert answer.status_code == 400
    assert "Sign in to Tokendesk as the user this token is for" in answer.text


@pytest.mark.usefixtures("people")
def test_an_administrators_shared_token_link_still_opens_in_any_browser(
    app: ASGIApp, td: Tokendesk, browser: Callable[[], Console],
) -> None:
    link = link_of(app, td, "admin", token_type="shared")

    opened = browser().http.get(link, follow_redirects=False)

    assert opened.status_code == 303 and goes_to_the_provider(opened)


def test_the_wizard_shows_the_connections_own_callback_url_from_its_first_step(
    admin: Console, td: Tokendesk,
) -> None:
    wizard = admin.get("/wizard/new").url.path.rsplit("/", 1)[0]
    shown = re.search(r'id="callback-url" class="code" readonly value="([^"]+)"',
                      admin.get(f"{wizard}/settings").text)
    steps = [
        (f"{wizard}/settings", {"provider": "custom", "name": "Graph", "go": "next"}),
        (f"{wizard}/authentication", {
            "grant_type": "authorization_code", "client_id": "graph-app",
            "client_secret": "cs-graph", "authorization_url": "https://auth.example.test/a",
            "token_url": "https://auth.example.test/token", "scopes": "api:read",
            "go": "next"}),
        (f"{wizard}/test", {"go": "next"}),
        (f"{wizard}/roles", {"go": "next"}),
        (f"{wizard}/review", {"go": "create"}),
    ]
    for path, data in steps:
        assert admin.post(path, data).status_code == 303, path
    page = admin.get("/connections/Graph")

    assert shown is not None
    assert re.fullmatch(rf"{re.escape(PUBLIC_URL)}/oauth/callback/[0-9a-f]{{32}}", shown[1])
    assert f'value="{shown[1]}"' in page.text  # the one registered at step 1 stays the one
