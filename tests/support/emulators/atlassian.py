"""Atlassian (Jira Cloud) OAuth 2.0 (3LO) apps on 127.0.0.1, in front of the real server.

Documented behaviour reproduced here:

- https://developer.atlassian.com/cloud/jira/platform/oauth-2-3lo-apps/ -- the authorization
  URL ``https://auth.atlassian.com/authorize`` takes ``audience=api.atlassian.com`` and
  ``prompt=consent`` (both required), ``client_id``, ``scope``, ``redirect_uri``, ``state``
  and ``response_type=code``; the token URL ``https://auth.atlassian.com/oauth/token`` takes
  a JSON body (``Content-Type: application/json``) with ``grant_type``, ``client_id``,
  ``client_secret``, ``code`` and ``redirect_uri`` in it (the client's credentials are in the
  body, not in a Basic header); the answer is ``access_token``, ``expires_in``, ``scope``
  (and ``refresh_token`` with ``offline_access``). "Get the cloudid for your site":
  ``GET https://api.atlassian.com/oauth/token/accessible-resources`` with the bearer token
  lists the sites the token may reach (``id``, ``url``, ``name``, ``scopes``, ``avatarUrl``).
  Its FAQ names the refresh failure: ``403 Forbidden`` with
  ``{"error": "invalid_grant", "error_description": "Unknown or invalid refresh token."}``.
- https://developer.atlassian.com/cloud/oauth/getting-started/refresh-tokens/ -- rotating
  refresh tokens: each refresh answers a new refresh token and the one used is spent; a
  spent one used again is refused, and the whole grant with it (reuse detection: the real
  server, oidc-provider, revokes the grant of a rotated refresh token presented again).

One emulator serves both hosts, ``auth.atlassian.com`` and ``api.atlassian.com``: their
documented paths do not overlap. The form body Tokendesk sends is accepted as well as JSON
(Atlassian's token endpoint answers both; the examples show JSON).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar

import httpx

from support.authorization_server import AuthorizationServer
from support.emulators import base
from support.emulators.base import (
    Handler,
    ProviderEmulator,
    form_of,
    json_response,
    query_of,
)
from support.emulators.consent_relay import RELAY_PATH, ConsentRelay

AUDIENCE = "api.atlassian.com"
# Atlassian's resource server, as the real server's resource indicator (an absolute URI).
RESOURCE = "https://api.atlassian.com"
JIRA_SCOPES = ("write:jira-work", "read:jira-user", "manage:jira-webhook", "read:jira-work")
CLOUD_ID = "1324a887-45db-1bf4-1e99-ef0ff456d421"
SITE_URL = "https://your-domain.atlassian.net"
# The FAQ's words for a refresh token that is unknown, expired, spent or of a revoked grant.
UNKNOWN_REFRESH_TOKEN = "Unknown or invalid refresh token."


def server_options() -> dict[str, Any]:
    """How to start the real server behind Atlassian: its API and scopes."""
    return {"resource": RESOURCE, "api_scopes": sorted(set(JIRA_SCOPES))}


@dataclass(frozen=True)
class Site:
    """One Atlassian site a consent may grant: what accessible-resources lists."""

    cloud_id: str = CLOUD_ID
    url: str = SITE_URL
    name: str = "your-domain"

    def to_json(self, scopes: list[str]) -> dict[str, Any]:
        return {"id": self.cloud_id, "url": self.url, "name": self.name, "scopes": scopes,
                "avatarUrl": "https://site-admin-avatar-cdn.example/avatar.png"}


def error_page(error: str, description: str) -> httpx.Response:
    """The page a browser sees for an authorization request Atlassian refuses."""
    return base.error_page("Something went wrong", error, description)


class AtlassianEmulator(ProviderEmulator):
    """auth.atlassian.com and api.atlassian.com, as the 3LO apps page describes them."""

    documentation: ClassVar[tuple[str, ...]] = (
        "https://developer.atlassian.com/cloud/jira/platform/oauth-2-3lo-apps/",
        "https://developer.atlassian.com/cloud/oauth/getting-started/refresh-tokens/",
    )
    origins: ClassVar[tuple[str, ...]] = ("https://auth.atlassian.com", "https://api.atlassian.com")

    def __init__(self, server: AuthorizationServer, sites: tuple[Site, ...] = (Site(),)) -> None:
        super().__init__(server)
        self.sites = sites
        self.relay = ConsentRelay(self)

    def routes(self) -> dict[tuple[str, str], Handler]:
        return {
            ("GET", "/authorize"): self.authorize,
            ("POST", "/oauth/token"): self.token,
            ("GET", "/oauth/token/accessible-resources"): self.accessible_resources,
            ("GET", RELAY_PATH): lambda request: self.relay.pass_on(request),
        }

    # -- auth.atlassian.com ------------------------------------------------------------------

    def authorize(self, request: httpx.Request) -> httpx.Response:
        """Refuse a request without ``audience=api.atlassian.com`` or ``prompt=consent``;
        send the rest on to the real server's login and consent."""
        params = query_of(request)
        if params.get("audience") != AUDIENCE:
            return error_page("invalid_request",
                              f"The audience parameter must be {AUDIENCE}.")
        if params.get("prompt") != "consent":
            return error_page("invalid_request", "The prompt parameter must be consent.")
        params.pop("audience")
        return self.relay.send_on(params, forwarded=params, resource=RESOURCE)

    def token(self, request: httpx.Request) -> httpx.Response:
        """The token endpoint: JSON or form body, the client's credentials in it."""
        fields = self._body_fields(request)
        if fields is None:
            return json_response(400, {"error": "invalid_request",
                                       "error_description": "The request body is unreadable."})
        if not fields.get("client_id") or not fields.get("client_secret"):
            return json_response(401, {"error": "access_denied",
                                       "error_description": "Unauthorized"})
        if fields.get("grant_type") == "authorization_code":
            fields = {"resource": RESOURCE, **self.relay.token_form(fields)}
        answer = self.forward(_as_form(request), self.server.token_endpoint, form=fields)
        body = self.body_of(answer)
        if answer.status_code == 200:
            self.remember_issued(fields["client_id"], body)
            # Atlassian answers no id_token and names the token type "Bearer".
            body.pop("id_token", None)
            return json_response(200, body)
        if body.get("error") == "invalid_grant" and fields.get("grant_type") == "refresh_token":
            return json_response(403, {"error": "invalid_grant",
                                       "error_description": UNKNOWN_REFRESH_TOKEN})
        if body.get("error") == "invalid_client":
            return json_response(401, {"error": "access_denied",
                                       "error_description": "Unauthorized"})
        return json_response(answer.status_code, body)

    def _body_fields(self, request: httpx.Request) -> dict[str, str] | None:
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind == "application/json":
            try:
                doc = json.loads(request.content or b"{}")
            except ValueError:
                return None
            if not isinstance(doc, dict):
                return None
            return {str(k): str(v) for k, v in doc.items()}
        return form_of(request)

    # -- api.atlassian.com -------------------------------------------------------------------

    def accessible_resources(self, request: httpx.Request) -> httpx.Response:
        """The sites the bearer token may reach; 401 for a token that is not (or no longer)
        active at the real server."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        scopes = self._active_scopes(token) if scheme.lower() == "bearer" and token else None
        if scopes is None:
            return json_response(401, {"code": 401, "message": "Unauthorized"})
        listed = [site.to_json(scopes) for site in self.sites]
        return httpx.Response(200, content=json.dumps(listed).encode(),
                              headers={"Content-Type": "application/json"})

    def _active_scopes(self, token: str) -> list[str] | None:
        """The token's scopes if the real server says it is active (RFC 7662), else None."""
        doc = self.introspection(token)
        if doc is None or doc.get("active") is not True:
            return None
        return [s for s in str(doc.get("scope", "")).split() if s != "offline_access"]

    # -- for tests ---------------------------------------------------------------------------

    def replay_refresh_token(self, token: str, client_id: str) -> httpx.Response:
        """Present a refresh token again, as someone holding a copy of a spent one would."""
        client = self.server.client(client_id)
        assert client.client_secret is not None
        return httpx.post(f"{self.url}/oauth/token", trust_env=False, timeout=30, json={
            "grant_type": "refresh_token", "client_id": client_id,
            "client_secret": client.client_secret, "refresh_token": token})


def _as_form(request: httpx.Request) -> httpx.Request:
    """``request`` with a form content type, for a body forwarded as a form."""
    headers = {k: v for k, v in request.headers.items() if k.lower() != "content-type"}
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    return httpx.Request(request.method, request.url, headers=headers, content=request.content)
