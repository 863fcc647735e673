"""The Microsoft identity platform (v2.0 endpoints) on 127.0.0.1, and SharePoint's REST API.

What it reproduces, each from Microsoft's documentation:

- ``/{tenant}/oauth2/v2.0/authorize`` and ``/{tenant}/oauth2/v2.0/token``; a refresh token
  only when ``offline_access`` was asked for; refresh tokens replaced at every use
  (https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-auth-code-flow,
  https://learn.microsoft.com/en-us/entra/identity-platform/refresh-tokens).
- Client credentials take exactly one ``<resource>/.default`` scope, else AADSTS1002012
  (https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow).
- Certificate credentials: an RS256 assertion whose ``aud`` is the token endpoint, whose
  header names the certificate by ``x5t#S256`` (or ``x5t``), single use, checked here
  (https://learn.microsoft.com/en-us/entra/identity-platform/certificate-credentials).
- Error bodies ``{"error", "error_description": "AADSTSnnnn: ...", "error_codes": [nnnn],
  "timestamp", "trace_id", "correlation_id"}`` with the numbers of
  https://learn.microsoft.com/en-us/entra/identity-platform/reference-error-codes
  (7000215, 7000222, 700016, 700027, 65001, 50173, 70008, 700082, 1002012, 90014, 50196).
- SharePoint app-only: SharePoint's REST API refuses an app-only token the app obtained with a
  client secret ("Unsupported app only token"); only certificate credentials do
  (https://learn.microsoft.com/en-us/sharepoint/dev/solution-guidance/security-apponly-azuread).

The real work -- login, consent, codes, PKCE, tokens, rotation, revocation -- is the real
oidc-provider server's. This layer keeps Entra's *app registrations* (:class:`App`): each is
registered at the real server as a ``client_secret_post`` client whose redirect URI is the
emulator's consent relay (``support/emulators/consent_relay.py``), so the emulator can take
the RFC 9207 ``iss`` out of the authorization response as Entra (which does not send it)
would. Microsoft scopes are
translated to the real server's (``openid``/``offline_access`` kept, any resource scope ->
``api:read``) and back.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import unquote_plus, urlsplit

import httpx
from cryptography.hazmat.primitives import hashes
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

from support.authorization_server import AUTHORIZATION_CODE, CLIENT_CREDENTIALS, REFRESH_TOKEN
from support.authorization_server import Client as RealClient
from support.client_keys import KeyPair
from support.emulators.base import Handler, ProviderEmulator, form_of, json_response, query_of
from support.emulators.consent_relay import RELAY_PATH, ConsentRelay
from support.emulators.microsoft_errors import aadsts_error

OIDC_SCOPES = ("openid", "offline_access", "profile", "email")
REAL_API_SCOPE = "api:read"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
CLOCK_SKEW_S = 300  # Entra tolerates five minutes of clock skew on an assertion
NO_LOOP_LIMIT = 10**9  # Entra's thresholds are not documented: no loop unless a test sets one

def fingerprint(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:16]


@dataclass
class App:
    """An app registration in Entra: its client ID, credentials and redirect URIs, and what an
    administrator did to it (secret expired, consent withdrawn, sessions revoked)."""

    client_id: str
    client_secret: str | None
    certificate: KeyPair | None
    redirect_uris: tuple[str, ...]
    upstream_secret: str
    secret_expired: bool = False
    consented: bool = True
    # The AADSTS number a refused refresh token gets: 70008 unless the grant ended otherwise.
    refresh_refusal: int = 70008
    issued_refresh_tokens: list[str] = field(default_factory=list)
    resource_scopes: tuple[str, ...] = ()


class MicrosoftEmulator(ProviderEmulator):
    """Entra's v2.0 endpoints (any tenant) and SharePoint's ``/_api/web``, see the module."""

    documentation: ClassVar[tuple[str, ...]] = (
        "https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-auth-code-flow",
        "https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow",
        "https://learn.microsoft.com/en-us/entra/identity-platform/refresh-tokens",
        "https://learn.microsoft.com/en-us/entra/identity-platform/reference-error-codes",
        "https://learn.microsoft.com/en-us/entra/identity-platform/certificate-credentials",
        "https://learn.microsoft.com/en-us/sharepoint/dev/solution-guidance/security-apponly-azuread",
    )
    origins: ClassVar[tuple[str, ...]] = ("https://login.microsoftonline.com",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.apps: dict[str, App] = {}
        self.loop_limit: int = NO_LOOP_LIMIT
        self._same_requests: dict[tuple[str, ...], int] = {}
        self.relay = ConsentRelay(self)
        self._used_assertions: set[str] = set()
        # Access tokens of client credentials, by fingerprint: the app, and whether it used a
        # "secret" or a "certificate" (SharePoint's REST API tells them apart).
        self.app_only_tokens: dict[str, tuple[App, str]] = {}
        super().__init__(*args, **kwargs)

    def routes(self) -> dict[tuple[str, str], Handler]:
        return {
            ("GET", "/*/oauth2/v2.0/authorize"): self.authorize,
            ("GET", RELAY_PATH): self.relay.pass_on,
            ("POST", "/*/oauth2/v2.0/token"): self.token,
            ("GET", "/_api/web"): self.sharepoint_web,
        }

    # -- app registrations (what an administrator does in the Entra admin center) ----------

    def register_app(self, client_id: str, *, client_secret: str | None = None,
                     certificate: KeyPair | None = None,
                     redirect_uris: tuple[str, ...] = ()) -> App:
        """An app registration with a secret and/or a certificate, registered at the real
        server as the client that does the work behind it (with the app's secret, which the
        real server checks; a certificate-only app gets a secret only the emulator knows)."""
        upstream = client_secret or f"upstream-{secrets.token_urlsafe(18)}"
        app = App(client_id, client_secret, certificate, tuple(redirect_uris), upstream)
        self.apps[client_id] = app
        self.server.register_client(RealClient(
            client_id=client_id, client_secret=upstream,
            grant_types=(AUTHORIZATION_CODE, REFRESH_TOKEN, CLIENT_CREDENTIALS),
            redirect_uris=(self.relay.redirect_uri,), token_endpoint_auth_method="client_secret_post",
            scope=None))
        return app

    def register_client(self, client: RealClient) -> App:
        """An app registration with ``client``'s secret and redirect URIs (a certificate is
        registered by :meth:`register_app`)."""
        return self.register_app(client.client_id, client_secret=client.client_secret,
                                 redirect_uris=client.redirect_uris)

    def revoke_sessions(self, client_id: str, *, because: int) -> None:
        """End every refresh token of the app for real (RFC 7009 at the real server); a later
        refresh is refused with AADSTS ``because`` (50173 password change, 70008 revoked,
        700082 inactivity)."""
        app = self.apps[client_id]
        app.refresh_refusal = because
        for token in app.issued_refresh_tokens:
            answer = self._upstream.post(self.server.revocation_endpoint, data={
                "token": token, "token_type_hint": "refresh_token", "client_id": client_id,
                "client_secret": app.upstream_secret})
            assert answer.status_code == 200, answer.text

    # -- /{tenant}/oauth2/v2.0/authorize --------------------------------------------------

    def authorize(self, request: httpx.Request) -> httpx.Response:
        params = query_of(request)
        app = self.apps.get(params.get("client_id", ""))
        if app is None:
            return aadsts_error(700016, app=params.get("client_id", ""), tenant=_tenant(request))
        if params.get("redirect_uri") not in app.redirect_uris:
            return aadsts_error(50011, redirect_uri=params.get("redirect_uri", ""),
                                app=app.client_id)
        requested = params.get("scope", "").split()
        app.resource_scopes = tuple(s for s in requested if s not in OIDC_SCOPES)
        upstream = {"scope": real_scopes(requested)}
        if "offline_access" in requested:
            # Entra issues a refresh token for offline_access alone; oidc-provider (OpenID
            # Connect Core §11) also wants prompt=consent, so the emulator adds it.
            upstream["prompt"] = "consent"
        return self.relay.send_on(params, forwarded=params, **upstream)

    # -- /{tenant}/oauth2/v2.0/token ------------------------------------------------------

    def token(self, request: httpx.Request) -> httpx.Response:
        form = {**_basic_credentials(request), **form_of(request)}
        missing = _missing_field(form)
        if missing:
            return aadsts_error(90014, name=missing)
        app = self.apps.get(form["client_id"])
        if app is None:
            return aadsts_error(700016, app=form["client_id"], tenant=_tenant(request))
        refused = self._client_refused(app, form, str(request.url))
        if refused is not None:
            return refused
        grant = form["grant_type"]
        if grant == CLIENT_CREDENTIALS and not _one_default_scope(form.get("scope", "")):
            return aadsts_error(1002012, scope=form.get("scope", ""))
        if grant != CLIENT_CREDENTIALS and not app.consented:
            return aadsts_error(65001, app=app.client_id)
        if self._looping(app, form):
            return aadsts_error(50196)
        return self._forwarded(request, app, form)

    def _client_refused(self, app: App, form: dict[str, str], url: str) -> httpx.Response | None:
        """The client's authentication as Entra checks it: a secret, or a certificate
        assertion (certificate-credentials); None when it is accepted."""
        if form.get("client_assertion_type") == ASSERTION_TYPE:
            if not self._assertion_good(app, form.get("client_assertion", ""), url):
                return aadsts_error(700027)
            return None
        if app.secret_expired and form.get("client_secret") == app.client_secret:
            return aadsts_error(7000222, app=app.client_id)
        return None  # the real server checks the secret: invalid_client becomes 7000215

    def _assertion_good(self, app: App, assertion: str, url: str) -> bool:
        if app.certificate is None or assertion in self._used_assertions:
            return False
        try:
            token = jwt.decode(assertion, RSAKey.import_key(app.certificate.public_jwk()),
                               algorithms=["RS256", "PS256"])
        except (JoseError, ValueError):
            return False
        claims, header = token.claims, token.header
        thumbprint = _thumbprints(app.certificate)
        now = datetime.now(UTC).timestamp()
        good = (claims.get("aud") == url and claims.get("iss") == app.client_id
                and claims.get("sub") == app.client_id and bool(claims.get("jti"))
                and int(claims.get("exp", 0)) > now - CLOCK_SKEW_S
                and int(claims.get("nbf", 0)) < now + CLOCK_SKEW_S
                and (header.get("x5t#S256") == thumbprint[0] or header.get("x5t") == thumbprint[1]))
        if good:
            self._used_assertions.add(assertion)
        return good

    def _looping(self, app: App, form: dict[str, str]) -> bool:
        key = (app.client_id, form["grant_type"], form.get("scope", ""),
               fingerprint(form.get("refresh_token", "")))
        self._same_requests[key] = self._same_requests.get(key, 0) + 1
        return self._same_requests[key] > self.loop_limit

    def _forwarded(self, request: httpx.Request, app: App, form: dict[str, str]) -> httpx.Response:
        grant = form["grant_type"]
        if grant == AUTHORIZATION_CODE and form.get("redirect_uri") not in app.redirect_uris:
            return aadsts_error(50011, redirect_uri=form.get("redirect_uri", ""),
                                app=app.client_id)
        upstream = {k: v for k, v in form.items()
                    if k not in ("client_assertion", "client_assertion_type", "scope")}
        if "client_assertion" in form:
            # The certificate was checked here; the real server knows the app by its secret.
            upstream["client_secret"] = app.upstream_secret
        if grant == AUTHORIZATION_CODE:
            upstream["redirect_uri"] = self.relay.redirect_uri
        if grant == CLIENT_CREDENTIALS:
            upstream["scope"] = REAL_API_SCOPE
        # Basic credentials, if any, are in the form now (Entra reads either).
        bare = httpx.Request(request.method, request.url, content=request.content, headers={
            k: v for k, v in request.headers.items() if k.lower() != "authorization"})
        answer = self.forward(bare, urlsplit(self.server.token_endpoint).path, form=upstream)
        doc = self.body_of(answer)
        if answer.status_code != 200:
            return self._translated_error(app, grant, doc)
        return self._translated_tokens(app, form, doc)

    def _translated_error(self, app: App, grant: str, doc: dict[str, Any]) -> httpx.Response:
        if doc.get("error") == "invalid_grant":
            return aadsts_error(app.refresh_refusal if grant == REFRESH_TOKEN else 70000)
        if doc.get("error") == "invalid_client":
            return aadsts_error(7000215)
        return aadsts_error(70011)

    def _translated_tokens(self, app: App, form: dict[str, str],
                           doc: dict[str, Any]) -> httpx.Response:
        """The real server's tokens in Entra's shape: its scopes named back in Microsoft's
        words, ``ext_expires_in`` beside ``expires_in``."""
        body: dict[str, Any] = {"token_type": "Bearer", "expires_in": doc["expires_in"],
                                "ext_expires_in": doc["expires_in"],
                                "access_token": doc["access_token"]}
        if form["grant_type"] == CLIENT_CREDENTIALS:
            how = "certificate" if "client_assertion" in form else "secret"
            self.app_only_tokens[fingerprint(doc["access_token"])] = (app, how)
            return json_response(200, body)
        body["scope"] = " ".join(app.resource_scopes)
        if doc.get("refresh_token"):
            body["refresh_token"] = doc["refresh_token"]
            app.issued_refresh_tokens.append(doc["refresh_token"])
        if doc.get("id_token"):
            body["id_token"] = doc["id_token"]
        return json_response(200, body)

    # -- SharePoint's REST API -----------------------------------------------------------

    def sharepoint_web(self, request: httpx.Request) -> httpx.Response:
        """``GET https://<domain>.sharepoint.com/_api/web``: an app-only token obtained with a
        secret is refused, as SharePoint does; one obtained with a certificate is served."""
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        app, how = self.app_only_tokens.get(fingerprint(token), (None, ""))
        if how == "secret":
            return json_response(401, {"error_description": "Unsupported app only token."},
                                 headers={"x-ms-diagnostics": '3001000;reason="Unsupported app '
                                          'only token.";category="invalid_client"'})
        if app is None or how != "certificate" or not self._active(app, token):
            return json_response(401, {"error_description": "Invalid JWT token."})
        return json_response(200, {"Title": "Team site", "Url": "/sites/team"})

    def site(self, access_token: str) -> httpx.Response:
        """What a bot does with a SharePoint token: ``GET /_api/web`` at the emulator."""
        with httpx.Client(trust_env=False, timeout=30) as http:
            return http.get(self.url + "/_api/web",
                            headers={"Authorization": f"Bearer {access_token}"})

    def _active(self, app: App, token: str) -> bool:
        """Whether the real server still holds ``app``'s ``token`` active (RFC 7662)."""
        answer = self._upstream.post(self.server.introspection_endpoint, data={
            "token": token, "client_id": app.client_id, "client_secret": app.upstream_secret})
        return answer.status_code == 200 and answer.json().get("active") is True


def real_scopes(requested: list[str]) -> str:
    """Microsoft's scopes in the real server's words: OpenID scopes kept, resource scopes
    (``https://graph.microsoft.com/Mail.Read``, ``.../.default``) -> ``api:read``."""
    kept = [s for s in requested if s in OIDC_SCOPES]
    if any(s not in OIDC_SCOPES for s in requested):
        kept.append(REAL_API_SCOPE)
    return " ".join(kept)


def _missing_field(form: dict[str, str]) -> str | None:
    """The first parameter Entra requires that the token request lacks (AADSTS90014): the
    tables of v2-oauth2-auth-code-flow (``scope`` is required when refreshing) and
    v2-oauth2-client-creds-grant-flow."""
    needed = ["grant_type", "client_id"]
    needed += {AUTHORIZATION_CODE: ["code", "redirect_uri"],
               REFRESH_TOKEN: ["refresh_token", "scope"],
               CLIENT_CREDENTIALS: ["scope"]}.get(form.get("grant_type", ""), [])
    return next((name for name in needed if not form.get(name)), None)


def _one_default_scope(scope: str) -> bool:
    """client-creds-grant-flow: exactly one scope, ``<resource>/.default``."""
    scopes = scope.split()
    return len(scopes) == 1 and scopes[0].endswith("/.default") and "://" in scopes[0]


def _basic_credentials(request: httpx.Request) -> dict[str, str]:
    """client_id and client_secret sent as HTTP Basic credentials (RFC 6749 §2.3.1)."""
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("basic "):
        return {}
    user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    return {"client_id": unquote_plus(user), "client_secret": unquote_plus(password)}


def _tenant(request: httpx.Request) -> str:
    return request.url.path.strip("/").split("/")[0]


def _thumbprints(pair: KeyPair) -> tuple[str, str]:
    """The certificate's x5t#S256 and x5t header values (base64url of SHA-256 / SHA-1)."""
    cert = pair.certificate()

    def b64url(digest: bytes) -> str:
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    return b64url(cert.fingerprint(hashes.SHA256())), b64url(cert.fingerprint(hashes.SHA1()))  # noqa: S303 - x5t is SHA-1 (RFC 7515 §4.1.7)
