"""Google's OAuth 2.0 for web server applications, as documented, in front of the real server.

Documentation (each quirk below names the part it comes from):

- "Using OAuth 2.0 for Web Server Applications":
  https://developers.google.com/identity/protocols/oauth2/web-server -- the authorization
  endpoint ``https://accounts.google.com/o/oauth2/v2/auth`` and its parameters (``scope``
  required; ``access_type=offline`` "instructs the Google authorization server to return a
  refresh token and an access token the first time that your application exchanges an
  authorization code for tokens"; ``prompt=consent`` asks again, so a refresh token comes
  again), the token endpoint ``https://oauth2.googleapis.com/token`` (a refresh answers
  ``access_token``, ``expires_in``, ``scope``, ``token_type`` and no new refresh token), the
  revocation endpoint ``https://oauth2.googleapis.com/revoke`` (200 on success, 400 with an
  error code otherwise; revoking one token of a grant revokes the grant), and its error codes
  (``invalid_client``, ``invalid_grant``, ``redirect_uri_mismatch``, ``invalid_request``).
- "OAuth 2.0 Scopes for Google APIs": https://developers.google.com/identity/protocols/oauth2/scopes
- OpenID Connect discovery of Google: ``https://accounts.google.com/.well-known/openid-configuration``
  (https://developers.google.com/identity/openid-connect/openid-connect#discovery).

Google serves these from two hosts, ``accounts.google.com`` and ``oauth2.googleapis.com``; the
emulator serves both sets of paths, so :meth:`ProviderEmulator.at` swaps either origin. It
stands for one Google account: "the first time" a client gets consent with
``access_type=offline`` is counted per client.
"""

from __future__ import annotations

import threading
from typing import ClassVar

import httpx

from support.authorization_server import AuthorizationServer
from support.emulators import base
from support.emulators.base import Handler, ProviderEmulator, form_of, json_response, query_of
from support.emulators.consent_relay import RELAY_PATH, ConsentRelay, token_is_active

DOCUMENTATION = "https://developers.google.com/identity/protocols/oauth2/web-server"
# "OAuth 2.0 Scopes for Google APIs": those of the catalog's presets and Apigee's default.
GOOGLE_API_SCOPES = (
    "https://www.googleapis.com/auth/calendar",
    "https://www.googleapis.com/auth/drive",
    "https://www.googleapis.com/auth/spreadsheets",
    "https://mail.google.com/",
    "https://www.googleapis.com/auth/gmail.readonly",
    "https://www.googleapis.com/auth/gmail.send",
    "https://www.googleapis.com/auth/cloud-platform",
    "https://www.googleapis.com/auth/userinfo.email",
    "https://www.googleapis.com/auth/userinfo.profile",
)
SIGN_IN_SCOPES = ("openid", "email", "profile")
# Google's words for a refresh token that no longer works (web-server, "Refresh token
# expiration"; the token endpoint's invalid_grant).
EXPIRED_OR_REVOKED = "Token has been expired or revoked."
# Google's access tokens live an hour ("expires_in": 3599 in the documented answers).
ACCESS_TOKEN_LIFETIME_S = 3599
# The real server started for this emulator: Google's scopes are its API scopes, and Google
# does not rotate refresh tokens.
SERVER_OPTIONS = {"clients": [], "api_scopes": GOOGLE_API_SCOPES, "rotate_refresh_token": False,
                  "access_token_ttl_s": ACCESS_TOKEN_LIFETIME_S}


def error_page(status: int, error: str, description: str) -> httpx.Response:
    """Google's own error page ("Error 400: <error>"): errors of the request itself are shown
    to the user, not sent to the redirect URI (web-server, "Error codes")."""
    return base.error_page(f"Error {status}: {error}", error, description, status=status)


class GoogleEmulator(ProviderEmulator):
    """``accounts.google.com`` and ``oauth2.googleapis.com`` on 127.0.0.1."""

    documentation: ClassVar[tuple[str, ...]] = (
        DOCUMENTATION, "https://developers.google.com/identity/protocols/oauth2/scopes")
    origins: ClassVar[tuple[str, ...]] = ("https://accounts.google.com",
                                          "https://oauth2.googleapis.com")

    def __init__(self, server: AuthorizationServer) -> None:
        super().__init__(server)
        self.relay = ConsentRelay(self)
        self._consented: set[str] = set()
        self._lock = threading.Lock()

    def routes(self) -> dict[tuple[str, str], Handler]:
        return {
            ("GET", "/o/oauth2/v2/auth"): self.authorize,
            ("GET", RELAY_PATH): self.consent_returned,
            ("POST", "/token"): self.token,
            ("POST", "/revoke"): self.revoke,
            ("GET", "/.well-known/openid-configuration"): self.discovery,
        }

    # -- https://accounts.google.com --------------------------------------------------------

    def authorize(self, request: httpx.Request) -> httpx.Response:
        """Step 2 of the web-server flow: the request is checked as Google does, then the
        consent happens at the real server."""
        params = query_of(request)
        client = self.server.clients.get(params.get("client_id", ""))
        if client is None:
            return error_page(401, "invalid_client", "The OAuth client was not found.")
        if params.get("redirect_uri") not in client.redirect_uris:
            return error_page(400, "redirect_uri_mismatch",
                              f"The redirect URI in the request, {params.get('redirect_uri')}, "
                              "does not match the ones authorized for the OAuth client.")
        scopes = params.get("scope", "").split()
        if not scopes:
            return error_page(400, "invalid_request", "Missing required parameter: scope")
        unknown = [s for s in scopes if s not in (*GOOGLE_API_SCOPES, *SIGN_IN_SCOPES)]
        if unknown:
            return error_page(400, "invalid_scope",
                              f"Some requested scopes were invalid. {{invalid={unknown}}}")
        return self.relay.send_on(params, scope=self._upstream_scope(params, scopes),
                                  prompt="consent")

    def _upstream_scope(self, params: dict[str, str], scopes: list[str]) -> str:
        """The scopes asked of the real server: ``offline_access`` (its way to a refresh
        token) only when Google would issue one -- ``access_type=offline`` at the client's
        first consent, or with ``prompt=consent``."""
        offline = params.get("access_type") == "offline"
        asks_again = "consent" in params.get("prompt", "").split()
        with self._lock:
            refresh = offline and (asks_again or params["client_id"] not in
                                   self._consented)
        return " ".join([*scopes, "offline_access"] if refresh else scopes)

    def consent_returned(self, request: httpx.Request) -> httpx.Response:
        """Step 4: Google's answer at the client's redirect URI -- ``code`` (or ``error``),
        ``state``, ``scope``, ``authuser`` and ``iss``, Google's issuer (RFC 9207; Google
        sends it in its callbacks, its discovery document does not announce it)."""
        returned = self.relay.returned(request)
        if returned is None:
            return error_page(400, "invalid_request", "Unknown authorization request.")
        pending, answer = returned
        if "code" in answer:
            with self._lock:
                self._consented.add(pending.client_id)
            answer.update(scope=pending.scope, authuser="0")
        answer["iss"] = self.url
        return self.relay.back_to_client(pending, answer)

    def discovery(self, request: httpx.Request) -> httpx.Response:
        """Google's discovery document, its issuer the emulator (Google's own origin)."""
        return json_response(200, {
            "issuer": self.url,
            "authorization_endpoint": f"{self.url}/o/oauth2/v2/auth",
            "token_endpoint": f"{self.url}/token",
            "revocation_endpoint": f"{self.url}/revoke",
            "response_types_supported": ["code"],
            "scopes_supported": list(SIGN_IN_SCOPES),
            "code_challenge_methods_supported": ["plain", "S256"],
        })

    # -- https://oauth2.googleapis.com -------------------------------------------------------

    def token(self, request: httpx.Request) -> httpx.Response:
        """Step 5 (exchange) and "Refreshing an access token (offline access)"."""
        form = form_of(request)
        grant_type = form.get("grant_type", "")
        if form.get("client_id") and form["client_id"] not in self.server.clients:
            return json_response(401, {"error": "invalid_client",
                                       "error_description": "The OAuth client was not found."})
        if grant_type == "authorization_code":
            exchanged = self.relay.exchange_form(form)
            if exchanged is None:
                return json_response(400, {"error": "redirect_uri_mismatch",
                                           "error_description": "Bad Request"})
            form = exchanged
        answer = self.forward(request, "/token", form=form)
        if answer.status_code != 200:
            return self._google_error(answer, grant_type)
        body = self.body_of(answer)
        if grant_type == "refresh_token":
            body.pop("refresh_token", None)  # not rotated: the refresh answer has none
        body["token_type"] = "Bearer"
        return json_response(200, body)

    def _google_error(self, answer: httpx.Response, grant_type: str) -> httpx.Response:
        """The real server's refusal in Google's words."""
        error = str(self.body_of(answer).get("error", ""))
        if error == "invalid_client":
            return json_response(401, {"error": "invalid_client",
                                       "error_description": "Unauthorized"})
        if error == "invalid_grant":
            words = EXPIRED_OR_REVOKED if grant_type == "refresh_token" else "Bad Request"
            return json_response(400, {"error": "invalid_grant", "error_description": words})
        return json_response(answer.status_code, self.body_of(answer))

    def revoke(self, request: httpx.Request) -> httpx.Response:
        """"Revoking a token": ``token`` in the body (or the query); 200 when revoked, 400
        ``invalid_token`` for a token that is no longer valid."""
        form = {**query_of(request), **form_of(request)}
        if "client_id" in form and not token_is_active(self, request, form):
            return json_response(400, {"error": "invalid_token",
                                       "error_description": "Token expired or revoked"})
        answer = self.forward(request, "/token/revocation", form=form)
        if answer.status_code != 200:
            return self._google_error(answer, "refresh_token")
        return json_response(200, {})

