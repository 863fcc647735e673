"""A Salesforce org's OAuth 2.0 endpoints, as documented, in front of the real server.

Documentation (each quirk below names the page it comes from):

- Web server flow:
  https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_web_server_flow.htm --
  ``/services/oauth2/authorize`` and ``/services/oauth2/token``; the token answer carries
  ``access_token``, ``refresh_token`` (only with the ``refresh_token`` or ``offline_access``
  scope), ``signature``, ``scope``, ``instance_url``, ``id``, ``token_type`` and
  ``issued_at`` (milliseconds) -- and no ``expires_in``: the org's session timeout decides.
  ``signature`` is the Base64 HMAC-SHA256 of ``id`` + ``issued_at`` keyed with the consumer
  secret.
- Refresh token flow:
  https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_refresh_token_flow.htm
  -- the answer has no new refresh token (the refresh token is not rotated).
- Client credentials flow:
  https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_client_credentials_flow.htm
  -- no scope in the request (the connected app's selected OAuth scopes apply), no refresh
  token in the answer.
- Token introspection:
  https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_token_introspection.htm
  -- ``/services/oauth2/introspect`` with the connected app's credentials answers
  ``active``, ``scope``, ``client_id``, ``username``, ``sub``, ``token_type``
  (``access_token`` / ``refresh_token``), ``exp``, ``iat``, ``nbf``.
- Revoke tokens:
  https://help.salesforce.com/s/articleView?id=sf.remoteaccess_revoke_token.htm --
  ``/services/oauth2/revoke`` with ``token``; revoking a refresh token revokes the access
  tokens issued with it; an unknown token gets 400 ``unsupported_token_type``.
- Errors as Salesforce words them (the same pages): ``invalid_client_id`` "client identifier
  invalid", ``invalid_client`` "invalid client credentials", ``invalid_grant`` "expired
  access/refresh token" and "invalid authorization code", ``redirect_uri_mismatch``
  "redirect_uri must match configuration".

The emulator is one org (its My Domain is the emulator's origin, which is also the
``instance_url`` it hands out) with one user; Salesforce sends no ``iss`` in the
authorization response and publishes no RFC 8414 document at the My Domain, so Tokendesk
checks the answer's origin only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import ClassVar

import httpx

from support.authorization_server import AuthorizationServer, Client
from support.emulators import base
from support.emulators.base import Handler, ProviderEmulator, form_of, json_response, query_of
from support.emulators.consent_relay import RELAY_PATH, ConsentRelay, token_is_active

ORG_ID = "00Dxx0000001gPLEAY"
USER_ID = "005xx000001SwiUAAS"
USERNAME = "integration@acme.example"
# The org's session timeout (Setup > Session Settings): 15 minutes, the shortest -- far
# below the two hours Tokendesk assumes when nothing says otherwise.
SESSION_TIMEOUT_S = 900
# Salesforce scopes the real server knows as API scopes; refresh_token and offline_access
# become the real server's offline_access.
SALESFORCE_API_SCOPES = ("api", "web", "full", "chatter_api", "id")
REFRESH_SCOPES = ("refresh_token", "offline_access")
SERVER_OPTIONS = {"clients": [], "api_scopes": SALESFORCE_API_SCOPES, "rotate_refresh_token": False,
                  "access_token_ttl_s": SESSION_TIMEOUT_S}

EXPIRED_TOKEN = "expired access/refresh token"


def salesforce_error(status: int, error: str, description: str) -> httpx.Response:
    return json_response(status, {"error": error, "error_description": description})


def error_page(error: str, description: str) -> httpx.Response:
    """The page Salesforce shows for an authorization request it cannot send back."""
    return base.error_page(error, error, description)


class SalesforceEmulator(ProviderEmulator):
    """A Salesforce org's ``/services/oauth2/*`` on 127.0.0.1."""

    documentation: ClassVar[tuple[str, ...]] = (
        "https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_web_server_flow.htm",
        "https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_client_credentials_flow.htm",
        "https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_token_introspection.htm",
        "https://help.salesforce.com/s/articleView?id=sf.remoteaccess_revoke_token.htm",
    )

    def __init__(self, server: AuthorizationServer) -> None:
        super().__init__(server)
        self.relay = ConsentRelay(self)

    def routes(self) -> dict[tuple[str, str], Handler]:
        return {
            ("GET", "/services/oauth2/authorize"): self.authorize,
            ("GET", RELAY_PATH): self.consent_returned,
            ("POST", "/services/oauth2/token"): self.token,
            ("POST", "/services/oauth2/introspect"): self.introspect,
            ("POST", "/services/oauth2/revoke"): self.revoke,
        }

    @property
    def identity_url(self) -> str:
        return f"{self.url}/id/{ORG_ID}/{USER_ID}"

    # -- web server flow -------------------------------------------------------------------

    def authorize(self, request: httpx.Request) -> httpx.Response:
        params = query_of(request)
        client = self.server.clients.get(params.get("client_id", ""))
        if client is None:
            return error_page("invalid_client_id", "client identifier invalid")
        if params.get("redirect_uri") not in client.redirect_uris:
            return error_page("redirect_uri_mismatch", "redirect_uri must match configuration")
        asked = params.get("scope", "").split() or (client.scope or "api").split()
        scopes = [s for s in asked if s not in REFRESH_SCOPES]
        if any(s in REFRESH_SCOPES for s in asked):
            scopes.append("offline_access")
        return self.relay.send_on(params, scope=" ".join(scopes), prompt="consent")

    def consent_returned(self, request: httpx.Request) -> httpx.Response:
        """The answer at the connected app's callback URL: ``code`` and ``state`` only."""
        returned = self.relay.returned(request)
        if returned is None:
            return error_page("invalid_request", "unknown authorization request")
        pending, answer = returned
        if answer.get("error") == "access_denied":
            answer["error_description"] = "end-user denied authorization"
        return self.relay.back_to_client(pending, answer)

    # -- token endpoint --------------------------------------------------------------------

    def token(self, request: httpx.Request) -> httpx.Response:
        form = form_of(request)
        grant_type = form.get("grant_type", "")
        client = self.server.clients.get(form.get("client_id", ""))
        if client is None:
            return salesforce_error(400, "invalid_client_id", "client identifier invalid")
        if grant_type == "authorization_code":
            exchanged = self.relay.exchange_form(form)
            if exchanged is None:
                return salesforce_error(400, "redirect_uri_mismatch",
                                        "redirect_uri must match configuration")
            form = exchanged
        elif grant_type == "client_credentials":
            # No scope is sent: the connected app's selected OAuth scopes apply.
            form = {**{k: v for k, v in form.items() if k != "scope"},
                    **({"scope": client.scope} if client.scope else {})}
        answer = self.forward(request, "/token", form=form)
        if answer.status_code != 200:
            return self._salesforce_error(answer, grant_type)
        return json_response(200, self._answer(self.body_of(answer), client))

    def _answer(self, upstream: dict[str, object], client: Client) -> dict[str, object]:
        """The real server's answer as Salesforce shapes it: no ``expires_in`` (nor a new
        refresh token on a refresh), with ``instance_url``, ``id``, ``issued_at`` and
        ``signature``."""
        issued_at = str(int(time.time() * 1000))
        body: dict[str, object] = {
            "access_token": upstream["access_token"],
            "signature": signature(self.identity_url, issued_at, client.client_secret or ""),
            "scope": upstream.get("scope", ""),
            "instance_url": self.url,
            "id": self.identity_url,
            "token_type": "Bearer",
            "issued_at": issued_at,
        }
        if "refresh_token" in upstream:
            body["refresh_token"] = upstream["refresh_token"]
        return body

    def _salesforce_error(self, answer: httpx.Response, grant_type: str) -> httpx.Response:
        error = str(self.body_of(answer).get("error", ""))
        if error == "invalid_client":
            return salesforce_error(400, "invalid_client", "invalid client credentials")
        if error == "invalid_grant":
            words = ("invalid authorization code" if grant_type == "authorization_code"
                     else EXPIRED_TOKEN)
            return salesforce_error(400, "invalid_grant", words)
        if error == "unsupported_grant_type" or error == "unauthorized_client":
            return salesforce_error(400, "unsupported_grant_type", "grant type not supported")
        return json_response(answer.status_code, self.body_of(answer))

    # -- introspection and revocation -------------------------------------------------------

    def introspect(self, request: httpx.Request) -> httpx.Response:
        answer = self.forward(request, "/token/introspection")
        if answer.status_code != 200:
            return salesforce_error(401, "invalid_client", "invalid client credentials")
        upstream = self.body_of(answer)
        if not upstream.get("active"):
            return json_response(200, {"active": False})
        kind = "refresh_token" if upstream.get("token_type") == "refresh_token" else "access_token"
        return json_response(200, {
            "active": True, "scope": upstream.get("scope", ""),
            "client_id": upstream.get("client_id"), "username": USERNAME,
            "sub": self.identity_url, "token_type": kind, "exp": upstream.get("exp"),
            "iat": upstream.get("iat"), "nbf": upstream.get("iat"),
        })

    def revoke(self, request: httpx.Request) -> httpx.Response:
        form = {**query_of(request), **form_of(request)}
        if "client_id" in form and not token_is_active(self, request, form):
            return salesforce_error(400, "unsupported_token_type",
                                    "this token type is not supported")
        answer = self.forward(request, "/token/revocation", form=form)
        if answer.status_code != 200:
            return salesforce_error(400, "unsupported_token_type",
                                    "this token type is not supported")
        return httpx.Response(200)



def signature(identity_url: str, issued_at: str, consumer_secret: str) -> str:
    """``signature``: Base64 HMAC-SHA256 of ``id`` + ``issued_at``, keyed with the consumer
    secret (web server flow, the token answer)."""
    digest = hmac.new(consumer_secret.encode(), (identity_url + issued_at).encode(),
                      hashlib.sha256).digest()
    return base64.b64encode(digest).decode()
