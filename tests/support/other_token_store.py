"""Another token store: it consented at the real authorization server on its own (no
Tokendesk involved: it takes the code to the token endpoint itself) and holds the refresh
token that is to move in."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from support.authorization_server import AuthorizationServer, complete_consent


def consent_elsewhere(server: AuthorizationServer, client_id: str, *, user: str = "alice",
                      scope: str = "openid offline_access api:read") -> dict[str, Any]:
    """The token answer another token store got from its own consent (a refresh token in it)."""
    client = server.client(client_id)
    redirect_uri = client.redirect_uris[0]  # the store's own; never requested here
    state = secrets.token_urlsafe(16)
    url = server.authorization_endpoint + "?" + urlencode({
        "response_type": "code", "client_id": client.client_id, "scope": scope,
        "redirect_uri": redirect_uri, "state": state, "prompt": "consent"})
    with httpx.Client(trust_env=False, timeout=30) as http:
        callback = complete_consent(http, url, user=user)
        code = parse_qs(urlsplit(callback).query)["code"][0]
        auth, credentials = client.auth()
        answer = http.post(server.token_endpoint, auth=auth, data={
            "grant_type": "authorization_code", "code": code,
            "redirect_uri": redirect_uri, **credentials})
    answer.raise_for_status()
    tokens = dict(answer.json())
    assert tokens.get("refresh_token"), tokens
    return tokens
