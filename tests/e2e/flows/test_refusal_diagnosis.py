"""A diagnosis for every refused refresh, against the real authorization server (issue 13,
item 4): a grant revoked there, a client secret changed there, and a rotated refresh token
sent again after its answer was lost each get their own cause, reason and action, on the
token's state (API) and in the error a bot gets, with no secret in any of them."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import httpx

from support.desk import Desk
from support.tokendesk_server import Clock

INSIDE_MARGIN_S = 50  # the server's tokens live 60 s: due for refresh, still valid
PAST_EXPIRY_S = 65
FIRST_BACKOFF_S = 5  # domain.schedule.BACKOFF_BASE_S


def connect(desk: Desk, name: str = "Graph") -> str:
    """A connection with a shared token from the admin's consent; returns its access token."""
    desk.create_connection(name, "code-basic")
    link = desk.admin.post(f"/connections/{name}/test", json={"save_credentials": True})
    desk.consent(link.json()["authorize_url"])
    first = desk.bot.get(f"/connections/{name}/token")
    assert first.status_code == 200, first.text
    desk.oauth.reset()
    return str(first.json()["access_token"])


def state_of(desk: Desk, name: str = "Graph") -> dict[str, Any]:
    found = desk.admin.get(f"/connections/{name}/tokens").json()
    return next(s for s in found if s["kind"] == "shared")


def handout(desk: Desk, name: str = "Graph") -> httpx.Response:
    return desk.bot.get(f"/connections/{name}/token")


def assert_no_secret(desk: Desk, text: str, *also: str) -> None:
    for value in (desk.oauth.clients["code-basic"].client_secret, *also):
        assert value and value not in text


def test_a_grant_revoked_at_the_provider_is_diagnosed_as_revoked_there(
    desk: Desk, clock: Clock
) -> None:
    current = connect(desk)
    auth, _ = desk.oauth.clients["code-basic"].auth()
    with httpx.Client(trust_env=False, timeout=10) as http:  # the user revokes the app
        http.post(desk.oauth.revocation_endpoint, auth=auth,
                  data={"token": current, "token_type_hint": "access_token"}).raise_for_status()
    clock.advance(PAST_EXPIRY_S)

    refused = handout(desk)
    state = state_of(desk)

    assert refused.status_code == 409, refused.text
    error = refused.json()["error"]
    assert error["code"] == "reauthentication_required" and error["state"] == "needs_consent"
    assert error["diagnosis"]["cause"] == "revoked"
    assert "nothing Tokendesk knows explains it" in error["diagnosis"]["reason"]
    assert "client unchanged since the consent" in error["diagnosis"]["reason"]
    assert "consent again" in error["diagnosis"]["action"]
    assert (state["state"], state["state_label"]) == ("needs_consent", "Needs consent")
    assert state["diagnosis"] == error["diagnosis"]
    assert state["reason"] == error["diagnosis"]["reason"]
    assert "Re-authenticate" in state["action"]
    assert state["refreshable"] is False and state["refresh_token_kept"] is True
    assert_no_secret(desk, refused.text + str(state), current)


def test_a_client_secret_changed_at_the_provider_is_diagnosed_as_refused_there(
    desk: Desk, clock: Clock
) -> None:
    current = connect(desk)
    old = desk.oauth.clients["code-basic"]
    new = desk.oauth.register_client(replace(old, client_secret=f"as-rotated-{old.client_id}-9c"))
    clock.advance(PAST_EXPIRY_S)

    refused = handout(desk)
    state = state_of(desk)

    assert refused.status_code in (409, 502), refused.text
    assert state["state"] == "misconfigured" and state["state_label"] == "Misconfigured"
    assert state["diagnosis"]["cause"] == "client_secret_refused"
    assert "not changed in Tokendesk" in state["diagnosis"]["reason"]
    assert "invalid_client" in state["last_error"]
    assert "enters it (Edit connection)" in state["action"]
    again = handout(desk)  # the connection is marked: no new call, the same diagnosis
    assert again.json()["error"]["code"] == "connection_misconfigured"
    assert again.json()["error"]["diagnosis"]["cause"] == "client_secret_refused"
    assert "authenticate" not in state["action"].casefold()
    assert_no_secret(desk, refused.text + again.text + str(state), current,
                     new.client_secret or "")

    desk.admin.patch("/connections/Graph", json={"client_secret": new.client_secret}
                     ).raise_for_status()
    assert state_of(desk)["diagnosis"] is None  # the refusal no longer stands


def test_a_client_secret_changed_in_tokendesk_and_refused_says_so(
    desk: Desk, clock: Clock
) -> None:
    connect(desk)
    typo = desk.admin.patch("/connections/Graph", json={"client_secret": "a-mistyped-secret-1"})
    typo.raise_for_status()
    clock.advance(PAST_EXPIRY_S)

    handout(desk)
    state = state_of(desk)

    assert state["diagnosis"]["cause"] == "client_secret_changed_here"
    assert "changed in Tokendesk on" in state["diagnosis"]["reason"]
    assert "a-mistyped-secret-1" not in str(state)


def test_a_rotated_refresh_token_sent_again_after_a_lost_answer_is_diagnosed_as_a_reuse(
    desk: Desk, clock: Clock
) -> None:
    current = connect(desk)
    desk.oauth.inject_fault(drop_response=True)  # processed (rotated), answer cut off
    clock.advance(INSIDE_MARGIN_S)

    served = handout(desk)
    clock.advance(FIRST_BACKOFF_S + 1)
    refused = handout(desk)
    state = state_of(desk)

    assert served.status_code == 200 and served.json()["access_token"] == current
    calls = [r for r in desk.oauth.requests("token") if r["grant_type"] == "refresh_token"]
    assert calls[1]["refresh_token_sha256"] == calls[0]["refresh_token_sha256"]
    assert calls[1]["error"] == "invalid_grant"
    assert refused.status_code == 409, refused.text
    diagnosis = refused.json()["error"]["diagnosis"]
    assert diagnosis["cause"] == "refresh_token_reused"
    assert "sent a second time" in diagnosis["reason"]
    assert "network" in diagnosis["action"]
    assert state["diagnosis"] == diagnosis and state["state"] == "needs_consent"

    link = desk.admin.post("/connections/Graph/test", json={"save_credentials": True})
    desk.consent(link.json()["authorize_url"])  # a new consent clears the diagnosis
    assert handout(desk).status_code == 200
    after = state_of(desk)
    assert after["diagnosis"] is None and after["state"] == "valid"
