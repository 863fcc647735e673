"""The OAuth client's provider facts: RFC 7662 introspection asked only for a token response
without expires_in, with the connection's own client authentication, and never a secret in
what it logs; the post-connection request carries the new access token as a bearer."""

from __future__ import annotations

import base64
import logging
from datetime import timedelta

import httpx
import pytest
from oauth_fakes import (
    CLIENT_ID,
    CLIENT_SECRET,
    NOW,
    TOKEN_URL,
    FakeTokenEndpoint,
    client_spec,
    token_json,
)

from tokendesk.domain.secret import Secret
from tokendesk.domain.tokens import ExpirySource
from tokendesk.oauth.client import OAuthClient
from tokendesk.oauth.facts import PostConnectionStep

INTROSPECTION_URL = "https://login.example.com/oauth2/introspect"


def introspection(exp_in_s: int | None = 900, status: int = 200) -> httpx.Response:
    doc = {"active": True} | ({"exp": int(NOW.timestamp()) + exp_in_s} if exp_in_s else {})
    return httpx.Response(status, json=doc)


def test_a_token_with_expires_in_is_not_introspected(
    oauth: OAuthClient, endpoint: FakeTokenEndpoint
) -> None:
    endpoint.answer(token_json(expires_in=3600))
    spec = client_spec(introspection_url=INTROSPECTION_URL, default_token_lifetime_s=7200)

    tokens = oauth.client_credentials(spec)

    assert [str(r.url) for r in endpoint.requests] == [TOKEN_URL]
    assert tokens.expiry_source is ExpirySource.EXPIRES_IN


def test_introspection_uses_the_client_authentication_of_the_connection(
    oauth: OAuthClient, endpoint: FakeTokenEndpoint
) -> None:
    endpoint.answer(token_json(expires_in=None), introspection(900))
    spec = client_spec(introspection_url=INTROSPECTION_URL, default_token_lifetime_s=7200,
                       client_auth_method="client_secret_basic")

    tokens = oauth.client_credentials(spec)

    asked = endpoint.requests[1]
    assert str(asked.url) == INTROSPECTION_URL
    assert endpoint.form(1) == {"token": "at-1", "token_type_hint": "access_token"}
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    assert asked.headers["authorization"] == f"Basic {basic}"
    assert tokens.expires_at == NOW + timedelta(seconds=900)
    assert tokens.expiry_source is ExpirySource.INTROSPECTION


@pytest.mark.parametrize("answer", [
    httpx.Response(200, json={"active": False}),
    introspection(None),
    httpx.Response(401, json={"error": "invalid_client", "error_description": CLIENT_SECRET}),
    httpx.Response(200, content=b"not json"),
])
def test_an_introspection_without_an_expiry_falls_back_to_the_catalog_default(
    oauth: OAuthClient, endpoint: FakeTokenEndpoint, answer: httpx.Response,
    caplog: pytest.LogCaptureFixture,
) -> None:
    endpoint.answer(token_json(expires_in=None), answer)
    spec = client_spec(introspection_url=INTROSPECTION_URL, default_token_lifetime_s=7200)

    with caplog.at_level(logging.WARNING):
        tokens = oauth.client_credentials(spec)

    assert tokens.expires_at == NOW + timedelta(seconds=7200)
    assert tokens.expiry_source is ExpirySource.INTROSPECTION_FAILED
    assert "catalog default" in caplog.text
    assert CLIENT_SECRET not in caplog.text and "at-1" not in caplog.text


def test_the_post_connection_request_carries_the_new_access_token(
    oauth: OAuthClient, endpoint: FakeTokenEndpoint
) -> None:
    endpoint.answer(token_json(), httpx.Response(200, json={"id": "c1", "url": "https://s"}))
    step = PostConnectionStep("https://api.example.com/resources",
                              (("id", "cloud_id"), ("url", "site_url")), "sites")

    tokens = oauth.exchange_code(client_spec(post_connection=step), code=Secret("code-1"),
                                 redirect_uri="https://desk.example/cb", code_verifier=None)

    fetched = endpoint.requests[1]
    assert fetched.method == "GET" and str(fetched.url) == "https://api.example.com/resources"
    assert fetched.headers["authorization"] == "Bearer at-1"
    assert tokens.extra == {"cloud_id": "c1", "site_url": "https://s"}
