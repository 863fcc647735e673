"""Workload identity end to end: a second oidc-provider issuing JWT access tokens by client
credentials plays the workload platform (a CI system, a Kubernetes cluster); a workload
exchanges its JWT for a connection's token at ``POST /oauth/token`` (RFC 8693) and uses it
at the provider. Every refusal answers the exact RFC 6749 §5.2 / RFC 8693 §2.2.2 error."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from support.api import key_for
from support.authorization_server import AuthorizationServer
from support.desk import BOT_ROLE, Desk
from support.tokendesk_server import Clock, TokendeskServer
from support.workload import AUDIENCE, CONNECTION, PLATFORM_OPTIONS, workload_jwt

GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
JWT_TYPE = "urn:ietf:params:oauth:token-type:jwt"
ACCESS_TYPE = "urn:ietf:params:oauth:token-type:access_token"


@pytest.fixture
def platform(start_authorization_server: Callable[..., AuthorizationServer]) -> AuthorizationServer:
    """The workload platform: its clients are workloads, its JWT access tokens their IDs."""
    return start_authorization_server(**PLATFORM_OPTIONS)


def trust(desk: Desk, platform: AuthorizationServer, **overrides: Any) -> None:
    body = {"name": "ci", "issuer": platform.issuer, "audiences": [AUDIENCE], **overrides}
    created = desk.admin.post("/workload-issuers", json=body)
    assert created.status_code == 201, created.text
    rule = desk.admin.post("/workload-issuers/ci/rules", json={
        "conditions": [{"claim": "client_id", "equals": "runner"}],
        "acts_as": "workload", "workload": "runner", "roles": [BOT_ROLE]})
    assert rule.status_code == 201, rule.text


def exchange(server: TokendeskServer, subject_token: str, **extra: str) -> httpx.Response:
    form = {"grant_type": GRANT, "subject_token": subject_token,
            "subject_token_type": JWT_TYPE, "audience": CONNECTION, **extra}
    return httpx.post(server.url + "/oauth/token", data=form, trust_env=False, timeout=30)


def refused(answer: httpx.Response, error: str, words: str) -> None:
    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert body["error"] == error, body
    assert words in body["error_description"], body


@pytest.fixture
def ready(desk: Desk, platform: AuthorizationServer) -> Desk:
    desk.create_connection(CONNECTION, "cc-basic")
    trust(desk, platform)
    return desk


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    head, body, _ = token.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    return (json.loads(base64.urlsafe_b64decode(pad(head))),
            json.loads(base64.urlsafe_b64decode(pad(body))))


# --- the way it should work -------------------------------------------------------------


def test_a_mapped_workload_exchanges_its_jwt_for_the_connections_token_and_uses_it(
    ready: Desk, platform: AuthorizationServer
) -> None:
    answer = exchange(ready.server, workload_jwt(platform), requested_token_type=ACCESS_TYPE)

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["issued_token_type"] == ACCESS_TYPE and body["token_type"] == "Bearer"
    assert 0 < body["expires_in"] <= 60 and body["scope"] == "api:read"
    assert answer.headers["cache-control"] == "no-store"
    # the provider's API accepts it: introspection at the provider says it is active
    provider = ready.oauth.clients["cc-basic"]
    auth, _ = provider.auth()
    seen = httpx.post(ready.oauth.introspection_endpoint, auth=auth, trust_env=False,
                      data={"token": body["access_token"]}).json()
    assert seen["active"] is True and seen["client_id"] == "cc-basic"
    # the same token the bot with an API key gets: the same handout rules
    assert ready.bot.get(f"/connections/{CONNECTION}/token").json()["access_token"] \
        == body["access_token"]


def test_the_exchange_is_audited_with_issuer_subject_and_rule(
    ready: Desk, platform: AuthorizationServer
) -> None:
    token = workload_jwt(platform)
    assert exchange(ready.server, token).status_code == 200
    ready.server.td.audit_buffer.flush()

    events = ready.admin.get("/audit", params={"action": "token.exchange"}).json()
    assert len(events) == 1, events
    details = events[0]["details"]
    assert details["issuer"] == platform.issuer and details["subject"] == "runner"
    assert 'client_id is "runner"' in details["rule"]
    assert token not in json.dumps(events)


def test_a_workload_jwt_is_accepted_as_the_bearer_of_the_token_handout(
    ready: Desk, platform: AuthorizationServer
) -> None:
    token = workload_jwt(platform)
    with ready.server.api(token) as workload:
        first = workload.get(f"/connections/{CONNECTION}/token")
        again = workload.get(f"/connections/{CONNECTION}/token")
        other = workload.get("/workload-issuers")  # only the handout takes a JWT

    assert first.status_code == 200, first.text
    assert again.json()["access_token"] == first.json()["access_token"]
    assert other.status_code == 401
    # a forged JWT bearer is refused on the handout too, not taken for an API key
    head, body, signature = token.split(".")
    with ready.server.api(f"{head}.{body}.{signature[::-1]}") as forger:
        assert forger.get(f"/connections/{CONNECTION}/token").status_code == 401


def test_an_api_key_is_a_subject_token_too(ready: Desk) -> None:
    key = key_for(ready.server.td, "bot")
    answer = exchange(ready.server, key, subject_token_type="urn:tokendesk:token-type:api-key")
    wrong = exchange(ready.server, "td_000000000000_nope",
                     subject_token_type="urn:tokendesk:token-type:api-key")

    assert answer.status_code == 200, answer.text
    refused(wrong, "invalid_grant", "API key is not valid")


def test_a_workload_names_the_connection_by_its_resource_url(
    ready: Desk, platform: AuthorizationServer
) -> None:
    url = f"{ready.server.url}/api/v1/connections/Salesforce%20prod"
    form = {"grant_type": GRANT, "subject_token": workload_jwt(platform),
            "subject_token_type": JWT_TYPE, "resource": url}
    answer = httpx.post(ready.server.url + "/oauth/token", data=form, trust_env=False)

    assert answer.status_code == 200, answer.text


# --- refusals, each with its RFC error ---------------------------------------------------


def test_a_workload_no_rule_maps_is_refused(ready: Desk, platform: AuthorizationServer) -> None:
    refused(exchange(ready.server, workload_jwt(platform, "stranger")),
            "invalid_grant", "No rule of the workload issuer 'ci' maps this token")


def test_a_token_for_another_audience_is_refused(
    desk: Desk, platform: AuthorizationServer
) -> None:
    desk.create_connection(CONNECTION, "cc-basic")
    trust(desk, platform, audiences=["https://tokendesk.test/elsewhere"])

    refused(exchange(desk.server, workload_jwt(platform)), "invalid_grant",
            "meant for another audience")


def test_an_expired_token_is_refused(
    ready: Desk, platform: AuthorizationServer, clock: Clock
) -> None:
    token = workload_jwt(platform)
    clock.advance(300 + 61)  # past its lifetime and the allowed clock skew

    refused(exchange(ready.server, token), "invalid_grant", "has expired")


def test_a_forged_signature_is_refused(ready: Desk, platform: AuthorizationServer) -> None:
    head, body, signature = workload_jwt(platform, "stranger").split(".")
    claims = parts(f"{head}.{body}.x")[1] | {"client_id": "runner", "sub": "runner"}
    forged = f"{head}.{b64(json.dumps(claims).encode())}.{signature}"

    refused(exchange(ready.server, forged), "invalid_grant", "signature does not verify")


def test_alg_none_is_refused(ready: Desk, platform: AuthorizationServer) -> None:
    header, claims = parts(workload_jwt(platform))
    unsigned = f"{b64(json.dumps(header | {'alg': 'none'}).encode())}." \
               f"{b64(json.dumps(claims).encode())}."

    refused(exchange(ready.server, unsigned), "invalid_grant", "algorithm 'none'")


def test_hs256_signed_with_the_issuers_public_key_is_refused(
    ready: Desk, platform: AuthorizationServer
) -> None:
    header, claims = parts(workload_jwt(platform))
    jwks = httpx.get(platform.jwks_uri, trust_env=False).json()
    public_pem = RSAKey.import_key(jwks["keys"][0]).as_pem(private=False)
    signing_input = f"{b64(json.dumps(header | {'alg': 'HS256'}).encode())}." \
                    f"{b64(json.dumps(claims).encode())}"
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()

    refused(exchange(ready.server, f"{signing_input}.{b64(mac)}"), "invalid_grant",
            "algorithm 'HS256'")


def test_after_the_issuer_rotates_its_keys_a_genuine_token_is_accepted_after_a_refetch(
    ready: Desk, platform: AuthorizationServer, clock: Clock
) -> None:
    assert exchange(ready.server, workload_jwt(platform)).status_code == 200  # keys cached
    old_kid = parts(workload_jwt(platform))[0]["kid"]
    platform.restart()  # the same issuer, a new signing key with a new kid
    rotated = workload_jwt(platform)
    clock.advance(61)  # the keys are fetched again for an unknown kid at most once a minute

    answer = exchange(ready.server, rotated)

    assert parts(rotated)[0]["kid"] != old_kid
    assert answer.status_code == 200, answer.text


def test_a_token_naming_an_unknown_kid_is_refused_after_the_refetch(
    ready: Desk, platform: AuthorizationServer, clock: Clock
) -> None:
    assert exchange(ready.server, workload_jwt(platform)).status_code == 200  # keys cached
    _, claims = parts(workload_jwt(platform))
    forger = RSAKey.generate_key(2048, parameters={"kid": "rotated-2026"})
    forged = jwt.encode({"alg": "RS256", "kid": "rotated-2026"}, claims, forger)
    clock.advance(61)
    jwks_calls = len(platform.requests("jwks"))

    answer = exchange(ready.server, forged)

    refused(answer, "invalid_grant", "does not publish")
    assert len(platform.requests("jwks")) == jwks_calls + 1  # it did look again, once


def test_an_unknown_kid_does_not_refetch_within_a_minute(
    ready: Desk, platform: AuthorizationServer
) -> None:
    assert exchange(ready.server, workload_jwt(platform)).status_code == 200
    _, claims = parts(workload_jwt(platform))
    forger = RSAKey.generate_key(2048, parameters={"kid": "flood"})
    jwks_calls = len(platform.requests("jwks"))

    for _ in range(3):
        refused(exchange(ready.server, jwt.encode({"alg": "RS256", "kid": "flood"}, claims,
                                                  forger)), "invalid_grant", "does not publish")

    assert len(platform.requests("jwks")) == jwks_calls


def test_a_replayed_token_is_refused_when_the_issuer_refuses_replays(
    desk: Desk, platform: AuthorizationServer
) -> None:
    desk.create_connection(CONNECTION, "cc-basic")
    trust(desk, platform, refuse_replay=True)
    token = workload_jwt(platform)

    assert exchange(desk.server, token).status_code == 200
    refused(exchange(desk.server, token), "invalid_grant", "already used")


def test_a_token_living_longer_than_the_issuers_maximum_is_refused(
    desk: Desk, platform: AuthorizationServer
) -> None:
    desk.create_connection(CONNECTION, "cc-basic")
    trust(desk, platform, max_lifetime_s=120)  # the platform's tokens live 300 s

    refused(exchange(desk.server, workload_jwt(platform)), "invalid_grant", "lives longer")


def test_an_issuer_whose_keys_are_on_a_private_address_is_refused_unless_allowlisted(
    database_url: str, tmp_path: Path, clock: Clock, platform: AuthorizationServer
) -> None:
    server = TokendeskServer(database_url, tmp_path / "closed", clock=clock,
                             egress_allowlist="").start()
    try:
        with server.api(key_for(server.td, "admin")) as admin:
            created = admin.post("/workload-issuers", json={
                "name": "ci", "issuer": platform.issuer, "audiences": [AUDIENCE]})
            assert created.status_code == 201, created.text
        answer = exchange(server, workload_jwt(platform))
    finally:
        server.stop()

    refused(answer, "invalid_grant", "loopback address")
    assert platform.requests("jwks") == []


def test_malformed_requests_get_the_rfc_errors(ready: Desk, platform: AuthorizationServer) -> None:
    url = ready.server.url + "/oauth/token"
    token = workload_jwt(platform)

    wrong_grant = httpx.post(url, data={"grant_type": "password"}, trust_env=False)
    no_subject = httpx.post(url, data={"grant_type": GRANT}, trust_env=False)
    other_type = exchange(ready.server, token, requested_token_type="urn:x:refresh")
    unknown = exchange(ready.server, token, audience="No such connection")
    narrower = exchange(ready.server, token, scope="api:write")

    refused(wrong_grant, "unsupported_grant_type", GRANT)
    refused(no_subject, "invalid_request", "subject_token is missing")
    refused(other_type, "invalid_request", "access tokens only")
    refused(unknown, "invalid_target", "No such connection")
    refused(narrower, "invalid_scope", "api:write")


def test_a_workload_whose_roles_are_not_invited_is_refused(
    ready: Desk, platform: AuthorizationServer
) -> None:
    ready.admin.post("/roles", json={"name": "Other bots", "permissions": []})
    ready.admin.post("/workload-issuers/ci/rules", json={
        "conditions": [{"claim": "client_id", "equals": "stranger"}],
        "acts_as": "workload", "workload": "stranger", "roles": ["Other bots"]})

    refused(exchange(ready.server, workload_jwt(platform, "stranger")), "invalid_target",
            "no connection named")


# --- an administrator checks a pasted token ----------------------------------------------


def test_an_administrator_sees_which_rule_maps_a_token_and_why_the_others_do_not(
    ready: Desk, platform: AuthorizationServer
) -> None:
    ready.admin.post("/workload-issuers/ci/rules", json={
        "conditions": [{"claim": "client_id", "equals": "stranger"}],
        "acts_as": "user", "user": "bot"})
    jwks_before = len(platform.requests("jwks"))

    runner = ready.admin.post("/workload-issuers/ci/check",
                              json={"token": workload_jwt(platform)})
    stranger = ready.admin.post("/workload-issuers/ci/check",
                                json={"token": workload_jwt(platform, "stranger")})
    expired_check = ready.admin.post("/workload-issuers/ci/check", json={"token": "a.b.c"})

    assert runner.status_code == 200, runner.text
    assert runner.json()["acts_as"] == f"workload runner with roles: {BOT_ROLE}"
    assert runner.json()["not_matched"][0]["why_not"] == \
        'client_id is "runner", not as required (client_id is "stranger")'
    assert stranger.json()["acts_as"] == "user bot"
    assert expired_check.status_code == 422
    assert "would refuse" in expired_check.json()["error"]["message"]
    assert len(platform.requests("jwks")) == jwks_before + 1  # fetched once, then kept
