"""Authorization server metadata (RFC 8414, OpenID Connect Discovery): what a server says
about itself -- here, its issuer and whether it identifies itself in authorization
responses (RFC 9207)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from tokendesk.errors import IssuerMetadataError, ProviderError
from tokendesk.oauth.outbound import NO_PROXY, Outbound, ProxyRoute

METADATA_PATHS = ("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration")
METADATA_TTL_S = 3600.0


class MetadataCache:
    """Valid metadata per authorization server origin, fetched on first need and kept an hour.

    Only a document that passes :func:`valid_for` is kept. A fetch that fails (unreachable,
    no document, not JSON, or an issuer that is not the origin it came from) is never cached:
    the next call asks again, and meanwhile the last valid document of that origin, however
    old, still answers -- so a server known to send ``iss`` (RFC 9207) cannot switch that
    rule off by failing to answer once.
    """

    def __init__(self, outbound: Outbound, clock: Callable[[], float] = time.monotonic) -> None:
        self.outbound = outbound
        self.clock = clock
        self._found: dict[str, tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def for_url(self, url: str, *, route: ProxyRoute = NO_PROXY) -> dict[str, Any]:
        """The metadata of the server at ``url``'s origin; ``{}`` when no valid document of it
        was ever fetched (nothing is then known about it)."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        with self._lock:
            cached = self._found.get(origin)
        if cached is not None and self.clock() - cached[0] < METADATA_TTL_S:
            return cached[1]
        metadata = self._fetch(origin, route)
        if metadata is None:
            return cached[1] if cached is not None else {}
        with self._lock:
            self._found[origin] = (self.clock(), metadata)
        return metadata

    def _fetch(self, origin: str, route: ProxyRoute) -> dict[str, Any] | None:
        for path in METADATA_PATHS:
            try:
                reply = self.outbound.get(origin + path, route=route)
            except ProviderError:
                return None
            if reply.status == 200:
                try:
                    doc = json.loads(reply.body)
                except (ValueError, UnicodeDecodeError):
                    continue
                if isinstance(doc, dict) and valid_for(origin, doc):
                    return doc
        return None


def valid_for(origin: str, metadata: dict[str, Any]) -> bool:
    """True when ``metadata`` fetched from ``origin``'s well-known address names that origin
    as its issuer (RFC 8414 §3.3, OpenID Connect Discovery §4.3: they must be identical; a
    trailing slash is tolerated). A server that publishes another server's issuer would
    otherwise make answers of that other server pass as its own (RFC 9700 §4.4.2)."""
    issuer = metadata.get("issuer")
    return isinstance(issuer, str) and issuer in (origin, origin + "/")


# --- filling a connection from its issuer ----------------------------------------------------

# Client authentication methods Tokendesk can use, in the order it prefers them when the
# server supports several (a secret in the Authorization header first, RFC 6749 §2.3.1).
PREFERRED_AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt")
# RFC 8414 §2: without token_endpoint_auth_methods_supported, the default is basic.
DEFAULT_AUTH_METHODS = ("client_secret_basic",)


@dataclass(frozen=True, slots=True)
class IssuerMetadata:
    """What an authorization server's metadata says that a connection needs."""

    issuer: str
    authorization_endpoint: str | None
    token_endpoint: str
    revocation_endpoint: str | None
    scopes_supported: tuple[str, ...]
    pkce_s256: bool
    client_auth_method: str | None  # None: none of the methods Tokendesk knows
    sends_iss: bool  # RFC 9207 authorization_response_iss_parameter_supported


def issuer_metadata_urls(issuer: str) -> tuple[str, ...]:
    """Where the metadata of ``issuer`` is published: RFC 8414 §3.1 inserts the well-known
    name between the host and the issuer's path; OpenID Connect Discovery §4 appends it."""
    parts = urlsplit(issuer)
    origin, path = f"{parts.scheme}://{parts.netloc}", parts.path.rstrip("/")
    urls = (f"{origin}/.well-known/oauth-authorization-server{path}",
            f"{origin}{path}/.well-known/openid-configuration")
    return tuple(dict.fromkeys(urls))


def check_issuer(issuer: str) -> str:
    """``issuer`` as RFC 8414 §2 allows it (https, or http for a loopback server the egress
    policy lets through; no query, no fragment), without a trailing slash; raises
    IssuerMetadataError naming what is wrong."""
    text = issuer.strip()
    parts = urlsplit(text)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise IssuerMetadataError(
            f"'{issuer}' is not an issuer URL: give the server's https address, e.g. "
            "https://login.example.com or https://example.com/realms/acme.")
    if parts.query or parts.fragment:
        raise IssuerMetadataError(
            "An issuer URL has no query and no fragment (RFC 8414 §2): give it without "
            f"'?…' or '#…' ({issuer}).")
    return text.rstrip("/")


def fetch_issuer_metadata(outbound: Outbound, issuer: str, *,
                          route: ProxyRoute = NO_PROXY) -> IssuerMetadata:
    """The metadata ``issuer`` publishes, validated: its ``issuer`` must be the one asked for
    (RFC 8414 §3.3), and it must name a token endpoint. Raises IssuerMetadataError with the
    reason in plain words (unreachable, refused by the egress policy, no document, another
    issuer)."""
    issuer = check_issuer(issuer)
    reasons: list[str] = []
    for url in issuer_metadata_urls(issuer):
        try:
            reply = outbound.get(url, route=route)
        except ProviderError as exc:
            raise IssuerMetadataError(
                f"Tokendesk could not read the metadata of {issuer}: {exc.message}") from exc
        if reply.status != 200:
            reasons.append(f"{url} answered HTTP {reply.status}")
            continue
        try:
            doc = json.loads(reply.body)
        except (ValueError, UnicodeDecodeError):
            reasons.append(f"{url} did not answer JSON")
            continue
        if not isinstance(doc, dict):
            reasons.append(f"{url} did not answer a JSON object")
            continue
        return metadata_of(issuer, doc)
    raise IssuerMetadataError(
        f"{issuer} publishes no authorization server metadata ({'; '.join(reasons)}). "
        "Enter the authorization and token URLs yourself.")


def metadata_of(issuer: str, doc: dict[str, Any]) -> IssuerMetadata:
    """``doc`` read as the metadata of ``issuer``; raises IssuerMetadataError when it names
    another issuer or no usable token endpoint."""
    named = doc.get("issuer")
    if not isinstance(named, str) or named.rstrip("/") != issuer:
        raise IssuerMetadataError(
            f"The metadata found for {issuer} names another issuer ({named!r}); Tokendesk "
            "refuses it, since a server could otherwise pass itself off as another "
            "(RFC 8414 §3.3).")
    token_endpoint = _url(doc, "token_endpoint")
    if token_endpoint is None:
        raise IssuerMetadataError(
            f"The metadata of {issuer} names no token endpoint; enter the token URL yourself.")
    methods = _strings(doc, "token_endpoint_auth_methods_supported") or DEFAULT_AUTH_METHODS
    return IssuerMetadata(
        issuer=issuer,
        authorization_endpoint=_url(doc, "authorization_endpoint"),
        token_endpoint=token_endpoint,
        revocation_endpoint=_url(doc, "revocation_endpoint"),
        scopes_supported=_strings(doc, "scopes_supported"),
        pkce_s256="S256" in _strings(doc, "code_challenge_methods_supported"),
        client_auth_method=next((m for m in PREFERRED_AUTH_METHODS if m in methods), None),
        sends_iss=doc.get("authorization_response_iss_parameter_supported") is True,
    )


def _url(doc: dict[str, Any], key: str) -> str | None:
    value = doc.get(key)
    return value if isinstance(value, str) and value.startswith(("https://", "http://")) else None


def _strings(doc: dict[str, Any], key: str) -> tuple[str, ...]:
    value = doc.get(key)
    if not isinstance(value, list):
        return ()
    return tuple(v for v in value if isinstance(v, str))
