"""Genesys Cloud's login service of one region on 127.0.0.1, in front of the real server.

Documented behaviour reproduced here:

- https://developer.genesys.cloud/authorization/platform-auth/ -- each region signs in at
  ``https://login.<region>``: ``/oauth/authorize`` (authorization code, with PKCE) and
  ``/oauth/token``. The client credentials grant authenticates the OAuth client with HTTP
  Basic (``Authorization: Basic base64(client_id:client_secret)``) and a form body
  ``grant_type=client_credentials``; it takes no scope (the roles given to the OAuth client
  decide what the token may do) and answers ``access_token``, ``token_type`` "bearer" and
  ``expires_in`` (seconds), with no refresh token. The authorization code grant (PKCE
  allowed) answers a refresh token as well; without a scope the token carries every scope the
  OAuth client was given. There is no RFC 7009 revocation endpoint at the login host.
- https://developer.genesys.cloud/platform/api/ -- the regions and their hosts
  (``mypurecloud.com``, ``mypurecloud.de``, ``usw2.pure.cloud``, ...).

An OAuth client of another region is unknown here: the same client ID and secret work only
at the login host of the organization's own region.
"""

from __future__ import annotations

from typing import ClassVar

import httpx

from support.authorization_server import AuthorizationServer
from support.emulators.base import Handler, ProviderEmulator, form_of, json_response, query_of
from support.emulators.consent_relay import RELAY_PATH, ConsentRelay

# The documented list of login hosts, by region value (login.<value>).
REGIONS = (
    "mypurecloud.com", "use2.us-gov-pure.cloud", "usw2.pure.cloud", "cac1.pure.cloud",
    "sae1.pure.cloud", "mypurecloud.ie", "euw2.pure.cloud", "mypurecloud.de",
    "euc2.pure.cloud", "mec1.pure.cloud", "aps1.pure.cloud", "apne2.pure.cloud",
    "mypurecloud.com.au", "mypurecloud.jp", "apne3.pure.cloud",
)


class GenesysEmulator(ProviderEmulator):
    """``https://login.<region>`` of one Genesys Cloud region."""

    documentation: ClassVar[tuple[str, ...]] = (
        "https://developer.genesys.cloud/authorization/platform-auth/",
        "https://developer.genesys.cloud/platform/api/",
    )

    def __init__(self, server: AuthorizationServer, region: str = "mypurecloud.de") -> None:
        if region not in REGIONS:
            raise ValueError(f"{region} is not a Genesys Cloud region")
        super().__init__(server)
        self.region = region
        self.relay = ConsentRelay(self)

    @property
    def origin(self) -> str:
        return f"https://login.{self.region}"

    def routes(self) -> dict[tuple[str, str], Handler]:
        return {
            ("GET", "/oauth/authorize"): self.authorize,
            ("POST", "/oauth/token"): self.token,
            ("GET", RELAY_PATH): lambda request: self.relay.pass_on(request),
        }

    def authorize(self, request: httpx.Request) -> httpx.Response:
        """No scope asked: the scopes the OAuth client was given."""
        params = query_of(request)
        client = self.server.clients.get(params.get("client_id", ""))
        if not params.get("scope", "").strip() and client is not None and client.scope:
            params["scope"] = client.scope
        return self.relay.send_on(params, forwarded=params)

    def token(self, request: httpx.Request) -> httpx.Response:
        """Client credentials only with HTTP Basic; the answer without scope or id_token."""
        form = form_of(request)
        if form.get("grant_type") == "client_credentials" and not request.headers.get(
            "authorization", ""
        ).lower().startswith("basic "):
            return json_response(400, {"error": "invalid_client",
                                       "description": "client credentials must be sent with "
                                                      "HTTP Basic authentication",
                                       "error_description": "client credentials must be sent "
                                                            "with HTTP Basic authentication"})
        answer = self.forward(request, self.server.token_endpoint,
                              form=self.relay.token_form(form))
        body = self.body_of(answer)
        if answer.status_code != 200:
            if body.get("error") == "invalid_client":
                body = {"error": "invalid_client", "description": "client not found",
                        "error_description": "client not found"}
            return json_response(answer.status_code, body)
        shown = {"access_token": body["access_token"], "token_type": "bearer",
                 "expires_in": body.get("expires_in")}
        if "refresh_token" in body:  # the authorization code grant's
            shown["refresh_token"] = body["refresh_token"]
        return json_response(200, shown)
