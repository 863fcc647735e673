"""The test authorization server itself, proven with plain httpx.

The Tokendesk end-to-end tests stand on this server; these tests show it behaves like a
real OAuth 2.0 authorization server (RFC 6749, 7636, 7009, 7662, 9207) and that its test
instrumentation (statistics, faults, runtime settings) does what it says.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from support import authorization_server as support_as
from support.authorization_server import (
    AuthorizationError,
    AuthorizationServer,
    Client,
    authorization_code_client,
    complete_consent,
)

REDIRECT_URI = "http://127.0.0.1:8000/oauth/callback"
SCOPE = "openid offline_access api:read"

StartServer = Callable[..., AuthorizationServer]


@pytest.fixture(scope="module")
def authorization_server_options() -> dict[str, Any]:
    return {"redirect_uris": [REDIRECT_URI]}


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10, trust_env=False) as client:
        yield client


# --- helpers -------------------------------------------------------------------------------


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def authorization_url(
    server: AuthorizationServer,
    client: Client,
    *,
    state: str,
    code_challenge: str | None = None,
    scope: str = SCOPE,
    prompt: str | None = "consent",
    redirect_uri: str = REDIRECT_URI,
) -> str:
    params = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": redirect_uri,
        "scope": scope,
        "state": state,
    }
    if code_challenge is not None:
        params |= {"code_challenge": code_challenge, "code_challenge_method": "S256"}
    if prompt is not None:
        params["prompt"] = prompt
    return f"{server.authorization_endpoint}?{urlencode(params)}"


def token_request(
    http: httpx.Client, server: AuthorizationServer, client: Client, **form: str
) -> httpx.Response:
    auth, credentials = client.auth()
    return http.post(server.token_endpoint, data={**form, **credentials}, auth=auth)


def query_of(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def consent_and_exchange(
    http: httpx.Client, server: AuthorizationServer, client: Client, **url_options: Any
) -> dict[str, Any]:
    """A complete authorization code flow with PKCE; returns the token response."""
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(16)
    url = authorization_url(server, client, state=state, code_challenge=challenge, **url_options)
    callback = query_of(complete_consent(http, url))
    assert callback["state"] == state
    response = token_request(
        http,
        server,
        client,
        grant_type="authorization_code",
        code=callback["code"],
        redirect_uri=REDIRECT_URI,
        code_verifier=verifier,
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def introspect(http: httpx.Client, server: AuthorizationServer, client: Client, token: str) -> Any:
    auth, credentials = client.auth()
    response = http.post(
        server.introspection_endpoint, data={"token": token, **credentials}, auth=auth
    )
    assert response.status_code == 200, response.text
    return response.json()


# --- discovery and client credentials ------------------------------------------------------


def test_discovery_document_advertises_the_endpoints_and_rfc_9207(
    authorization_server: AuthorizationServer, http: httpx.Client
) -> None:
    server = authorization_server
    doc = http.get(server.url("/.well-known/openid-configuration")).json()

    assert doc["issuer"] == server.issuer
    assert server.issuer.startswith("http://127.0.0.1:")
    assert doc["authorization_response_iss_parameter_supported"] is True
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert {"authorization_code", "refresh_token", "client_credentials"} <= set(
        doc["grant_types_supported"]
    )
    assert {"client_secret_basic", "client_secret_post"} <= set(
        doc["token_endpoint_auth_methods_supported"]
    )
    assert doc["token_endpoint"] == server.token_endpoint
    assert doc["revocation_endpoint"] == server.revocation_endpoint
    assert doc["introspection_endpoint"] == server.introspection_endpoint
    # RFC 8414 metadata is served too, with the same content.
    assert http.get(server.url("/.well-known/oauth-authorization-server")).json() == doc


@pytest.mark.parametrize(
    ("client_id", "method"),
    [("cc-basic", "client_secret_basic"), ("cc-post", "client_secret_post")],
)
def test_client_credentials_token_with_basic_and_post_authentication(
    authorization_server: AuthorizationServer, http: httpx.Client, client_id: str, method: str
) -> None:
    server = authorization_server
    client = server.client(client_id)

    response = token_request(
        http, server, client, grant_type="client_credentials", scope="api:read"
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "api:read"
    assert body["expires_in"] == 60
    assert "refresh_token" not in body
    assert introspect(http, server, client, body["access_token"])["active"] is True
    [seen] = server.requests("token")
    assert seen["client_auth_method"] == method
    assert seen["client_id"] == client_id
    assert seen["grant_type"] == "client_credentials"


@pytest.mark.parametrize("client_id", ["cc-basic", "cc-post"])
def test_wrong_client_secret_is_401_invalid_client(
    authorization_server: AuthorizationServer, http: httpx.Client, client_id: str
) -> None:
    server = authorization_server
    good = server.client(client_id)
    wrong = Client(**{**good.__dict__, "client_secret": "not-the-secret"})

    response = token_request(http, server, wrong, grant_type="client_credentials")

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_a_scope_outside_the_clients_registration_is_invalid_scope(
    authorization_server: AuthorizationServer, http: httpx.Client
) -> None:
    server = authorization_server
    narrow = server.register_client(
        support_as.client_credentials_client("narrow", scope="api:read")
    )

    response = token_request(
        http, server, narrow, grant_type="client_credentials", scope="api:write"
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


# --- authorization code, PKCE, iss ---------------------------------------------------------


@pytest.mark.parametrize("client_id", ["code-basic", "code-post"])
def test_authorization_code_with_pkce_consent_and_offline_access(
    authorization_server: AuthorizationServer, http: httpx.Client, client_id: str
) -> None:
    server = authorization_server
    client = server.client(client_id)
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(16)

    callback = complete_consent(
        http, authorization_url(server, client, state=state, code_challenge=challenge)
    )

    assert callback.startswith(REDIRECT_URI + "?")
    params = query_of(callback)
    assert params["state"] == state
    assert params["iss"] == server.issuer  # RFC 9207
    response = token_request(
        http,
        server,
        client,
        grant_type="authorization_code",
        code=params["code"],
        redirect_uri=REDIRECT_URI,
        code_verifier=verifier,
    )
    assert response.status_code == 200, response.text
    tokens = response.json()
    assert tokens["access_token"]
    assert tokens["refresh_token"]
    assert tokens["id_token"]
    assert tokens["expires_in"] == 60
    assert tokens["scope"] == "api:read"  # the access token is for the API (resource) scopes
    info = introspect(http, server, client, tokens["access_token"])
    assert info["active"] is True
    assert info["sub"] == "alice"
    assert info["scope"] == "api:read"
    # A code is single use.
    again = token_request(
        http,
        server,
        client,
        grant_type="authorization_code",
        code=params["code"],
        redirect_uri=REDIRECT_URI,
        code_verifier=verifier,
    )
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


def test_manual_login_and_consent_forms(
    authorization_server: AuthorizationServer, http: httpx.Client
) -> None:
    server = authorization_server
    server.update_settings(auto_approve_user=None)
    client = server.client("code-basic")
    verifier, challenge = pkce_pair()
    url = authorization_url(server, client, state="s1", code_challenge=challenge)

    login_page = http.get(url, follow_redirects=True)
    assert 'id="login-form"' in login_page.text
    callback = complete_consent(http, url, "bob")

    params = query_of(callback)
    assert params["state"] == "s1"
    assert params["iss"] == server.issuer
    tokens = token_request(
        http,
        server,
        client,
        grant_type="authorization_code",
        code=params["code"],
        redirect_uri=REDIRECT_URI,
        code_verifier=verifier,
    ).json()
    assert introspect(http, server, client, tokens["access_token"])["sub"] == "bob"


def test_denying_consent_redirects_with_access_denied(
    authorization_server: AuthorizationServer, http: httpx.Client
) -> None:
    server = authorization_server
    server.update_settings(auto_approve_user=None)
    url = authorization_url(server, server.client("code-basic"), state="s2")

    callback = complete_consent(http, url, approve=False)

    params = query_of(callback)
    assert params["error"] == "access_denied"
    assert params["state"] == "s2"
    assert params["iss"] == server.issuer


def test_without_prompt_consent_offline_access_is_dropped_and_no_refresh_token(
    authorization_server: AuthorizationServer, http: httpx.Client
) -> None:
    tokens = consent_and_exchange(
        http, authorization_server, authorization_server.client("code-basic"), prompt=None
    )

    assert "refresh_token" not in tokens


def test_refresh_token_policy_always_issues_refresh_tokens_without_prompt_consent(
    authorization_server: AuthorizationServer, http: httpx.Client
) -> None:
    authorization_server.update_settings(refresh_token_policy="always")

    tokens = consent_and_exchange(
        http,
        authorization_server,
        authorization_server.client("code-basic"),
        prompt=None,
        scope="api:read",
    )

    assert tokens["refresh_token"]


def test_pkce_required_client_rejects_a_request_without_code_challenge(
    authorization_server: AuthorizationServer, http: httpx.Client
) -> None:
    server = authorization_server
    url = authorization_url(server, server.client("code-pkce"), state="s3")

    params = query_of(complete_consent(http, url))

    assert params["error"] == "invalid_request"
    assert "PKCE" in params["error_description"]
    assert params["state"] == "s3"


@pytest.mark.parametrize("verifier", ["wrong", "missing"])
def test_wrong_or_missing_code_verifier_is_invalid_grant(
    authorization_server: AuthorizationServer, http: httpx.Client, verifier: str
) -> None:
    server = authorization_server
    client = server.client("code-basic")
    _verifier, challenge = pkce_pair()
    callback = complete_consent(
        http, authorization_url(server, client, state="s4", code_challenge=challenge)
    )
    form = {
        "grant_type": "authorization_code",
        "code": query_of(callback)["code"],
        "redirect_uri": REDIRECT_URI,
    }
    if verifier == "wrong":
        form["code_verifier"] = pkce_pair()[0]

    response = token_request(http, server, client, **form)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_unregistered_redirect_uri_shows_an_error_page_and_never_redirects(
    authorization_server: AuthorizationServer, http: httpx.Client
) -> None:
    server = authorization_server
    url = authorization_url(
        server,
        server.client("code-basic"),
        state="s5",
        redirect_uri="http://127.0.0.1:9/evil",
    )

    with pytest.raises(AuthorizationError) as caught:
        complete_consent(http, url)

    assert caught.value.error == "invalid_redirect_uri"


def test_a_client_registered_at_runtime_can_be_used_at_once(
    authorization_server: AuthorizationServer, http: httpx.Client
) -> None:
    server = authorization_server
    callback_uri = "http://127.0.0.1:8123/oauth/callback"
    client = server.register_client(
        authorization_code_client("late", [callback_uri], auth_method="client_secret_post")
    )

    callback = complete_consent(
        http,
        authorization_url(
            server, client, state="s6", code_challenge=pkce_pair()[1], redirect_uri=callback_uri
        ),
    )

    assert callback.startswith(callback_uri + "?code=")
    server.remove_client("late")


# --- refresh, rotation, reuse detection, revocation ----------------------------------------


def test_refresh_rotates_and_reuse_of_a_rotated_refresh_token_revokes_the_grant(
    authorization_server: AuthorizationServer, http: httpx.Client
) -> None:
    server = authorization_server
    client = server.client("code-basic")
    first = consent_and_exchange(http, server, client)

    refreshed = token_request(
        http, server, client, grant_type="refresh_token", refresh_token=first["refresh_token"]
    )
    assert refreshed.status_code == 200, refreshed.text
    second = refreshed.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]

    replay = token_request(
        http, server, client, grant_type="refresh_token", refresh_token=first["refresh_token"]
    )
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"

    # Reuse detection revoked the whole grant: the newest refresh token and the access
    # tokens of the grant are dead too.
    after = token_request(
        http, server, client, grant_type="refresh_token", refresh_token=second["refresh_token"]
    )
    assert after.status_code == 400
    assert after.json()["error"] == "invalid_grant"
    assert introspect(http, server, client, second["access_token"])["active"] is False
    assert server.token_calls("refresh_token") == 3


def test_refresh_without_rotation_keeps_the_refresh_token(
    authorization_server: AuthorizationServer, http: httpx.Client
) -> None:
    server = authorization_server
    server.update_settings(rotate_refresh_token=False)
    client = server.client("code-basic")
    first = consent_and_exchange(http, server, client)

    second = token_request(
        http, server, client, grant_type="refresh_token", refresh_token=first["refresh_token"]
    ).json()

    assert second["refresh_token"] == first["refresh_token"]


def test_revocation_returns_200_and_the_refresh_token_stops_working(
    authorization_server: AuthorizationServer, http: httpx.Client
) -> None:
    server = authorization_server
    client = server.client("code-post")
    tokens = consent_and_exchange(http, server, client)
    auth, credentials = client.auth()

    revoked = http.post(
        server.revocation_endpoint,
        data={"token": tokens["refresh_token"], "token_type_hint": "refresh_token", **credentials},
        auth=auth,
    )

    assert revoked.status_code == 200
    refresh = token_request(
        http, server, client, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    )
    assert refresh.json()["error"] == "invalid_grant"
    # Revoking a refresh token revokes its grant, so its access tokens too.
    assert introspect(http, server, client, tokens["access_token"])["active"] is False
    # Unknown tokens are "revoked" too (RFC 7009 section 2.2).
    assert (
        http.post(
            server.revocation_endpoint, data={"token": "nonsense", **credentials}, auth=auth
        ).status_code
        == 200
    )
    assert server.stats()["revocation"]["total"] == 2


def test_short_access_token_lifetime(
    start_authorization_server: StartServer, http: httpx.Client
) -> None:
    server = start_authorization_server(access_token_ttl_s=1)
    client = server.client("cc-basic")

    body = token_request(http, server, client, grant_type="client_credentials").json()

    assert body["expires_in"] == 1
    time.sleep(1.1)
    assert introspect(http, server, client, body["access_token"])["active"] is False


# --- statistics and faults -----------------------------------------------------------------


def test_stats_count_token_calls_by_grant_type_and_reset(
    authorization_server: AuthorizationServer, http: httpx.Client
) -> None:
    server = authorization_server
    client = server.client("code-basic")
    tokens = consent_and_exchange(http, server, client)
    token_request(
        http, server, client, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    )
    token_request(http, server, server.client("cc-post"), grant_type="client_credentials")

    stats = server.stats()

    assert stats["token"]["total"] == 3
    assert stats["token"]["by_grant_type"] == {
        "authorization_code": 1,
        "refresh_token": 1,
        "client_credentials": 1,
    }
    assert stats["token"]["by_client_auth_method"] == {
        "client_secret_basic": 2,
        "client_secret_post": 1,
    }
    assert stats["token"]["by_status"] == {"200": 3}
    assert stats["authorization"]["total"] >= 1
    [code_request] = [
        r for r in server.requests("token") if r["grant_type"] == "authorization_code"
    ]
    assert code_request["code_verifier_sent"] is True
    assert code_request["redirect_uri"] == REDIRECT_URI
    assert tokens["refresh_token"] not in str(server.requests())  # fingerprints only

    server.reset()
    assert server.token_calls() == 0


def test_an_injected_503_is_returned_once_then_service_resumes(
    authorization_server: AuthorizationServer, http: httpx.Client
) -> None:
    server = authorization_server
    client = server.client("cc-basic")
    server.inject_fault(status=503)

    failed = token_request(http, server, client, grant_type="client_credentials")
    ok = token_request(http, server, client, grant_type="client_credentials")

    assert failed.status_code == 503
    assert ok.status_code == 200
    assert ok.json()["access_token"]
    stats = server.stats()
    assert stats["token"]["total"] == 2
    assert stats["faults_applied"] == 1
    assert stats["faults_pending"] == []


def test_canned_fault_responses(
    authorization_server: AuthorizationServer, http: httpx.Client
) -> None:
    server = authorization_server
    client = server.client("cc-post")
    server.inject_faults(
        [
            {"status": 429, "retry_after": "1"},
            {"status": 200, "body": "<html>oops</html>", "content_type": "text/html"},
            {"error": "invalid_grant", "error_description": "nope"},
            {"error": "invalid_client"},
        ]
    )

    responses = [
        token_request(http, server, client, grant_type="client_credentials") for _ in range(5)
    ]

    assert responses[0].status_code == 429
    assert responses[0].headers["retry-after"] == "1"
    assert responses[1].status_code == 200
    assert responses[1].headers["content-type"].startswith("text/html")
    assert responses[1].text == "<html>oops</html>"
    assert (responses[2].status_code, responses[2].json()) == (
        400,
        {"error": "invalid_grant", "error_description": "nope"},
    )
    assert responses[3].status_code == 401
    assert responses[3].json()["error"] == "invalid_client"
    assert responses[4].status_code == 200


def test_faults_filtered_by_grant_type_and_endpoint(
    authorization_server: AuthorizationServer, http: httpx.Client
) -> None:
    server = authorization_server
    client = server.client("code-basic")
    server.inject_fault(grant_type="refresh_token", error="invalid_grant", count=None)
    tokens = consent_and_exchange(http, server, client)  # the code exchange is untouched
    for _ in range(2):
        refresh = token_request(
            http, server, client, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
        )
        assert refresh.json()["error"] == "invalid_grant"
    server.clear_faults()
    server.inject_fault(endpoint="revocation", status=503)
    refresh = token_request(
        http, server, client, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    )
    assert refresh.status_code == 200, refresh.text  # the faults never reached the server
    new_tokens = refresh.json()

    auth, credentials = client.auth()
    revoke = lambda: http.post(  # noqa: E731
        server.revocation_endpoint,
        data={"token": new_tokens["access_token"], **credentials},
        auth=auth,
    )
    assert revoke().status_code == 503
    assert revoke().status_code == 200
    # oidc-provider revokes the whole grant's tokens with an access token (RFC 7009 allows
    # it): the refresh token is gone as well.
    refresh = token_request(
        http, server, client, grant_type="refresh_token", refresh_token=new_tokens["refresh_token"]
    )
    assert refresh.json()["error"] == "invalid_grant"
    assert server.stats()["revocation"]["by_status"] == {"503": 1, "200": 1}


def test_delay_and_connection_faults(
    authorization_server: AuthorizationServer, http: httpx.Client
) -> None:
    server = authorization_server
    client = server.client("cc-basic")

    server.inject_fault(delay_ms=1500)
    with pytest.raises(httpx.ReadTimeout):
        auth, credentials = client.auth()
        http.post(
            server.token_endpoint,
            data={"grant_type": "client_credentials", **credentials},
            auth=auth,
            timeout=0.5,
        )

    server.inject_fault(reset=True)
    with pytest.raises(httpx.TransportError):
        token_request(http, server, client, grant_type="client_credentials")

    server.inject_fault(drop_response=True)
    with pytest.raises(httpx.TransportError):
        token_request(http, server, client, grant_type="client_credentials")
    assert server.requests("token")[-1]["status"] == "dropped"

    assert token_request(http, server, client, grant_type="client_credentials").status_code == 200


def test_drop_response_after_a_rotation_makes_the_old_refresh_token_a_replay(
    authorization_server: AuthorizationServer, http: httpx.Client
) -> None:
    """The server rotated, the client never heard: retrying with the old token trips reuse
    detection -- the situation a crash-safe client must handle."""
    server = authorization_server
    client = server.client("code-basic")
    tokens = consent_and_exchange(http, server, client)
    server.inject_fault(drop_response=True, grant_type="refresh_token")

    with pytest.raises(httpx.TransportError):
        token_request(
            http, server, client, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
        )
    retry = token_request(
        http, server, client, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    )

    assert retry.json()["error"] == "invalid_grant"


def held_state(server: AuthorizationServer, want: str, within_s: float = 15.0) -> dict[str, Any]:
    """The last token request once its ``held`` state is ``want`` (polled, bounded)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        records = server.requests("token")
        if records and records[-1]["held"] == want:
            return records[-1]
        time.sleep(0.05)
    raise AssertionError(f"no token request became held={want!r}: {server.requests('token')}")


def test_hold_response_keeps_a_rotated_answer_until_the_client_is_gone(
    authorization_server: AuthorizationServer, http: httpx.Client
) -> None:
    """The server rotated and holds its answer; the client's connection closes (as a killed
    process's does): the answer is never sent, and the old refresh token is now a replay."""
    server = authorization_server
    client = server.client("code-basic")
    tokens = consent_and_exchange(http, server, client)
    server.inject_fault(hold_response_ms=60_000, grant_type="refresh_token")
    auth, credentials = client.auth()
    form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], **credentials}

    # The client gives up after a second and closes its connection.
    with pytest.raises(httpx.ReadTimeout), httpx.Client() as doomed:
        doomed.post(server.token_endpoint, data=form, auth=auth,
                    timeout=httpx.Timeout(30, read=1.0))
    gone = held_state(server, "client_gone")

    assert gone["status"] == 200
    retry = token_request(
        http, server, client, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    )
    assert retry.json()["error"] == "invalid_grant"


def test_hold_response_sends_the_answer_late_when_the_client_waits(
    authorization_server: AuthorizationServer, http: httpx.Client
) -> None:
    server = authorization_server
    client = server.client("cc-basic")
    server.inject_fault(hold_response_ms=200)
    answer = token_request(http, server, client, grant_type="client_credentials")
    assert answer.status_code == 200
    assert answer.json()["access_token"]
    assert server.requests("token")[-1]["held"] == "released"


def test_body_faults_patch_truncate_drip_and_oversize(
    authorization_server: AuthorizationServer, http: httpx.Client
) -> None:
    server = authorization_server
    client = server.client("cc-basic")
    server.inject_faults(
        [
            {"response_patch": {"expires_in": None, "token_type": "weird", "instance_url": "x"}},
            {"truncate_bytes": 10},
            {"drip_interval_ms": 20, "drip_chunk_bytes": 16},
            {"oversized_bytes": 1_000_000},
        ]
    )

    def call() -> httpx.Response:
        return token_request(http, server, client, grant_type="client_credentials")

    patched = call().json()
    assert "expires_in" not in patched
    assert patched["token_type"] == "weird"
    assert patched["instance_url"] == "x"
    assert patched["access_token"]
    truncated = call()
    assert truncated.status_code == 200
    assert len(truncated.content) == 10
    started = time.monotonic()
    dripped = call()
    assert dripped.json()["access_token"]
    assert time.monotonic() - started > 0.1
    oversized = call()
    assert oversized.status_code == 200
    assert len(oversized.content) == 1_000_000


def test_unknown_fault_keys_are_refused(authorization_server: AuthorizationServer) -> None:
    with pytest.raises(support_as.AuthorizationServerError, match="unknown fault keys: stauts"):
        authorization_server.inject_fault(stauts=503)


def test_restart_on_the_same_port_forgets_tokens(
    start_authorization_server: StartServer, http: httpx.Client
) -> None:
    server = start_authorization_server()
    client = server.client("cc-basic")
    token = token_request(http, server, client, grant_type="client_credentials").json()
    issuer = server.issuer

    server.restart()

    assert server.issuer == issuer
    assert introspect(http, server, client, token["access_token"])["active"] is False


# --- availability --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ci", "outcome"), [("", pytest.skip.Exception), ("true", pytest.fail.Exception)]
)
def test_missing_node_skips_locally_and_fails_in_ci(
    monkeypatch: pytest.MonkeyPatch, ci: str, outcome: type[BaseException]
) -> None:
    monkeypatch.setenv("CI", ci)
    monkeypatch.setattr(support_as.shutil, "which", lambda _name: None)
    support_as.unavailable_reason.cache_clear()
    try:
        with pytest.raises(outcome, match=r"Node\.js"):
            support_as.require_authorization_server()
    finally:
        monkeypatch.undo()
        support_as.unavailable_reason.cache_clear()


def test_jwt_access_tokens_carry_exp_and_the_resource_audience(
    authorization_server: AuthorizationServer, http: httpx.Client
) -> None:
    server = authorization_server
    server.update_settings(access_token_format="jwt")

    body = token_request(
        http, server, server.client("cc-basic"), grant_type="client_credentials"
    ).json()

    _header, payload, _signature = body["access_token"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["aud"] == server.resource
    assert claims["iss"] == server.issuer
    assert claims["exp"] - claims["iat"] == 60
