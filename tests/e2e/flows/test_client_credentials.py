"""Client credentials connections against a real authorization server (RFC 6749 §4.4)."""

from __future__ import annotations

import pytest

from support.desk import Desk


@pytest.mark.parametrize("client_id", ["cc-basic", "cc-post"])
def test_a_bot_gets_a_token_from_a_client_credentials_connection(
    desk: Desk, client_id: str
) -> None:
    desk.create_connection("Reports API", client_id)

    first = desk.bot.get("/connections/Reports API/token")
    second = desk.bot.get("/connections/Reports API/token")

    assert first.status_code == 200, first.text
    body = first.json()
    assert body["token_type"] == "Bearer" and body["access_token"]
    assert "refresh_token" not in body
    assert second.json()["access_token"] == body["access_token"]
    assert desk.oauth.token_calls("client_credentials") == 1
    [request] = desk.oauth.requests("token")
    expected_auth = "client_secret_basic" if client_id == "cc-basic" else "client_secret_post"
    assert request["client_auth_method"] == expected_auth


def test_testing_a_client_credentials_connection_makes_a_real_token_request(desk: Desk) -> None:
    desk.create_connection("Reports API", "cc-basic")

    verdict = desk.admin.post("/connections/Reports API/test", json={"save_credentials": True})

    assert verdict.status_code == 200, verdict.text
    assert verdict.json()["ok"] is True
    assert desk.oauth.token_calls("client_credentials") == 1
    desk.bot.get("/connections/Reports API/token").raise_for_status()
    assert desk.oauth.token_calls("client_credentials") == 1  # the saved shared token is used


def test_a_wrong_client_secret_gets_a_verdict_naming_invalid_client(desk: Desk) -> None:
    desk.create_connection("Reports API", "cc-basic", client_secret="not-the-secret")

    verdict = desk.admin.post("/connections/Reports API/test").json()
    handout = desk.bot.get("/connections/Reports API/token")

    assert verdict["ok"] is False
    assert verdict["cause"] == "invalid_client"
    assert "invalid_client" in verdict["message"]
    assert "not-the-secret" not in str(verdict) + handout.text
    assert handout.status_code == 502
    assert handout.json()["error"]["cause"] == "invalid_client"


def test_an_unreachable_token_endpoint_gets_a_plain_verdict(desk: Desk) -> None:
    desk.create_connection("Reports API", "cc-basic", token_url="http://127.0.0.1:9/token")

    verdict = desk.admin.post("/connections/Reports API/test").json()

    assert verdict["ok"] is False
    assert verdict["cause"] == "unreachable"
    assert "could not be reached" in verdict["message"]
