"""Emulators of three providers at the transport level (``httpx.MockTransport``), each
behaving as the documentation page cited on it says, for the provider-facts tests."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

import httpx

SALESFORCE_ORG = "https://acme.my.salesforce.com"
SALESFORCE_CLIENT_ID = "3MVG9sf-consumer-key"
ATLASSIAN_CLOUD_ID = "1324a887-45db-1bf4-1e99-ef0ff456d421"
GENESYS_LOGIN = "https://login.mypurecloud.de"


def form_of(request: httpx.Request) -> dict[str, str]:
    return dict(parse_qsl(request.content.decode(), keep_blank_values=True))


@dataclass
class SalesforceOrg:
    """A Salesforce org whose session timeout is ``session_s``.

    Token endpoint, client credentials flow
    (https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_client_credentials_flow.htm):
    the answer carries access_token, instance_url, id, token_type, issued_at and signature,
    and no expires_in. Introspection
    (https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_token_introspection.htm):
    POST /services/oauth2/introspect with token, token_type_hint and the connected app's
    client_id and client_secret; answers RFC 7662 ``active`` and ``exp`` (seconds since the
    epoch), 401 without valid client credentials.
    """

    clock: Any
    client_secret: str
    session_s: int = 900
    introspection_status: int = 200
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        path, form = request.url.path, form_of(request)
        if request.method == "POST" and path == "/services/oauth2/token":
            return httpx.Response(200, json={
                "access_token": "00Dxx0000001gPL!AR8AQJXg", "instance_url": SALESFORCE_ORG,
                "id": f"{SALESFORCE_ORG}/id/00Dxx0000001gPLEAY/005xx000001SwiUAAS",
                "token_type": "Bearer", "issued_at": str(int(self.now().timestamp() * 1000)),
                "signature": "CBH7mDxCLYbKbSFmA6jHMjjPxIHSxr1yDTjiLKvLXZ4=",
            })
        if request.method == "POST" and path == "/services/oauth2/introspect":
            return self._introspect(form)
        return httpx.Response(404)

    def _introspect(self, form: dict[str, str]) -> httpx.Response:
        if (form.get("client_id"), form.get("client_secret")) != (
            SALESFORCE_CLIENT_ID, self.client_secret
        ):
            return httpx.Response(401, json={"error": "invalid_client"})
        if self.introspection_status != 200:
            return httpx.Response(self.introspection_status)
        issued = int(self.now().timestamp())
        return httpx.Response(200, json={
            "active": form.get("token") == "00Dxx0000001gPL!AR8AQJXg", "scope": "api",
            "client_id": SALESFORCE_CLIENT_ID, "username": "bot@acme.example",
            "sub": f"{SALESFORCE_ORG}/id/00Dxx0000001gPLEAY/005xx000001SwiUAAS",
            "token_type": "access_token", "exp": issued + self.session_s, "iat": issued,
            "nbf": issued,
        })

    def now(self) -> datetime:
        moment: datetime = self.clock()
        return moment

    def introspections(self) -> list[dict[str, str]]:
        return [form_of(r) for r in self.requests if r.url.path.endswith("/introspect")]


@dataclass
class AtlassianCloud:
    """Atlassian's OAuth 2.0 (3LO) apps
    (https://developer.atlassian.com/cloud/jira/platform/oauth-2-3lo-apps/): the token
    endpoint answers access_token, expires_in, scope and a rotating refresh_token; "Get the
    cloudid for your site": GET https://api.atlassian.com/oauth/token/accessible-resources
    with the bearer token lists the sites the token may reach (id, url, name, scopes,
    avatarUrl), 401 without a valid token."""

    sites: list[dict[str, Any]] = field(default_factory=lambda: [site(ATLASSIAN_CLOUD_ID,
                                                                      "your-domain")])
    issued: int = 0
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        url = str(request.url.copy_with(query=None))
        if request.method == "POST" and url == "https://auth.atlassian.com/oauth/token":
            self.issued += 1
            return httpx.Response(200, json={
                "access_token": f"atl-at-{self.issued}", "expires_in": 3600,
                "token_type": "Bearer", "refresh_token": f"atl-rt-{self.issued}",
                "scope": "read:jira-work offline_access",
            })
        if url == "https://api.atlassian.com/oauth/token/accessible-resources":
            if request.headers.get("authorization") != f"Bearer atl-at-{self.issued}":
                return httpx.Response(401, json={"code": 401, "message": "Unauthorized"})
            return httpx.Response(200, content=json.dumps(self.sites).encode(),
                                  headers={"content-type": "application/json"})
        return httpx.Response(404)

    def resource_calls(self) -> int:
        return sum(r.url.path.endswith("/accessible-resources") for r in self.requests)


def site(cloud_id: str, name: str) -> dict[str, Any]:
    return {"id": cloud_id, "url": f"https://{name}.atlassian.net", "name": name,
            "scopes": ["read:jira-work"], "avatarUrl": "https://site-admin-avatar-cdn.example"}


@dataclass
class GenesysRegion:
    """Genesys Cloud in EMEA (Frankfurt), login.mypurecloud.de
    (https://developer.genesys.cloud/platform/api/): a token endpoint for the client
    credentials grant (https://developer.genesys.cloud/authorization/platform-auth/) and no
    revocation endpoint."""

    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        if request.method == "POST" and str(request.url) == f"{GENESYS_LOGIN}/oauth/token":
            return httpx.Response(200, json={"access_token": "gc-at-1", "token_type": "bearer",
                                             "expires_in": 86399})
        return httpx.Response(404)
