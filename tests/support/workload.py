"""A workload platform for end-to-end tests: a second oidc-provider whose JWT access tokens,
issued by client credentials, play the workloads' identity tokens."""

from __future__ import annotations

import httpx

from support.authorization_server import AuthorizationServer, client_credentials_client

AUDIENCE = "https://tokendesk.test/workloads"
CONNECTION = "Salesforce prod"
PLATFORM_OPTIONS = {
    "clients": [client_credentials_client("runner"), client_credentials_client("stranger")],
    "access_token_format": "jwt", "resource": AUDIENCE, "access_token_ttl_s": 300,
}


def workload_jwt(platform: AuthorizationServer, client_id: str = "runner") -> str:
    """A fresh JWT of workload ``client_id`` (a client of the platform)."""
    client = platform.clients[client_id]
    auth, extra = client.auth()
    answer = httpx.post(platform.token_endpoint, auth=auth, trust_env=False, data={
        "grant_type": "client_credentials", "scope": "api:read", **extra})
    assert answer.status_code == 200, answer.text
    token = str(answer.json()["access_token"])
    assert token.count(".") == 2  # a JWT, not an opaque token
    return token
