"""The signing keys of trusted workload issuers: their OpenID Connect discovery document and
JWKS (RFC 7517), fetched through the outbound client (egress policy, forward proxy), cached,
and fetched again when a token names a key id (``kid``) not seen yet -- an issuer that rotated
its keys -- at most once a minute per issuer, so forged key ids cannot make Tokendesk hammer
an issuer."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import Key as Jwk
from joserfc.jwk import KeySet

from tokendesk.errors import ProviderError, WorkloadKeysUnavailable
from tokendesk.oauth.discovery import issuer_metadata_urls
from tokendesk.oauth.outbound import NO_PROXY, Outbound, ProxyRoute

JWKS_TTL_S = 3600
UNKNOWN_KID_REFETCH_S = 60  # an unknown kid fetches the keys again at most this often


@dataclass(frozen=True, slots=True)
class _Fetched:
    at: datetime
    keys: KeySet


class WorkloadKeys:
    """Keys per issuer URL; ``clock`` is the application's (tests move it)."""

    def __init__(self, outbound: Outbound, clock: Callable[[], datetime]) -> None:
        self.outbound = outbound
        self.clock = clock
        self._found: dict[str, _Fetched] = {}
        self._failed: dict[str, tuple[datetime, str]] = {}  # issuer -> (when, why)
        self._lock = threading.Lock()

    def key(self, issuer: str, kid: str | None, *, route: ProxyRoute = NO_PROXY) -> Jwk | None:
        """The issuer's public key ``kid`` (its only key when ``kid`` is None), or None when
        it has no such key even after fetching its keys again (when allowed). Raises
        WorkloadKeysUnavailable when the keys cannot be fetched at all."""
        now = self.clock()
        with self._lock:
            cached = self._found.get(issuer)
        if cached is None or now - cached.at >= timedelta(seconds=JWKS_TTL_S):
            cached = self._refresh(issuer, route, now, cached)
        found = _pick(cached.keys, kid)
        if found is None and now - cached.at >= timedelta(seconds=UNKNOWN_KID_REFETCH_S):
            found = _pick(self._refresh(issuer, route, now, cached).keys, kid)
        return found

    def _refresh(self, issuer: str, route: ProxyRoute, now: datetime,
                 cached: _Fetched | None) -> _Fetched:
        """The keys fetched now. When the fetch fails, the keys fetched before (however
        old) still serve, and the next attempt waits UNKNOWN_KID_REFETCH_S: an issuer that is
        down is not asked on every request. Raises WorkloadKeysUnavailable without keys."""
        with self._lock:
            failed = self._failed.get(issuer)
        if cached is None and failed is not None \
                and now - failed[0] < timedelta(seconds=UNKNOWN_KID_REFETCH_S):
            raise WorkloadKeysUnavailable(failed[1] + " Tokendesk asks again after a minute.")
        try:
            fetched = _Fetched(now, self._fetch(issuer, route))
        except WorkloadKeysUnavailable as exc:
            with self._lock:
                self._failed[issuer] = (now, exc.message)
                if cached is not None:  # the last keys serve on; asked again in a minute
                    self._found[issuer] = _Fetched(now, cached.keys)
            if cached is None:
                raise
            return cached
        with self._lock:
            self._found[issuer] = fetched
            self._failed.pop(issuer, None)
        return fetched

    def _fetch(self, issuer: str, route: ProxyRoute) -> KeySet:
        metadata = self._metadata(issuer, route)
        jwks_uri = metadata.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not jwks_uri.startswith(("https://", "http://")):
            raise WorkloadKeysUnavailable(f"The discovery document of {issuer} names no "
                                          "jwks_uri.")
        doc = self._json(jwks_uri, route, what="key set (JWKS)")
        keys = doc.get("keys")
        if not isinstance(keys, list):
            raise WorkloadKeysUnavailable(f"The JWKS of {issuer} has no 'keys' list.")
        usable = []
        for entry in keys:
            # Only public signing keys; anything else (encryption keys, symmetric "oct"
            # keys, which would allow HMAC forgeries) is left out.
            if isinstance(entry, dict) and entry.get("kty") in ("RSA", "EC", "OKP") \
                    and entry.get("use", "sig") == "sig":
                usable.append(_public(entry))
        try:
            return KeySet.import_key_set({"keys": usable})
        except (JoseError, ValueError, TypeError) as exc:
            raise WorkloadKeysUnavailable(f"The JWKS of {issuer} could not be read.") from exc

    def _metadata(self, issuer: str, route: ProxyRoute) -> dict[str, Any]:
        last: WorkloadKeysUnavailable | None = None
        for url in reversed(issuer_metadata_urls(issuer)):  # OpenID Connect's place first
            try:
                doc = self._json(url, route, what="discovery document")
            except WorkloadKeysUnavailable as exc:
                last = exc
                continue
            if str(doc.get("issuer", "")).rstrip("/") != issuer:
                raise WorkloadKeysUnavailable(
                    f"The discovery document found for {issuer} names another issuer; "
                    "refused (OpenID Connect Discovery §4.3).")
            return doc
        raise last or WorkloadKeysUnavailable(f"{issuer} publishes no discovery document.")

    def _json(self, url: str, route: ProxyRoute, *, what: str) -> dict[str, Any]:
        try:
            reply = self.outbound.get(url, route=route)
        except ProviderError as exc:
            raise WorkloadKeysUnavailable(
                f"Tokendesk could not fetch the {what} at {url}: {exc.message}") from exc
        if reply.status != 200:
            raise WorkloadKeysUnavailable(f"The {what} at {url} answered HTTP {reply.status}.")
        try:
            doc = json.loads(reply.body)
        except (ValueError, UnicodeDecodeError):
            doc = None
        if not isinstance(doc, dict):
            raise WorkloadKeysUnavailable(f"The {what} at {url} is not a JSON object.")
        return doc


_PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")


def _public(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if k not in _PRIVATE_MEMBERS}


def _pick(keys: KeySet, kid: str | None) -> Jwk | None:
    if kid is None:
        return keys.keys[0] if len(keys.keys) == 1 else None
    return next((k for k in keys.keys if k.kid == kid), None)
