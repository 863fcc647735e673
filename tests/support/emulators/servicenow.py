"""A ServiceNow instance's inbound OAuth on 127.0.0.1, in front of the real server.

Documented behaviour reproduced here:

- https://www.servicenow.com/docs/r/platform-security/authentication/oauth-inbound.html and
  "OAuth tokens" (https://docs.servicenow.com/bundle/geneva-servicenow-platform/page/administer/security/reference/r_OAuthTokens.html):
  the instance's ``https://<instance>.service-now.com/oauth_auth.do`` (authorization code)
  and ``/oauth_token.do``; "All requests should be formatted as a URL-encoded HTTP POST
  body" -- ``grant_type``, ``client_id`` and ``client_secret`` in the body, JSON back with
  ``access_token``, ``refresh_token``, ``scope``, ``token_type`` "Bearer", ``expires_in``.
- https://www.servicenow.com/docs/r/platform-security/authentication/client-credentials.html
  -- the client credentials grant at the same ``oauth_token.do``.
- "Revoke an OAuth token"
  (https://www.servicenow.com/docs/r/zurich/platform-security/authentication/t_RevokeOAuthToken.html):
  ``oauth_revoke_token.do`` with the access or refresh token as ``token``; "This endpoint
  access does not require authentication. The token in this request is marked as expired."
- "OAuth scopes" (https://www.servicenow.com/docs/r/platform-security/authentication/oauth-scopes.html):
  an OAuth application's requests without a scope get its default scope, ``useraccount``
  (all that the signed-in user may reach); scopes are not required of the client.
- A refused client or refresh token: ServiceNow answers ``401`` with
  ``{"error_description":"access_denied","error":"server_error"}`` (its own wording, not
  RFC 6749's ``invalid_client`` / ``invalid_grant``; ServiceNow support KB0820012 and the
  ServiceNow community describe this answer to a wrong client secret).
"""

from __future__ import annotations

from typing import ClassVar

import httpx

from support.authorization_server import AuthorizationServer
from support.emulators.base import Handler, ProviderEmulator, form_of, json_response, query_of
from support.emulators.consent_relay import RELAY_PATH, ConsentRelay

INSTANCE = "acme.service-now.com"
DEFAULT_SCOPE = "useraccount"
ACCESS_DENIED = {"error_description": "access_denied", "error": "server_error"}


class ServiceNowEmulator(ProviderEmulator):
    """``https://<instance>.service-now.com``: oauth_auth.do, oauth_token.do and
    oauth_revoke_token.do."""

    documentation: ClassVar[tuple[str, ...]] = (
        "https://www.servicenow.com/docs/r/platform-security/authentication/oauth-inbound.html",
        "https://docs.servicenow.com/bundle/geneva-servicenow-platform/page/administer/"
        "security/reference/r_OAuthTokens.html",
        "https://www.servicenow.com/docs/r/zurich/platform-security/authentication/"
        "t_RevokeOAuthToken.html",
    )

    def __init__(self, server: AuthorizationServer, instance: str = INSTANCE) -> None:
        super().__init__(server)
        self.instance = instance
        self.relay = ConsentRelay(self)

    @property
    def origin(self) -> str:
        return f"https://{self.instance}"

    def routes(self) -> dict[tuple[str, str], Handler]:
        return {
            ("GET", "/oauth_auth.do"): self.authorize,
            ("POST", "/oauth_token.do"): self.token,
            ("POST", "/oauth_revoke_token.do"): self.revoke,
            ("GET", "/oauth_revoke_token.do"): self.revoke,
            ("GET", RELAY_PATH): lambda request: self.relay.pass_on(request),
        }

    def authorize(self, request: httpx.Request) -> httpx.Response:
        """No scope asked: the application's default scope, useraccount."""
        params = query_of(request)
        if not params.get("scope", "").strip():
            params["scope"] = DEFAULT_SCOPE
        return self.relay.send_on(params, forwarded=params)

    def token(self, request: httpx.Request) -> httpx.Response:
        """URL-encoded body only, the client's credentials in it; ServiceNow's wording for
        a refused client or grant."""
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        form = form_of(request)
        if kind != "application/x-www-form-urlencoded" or not form.get("client_secret"):
            return json_response(401, ACCESS_DENIED)
        answer = self.forward(request, self.server.token_endpoint,
                              form=self.relay.token_form(form))
        body = self.body_of(answer)
        if answer.status_code != 200:
            if body.get("error") in ("invalid_client", "invalid_grant"):
                return json_response(401, ACCESS_DENIED)
            return json_response(answer.status_code, body)
        self.remember_issued(form.get("client_id", ""), body)
        body.pop("id_token", None)
        return json_response(200, {**body, "token_type": "Bearer"})

    def revoke(self, request: httpx.Request) -> httpx.Response:
        """Mark the token expired; no authentication is needed (the real server is asked
        with the credentials of the client the token was issued to)."""
        fields = {**query_of(request), **form_of(request)}
        token = fields.get("token", "")
        client = self.client_of(token)
        if client is not None:
            auth, extra = client.auth()
            httpx.post(self.server.revocation_endpoint, auth=auth, trust_env=False, timeout=30,
                       data={"token": token, **extra}).raise_for_status()
        return httpx.Response(200)

    def is_active(self, token: str) -> bool:
        """Whether the real server still takes ``token`` (for tests: was it revoked?)."""
        doc = self.introspection(token)
        assert doc is not None, "a token the emulator never saw issued"
        return doc.get("active") is True

