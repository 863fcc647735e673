"""Token endpoint requests: code exchange (RFC 6749 §4.1.3, RFC 7636 §4.5), refresh (§6),
client credentials (§4.4) and revocation (RFC 7009), with the provider's quirks as data."""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from urllib.parse import quote_plus, unquote_plus, urlencode, urlsplit, urlunsplit

from authlib.oauth2.rfc7636 import create_s256_code_challenge

from tokendesk.domain.client_keys import PRIVATE_KEY_JWT
from tokendesk.domain.scopes import format_scopes
from tokendesk.domain.secret import Secret
from tokendesk.domain.tokens import ExpiresInUnit, ExpirySource, TokenSet
from tokendesk.errors import ProviderError
from tokendesk.oauth.assertion import CLIENT_ASSERTION_TYPE, ClientKey, client_assertion
from tokendesk.oauth.error_answers import ErrorAnswer, in_standard_words
from tokendesk.oauth.facts import PostConnectionStep, introspected_expiry, post_connection_fields
from tokendesk.oauth.outbound import NO_PROXY, Outbound, ProxyRoute
from tokendesk.oauth.responses import parse_token_response, raise_for_error_response

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ClientSpec:
    """What the OAuth layer needs of a connection and its provider's quirks."""

    client_id: str
    client_secret: Secret | None
    token_url: str
    authorization_url: str = ""
    revocation_url: str | None = None
    scopes: tuple[str, ...] = ()
    scope_separator: str = " "
    client_auth_method: str = "client_secret_basic"
    pkce: bool = True
    authorization_params: tuple[tuple[str, str], ...] = ()
    default_token_lifetime_s: int | None = None
    keep_response_fields: tuple[str, ...] = ()
    expires_in_unit: ExpiresInUnit = "s"
    transient_error_codes: tuple[int, ...] = ()
    # Plain verdicts for numbers of an error's ``error_codes`` (catalog ``error_verdicts``).
    error_verdicts: tuple[tuple[int, str], ...] = ()
    # Send the scopes with a refresh too (catalog ``refresh_scope``).
    refresh_scope: bool = False
    # For client_auth_method private_key_jwt (RFC 7523 §2.2): the key that signs assertions.
    client_key: ClientKey | None = None
    # Provider facts (oauth/facts.py): RFC 7662 introspection for a token response without
    # expires_in, and the request made after consent.
    introspection_url: str | None = None
    post_connection: PostConnectionStep | None = None
    # The provider's own wording of standard token errors (oauth/error_answers.py).
    error_answers: tuple[ErrorAnswer, ...] = ()


# Parameters of the authorization request that Tokendesk sets itself (RFC 6749 §4.1.1,
# RFC 7636 §4.3): state and redirect_uri bind the flow, so a copy in the typed URL never wins.
_OWN_PARAMS = frozenset(
    {
        "response_type",
        "client_id",
        "redirect_uri",
        "scope",
        "state",
        "code_challenge",
        "code_challenge_method",
    }
)


def authorization_url(
    spec: ClientSpec, *, redirect_uri: str, state: str, code_verifier: str | None
) -> str:
    """The provider's authorization URL for one flow (RFC 6749 §4.1.1, RFC 7636 §4.3).

    The query string the admin typed is kept as typed (less any parameter Tokendesk sets
    itself); the provider's ``authorization_params`` are added unless the URL already has
    them; ``code_challenge`` (S256) is added when ``code_verifier`` is given.
    """
    parts = urlsplit(spec.authorization_url)
    kept = [p for p in parts.query.split("&") if p and _param_name(p).lower() not in _OWN_PARAMS]
    present = {_param_name(p) for p in kept}
    params: list[tuple[str, str]] = [
        ("response_type", "code"),
        ("client_id", spec.client_id),
        ("redirect_uri", redirect_uri),
    ]
    if spec.scopes:
        params.append(("scope", format_scopes(spec.scopes, spec.scope_separator)))
    params.append(("state", state))
    if code_verifier is not None:
        params += [
            ("code_challenge", s256_code_challenge(code_verifier)),
            ("code_challenge_method", "S256"),
        ]
    params += [
        (k, v) for k, v in spec.authorization_params if k not in present and k not in _OWN_PARAMS
    ]
    query = "&".join([*kept, urlencode(params)])
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def s256_code_challenge(code_verifier: str) -> str:
    """BASE64URL(SHA256(ASCII(code_verifier))) without padding (RFC 7636 §4.2)."""
    return str(create_s256_code_challenge(code_verifier))


class OAuthClient:
    """Calls a provider's token and revocation endpoints; raises ProviderError subclasses."""

    def __init__(self, outbound: Outbound, clock: Callable[[], datetime]) -> None:
        self.outbound = outbound
        self.clock = clock

    def exchange_code(
        self,
        spec: ClientSpec,
        *,
        code: Secret,
        redirect_uri: str,
        code_verifier: Secret | None,
        route: ProxyRoute = NO_PROXY,
    ) -> TokenSet:
        """Trade an authorization code for tokens (RFC 6749 §4.1.3)."""
        form = {
            "grant_type": "authorization_code",
            "code": code.reveal(),
            "redirect_uri": redirect_uri,
        }
        if code_verifier is not None:
            form["code_verifier"] = code_verifier.reveal()
        sent = [code] + ([code_verifier] if code_verifier else [])
        tokens = self._token_request(spec, form, route, sent)
        if spec.post_connection is None:
            return tokens
        step = spec.post_connection
        reply = self.outbound.get(step.url, route=route, bearer=tokens.access_token)
        return replace(tokens, extra={**tokens.extra, **post_connection_fields(reply, step)})

    def refresh(
        self, spec: ClientSpec, refresh_token: Secret, *, route: ProxyRoute = NO_PROXY
    ) -> TokenSet:
        """Use a refresh token (RFC 6749 §6), with the connection's scopes when the provider
        wants them (``refresh_scope``); the old one is kept when none comes back."""
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token.reveal()}
        if spec.refresh_scope and spec.scopes:
            form["scope"] = format_scopes(spec.scopes, spec.scope_separator)
        tokens = self._token_request(spec, form, route, [refresh_token])
        if tokens.refresh_token is None:
            return replace(tokens, refresh_token=refresh_token)
        return tokens

    def client_credentials(self, spec: ClientSpec, *, route: ProxyRoute = NO_PROXY) -> TokenSet:
        """Request a token for the client itself (RFC 6749 §4.4)."""
        form = {"grant_type": "client_credentials"}
        if spec.scopes:
            form["scope"] = format_scopes(spec.scopes, spec.scope_separator)
        return self._token_request(spec, form, route, [])

    def revoke(
        self, spec: ClientSpec, token: Secret, hint: str, *, route: ProxyRoute = NO_PROXY
    ) -> None:
        """Revoke a token (RFC 7009 §2.1); raises ProviderError when the server fails."""
        if not spec.revocation_url:
            return
        form = {"token": token.reveal(), "token_type_hint": hint}
        data, basic = self._authenticate(spec, form)
        reply = self.outbound.post_form(spec.revocation_url, data, route=route, basic_auth=basic)
        # §2.2 names 200, but any 2xx (some servers answer 204) means the token is gone.
        if not 200 <= reply.status < 300:
            secrets = self._secrets(spec, [token], data)
            raise_for_error_response(reply, secrets=secrets, now=self.clock())

    def _token_request(
        self, spec: ClientSpec, form: dict[str, str], route: ProxyRoute, sent: Sequence[Secret]
    ) -> TokenSet:
        data, basic = self._authenticate(spec, form)
        sent_at = self.clock()  # RFC 6749 §5.1: the lifetime counts from here, not the answer
        reply = self.outbound.post_form(spec.token_url, data, route=route, basic_auth=basic)
        secrets = self._secrets(spec, sent, data)
        if not 200 <= reply.status < 300:
            reply = in_standard_words(reply, form["grant_type"], spec.error_answers)
            raise_for_error_response(
                reply, secrets=secrets, now=self.clock(), transient=spec.transient_error_codes,
                verdicts=dict(spec.error_verdicts),
            )
        tokens = parse_token_response(
            reply,
            now=sent_at,
            default_lifetime_s=spec.default_token_lifetime_s,
            keep_fields=spec.keep_response_fields,
            secrets=secrets,
            expires_in_unit=spec.expires_in_unit,
        )
        if tokens.expiry_source is ExpirySource.CATALOG_DEFAULT and spec.introspection_url:
            return self._introspected(spec, tokens, route, sent_at)
        return tokens

    def _introspected(
        self, spec: ClientSpec, tokens: TokenSet, route: ProxyRoute, sent_at: datetime
    ) -> TokenSet:
        """``tokens`` expiring when the introspection endpoint says (RFC 7662 §2), with the
        same client authentication; the catalog default, said so, when it cannot answer."""
        assert spec.introspection_url is not None
        form = {"token": tokens.access_token.reveal(), "token_type_hint": "access_token"}
        data, basic = self._authenticate(spec, form)
        try:
            reply = self.outbound.post_form(
                spec.introspection_url, data, route=route, basic_auth=basic
            )
            expires_at = introspected_expiry(reply, now=sent_at)
        except ProviderError as exc:
            log.warning("introspection gave no expiry, the catalog default applies: %s",
                        exc.message)
            return replace(tokens, expiry_source=ExpirySource.INTROSPECTION_FAILED)
        return replace(tokens, expires_at=expires_at, expiry_source=ExpirySource.INTROSPECTION)

    def _authenticate(
        self, spec: ClientSpec, form: dict[str, str]
    ) -> tuple[dict[str, str], tuple[str, str] | None]:
        """Client authentication (RFC 6749 §2.3.1): HTTP Basic or form parameters; or, for
        ``private_key_jwt``, a fresh single-use signed assertion (RFC 7523 §2.2)."""
        if spec.client_auth_method == PRIVATE_KEY_JWT and spec.client_key is not None:
            # RFC 7523 §3: the audience is the token endpoint, for a revocation too.
            assertion = client_assertion(
                spec.client_id, spec.token_url, spec.client_key, self.clock()
            )
            return {
                **form,
                "client_id": spec.client_id,
                "client_assertion_type": CLIENT_ASSERTION_TYPE,
                "client_assertion": assertion,
            }, None
        secret = spec.client_secret.reveal() if spec.client_secret else None
        if spec.client_auth_method == "client_secret_basic" and secret is not None:
            # §2.3.1: id and secret are form-urlencoded before Basic encoding.
            return form, (quote_plus(spec.client_id), quote_plus(secret))
        data = {**form, "client_id": spec.client_id}
        if secret is not None:
            data["client_secret"] = secret
        return data, None

    @staticmethod
    def _secrets(spec: ClientSpec, sent: Sequence[Secret], data: dict[str, str]) -> list[str]:
        """Every secret of one request as Tokendesk sent it, for masking in the answer: the
        tokens, the client secret and its HTTP Basic credentials (RFC 7617), the assertion."""
        values = [s.reveal() for s in sent]
        if "client_assertion" in data:
            values.append(data["client_assertion"])
        if spec.client_secret:
            values.append(spec.client_secret.reveal())
            values += basic_credentials(spec.client_id, spec.client_secret.reveal())
        return values


def basic_credentials(client_id: str, secret: str) -> list[str]:
    """The Basic credentials of a client (RFC 7617 §2): base64 of ``id:secret`` as sent
    (form-urlencoded first, RFC 6749 §2.3.1) and as a server may rebuild it from the plain
    values, each with and without padding and in the URL-safe alphabet."""
    pairs = {f"{quote_plus(client_id)}:{quote_plus(secret)}", f"{client_id}:{secret}"}
    found: set[str] = set()
    for pair in pairs:
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            value = encode(pair.encode()).decode()
            found |= {value, value.rstrip("=")}
    return sorted(found)


def _param_name(pair: str) -> str:
    return unquote_plus(pair.partition("=")[0])
