"""Client authentication by certificate (private_key_jwt, RFC 7523) against a real
authorization server: oidc-provider verifies each assertion with the public key the client
registered, refuses a replayed ``jti``, and hands out tokens for client credentials,
authorization codes, refreshes and revocations."""

from __future__ import annotations

from typing import Any

from support.authorization_server import AUTHORIZATION_CODE, REFRESH_TOKEN, private_key_jwt_client
from support.client_keys import KeyPair, key_pair
from support.desk import Desk
from support.tokendesk_server import Clock
from tokendesk.tokens.refresh import FORCED_REFRESH_INTERVAL_S


def register(desk: Desk, client_id: str, pair: KeyPair, **options: Any) -> None:
    desk.oauth.register_client(private_key_jwt_client(client_id, pair.public_jwk(), **options))


def key_fields(pair: KeyPair) -> dict[str, Any]:
    return {"client_auth_method": "private_key_jwt", "client_key": pair.key_pem,
            "client_certificate": pair.certificate_pem, "client_secret": ""}


def test_a_bot_gets_and_refreshes_a_client_credentials_token_by_assertion(
    desk: Desk, clock: Clock
) -> None:
    pair = key_pair()
    register(desk, "cc-cert", pair)
    created = desk.create_connection("Reports API", "cc-cert", **key_fields(pair))

    verdict = desk.admin.post("/connections/Reports API/test", json={"save_credentials": True})
    first = desk.bot.get("/connections/Reports API/token")
    clock.advance(FORCED_REFRESH_INTERVAL_S + 1)  # past the window that answers without a call
    renewed = desk.bot.post("/connections/Reports API/token/refresh")

    assert created["has_client_key"] is True and "PRIVATE KEY" not in str(created)
    assert verdict.status_code == 200 and verdict.json()["ok"] is True, verdict.text
    assert first.status_code == 200, first.text
    assert renewed.status_code == 200, renewed.text
    assert renewed.json()["access_token"] != first.json()["access_token"]
    calls = desk.oauth.requests("token")
    assert len(calls) == 2  # the test's token was saved and handed out; the refresh asked anew
    assert {c["client_auth_method"] for c in calls} == {"client_assertion"}
    assert {c["status"] for c in calls} == {200}  # each assertion was fresh (jti not replayed)


def test_a_code_flow_connection_exchanges_refreshes_and_revokes_by_assertion(
    desk: Desk, clock: Clock
) -> None:
    pair = key_pair()
    register(desk, "code-cert", pair, grant_types=(AUTHORIZATION_CODE, REFRESH_TOKEN),
             redirect_uris=[desk.server.callback_url], scope=None)
    desk.create_connection("Graph", "code-cert", **key_fields(pair))
    link = desk.admin.post("/connections/Graph/test", json={"save_credentials": True})

    landing = desk.consent(link.json()["authorize_url"])
    first = desk.bot.get("/connections/Graph/token", params={"token_type": "shared"})
    clock.advance(FORCED_REFRESH_INTERVAL_S + 1)  # past the window that answers without a call
    renewed = desk.bot.post("/connections/Graph/token/refresh", params={"token_type": "shared"})
    revoked = desk.admin.delete("/connections/Graph/tokens/shared")

    assert landing.status_code == 303
    assert first.status_code == 200, first.text
    assert renewed.status_code == 200, renewed.text
    assert renewed.json()["access_token"] != first.json()["access_token"]
    assert revoked.status_code == 204, revoked.text
    calls = desk.oauth.requests("token")
    assert [c["grant_type"] for c in calls] == ["authorization_code", "refresh_token"]
    assert {(c["client_auth_method"], c["status"]) for c in calls} == {("client_assertion", 200)}
    revocations = desk.oauth.requests("revocation")
    assert revocations and {c["client_auth_method"] for c in revocations} == {"client_assertion"}
    assert {c["status"] for c in revocations} == {200}


def test_a_key_the_server_does_not_know_gets_a_verdict_naming_invalid_client(desk: Desk) -> None:
    register(desk, "cc-cert", key_pair())
    other = key_pair("not-registered")
    desk.create_connection("Reports API", "cc-cert", **key_fields(other))

    verdict = desk.admin.post("/connections/Reports API/test").json()

    assert verdict["ok"] is False
    assert verdict["cause"] == "invalid_client"
    assert "PRIVATE KEY" not in str(verdict)
