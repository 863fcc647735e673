"""Authorization server metadata (RFC 8414, OpenID Connect Discovery): what a server says
about itself -- here, its issuer and whether it identifies itself in authorization
responses (RFC 9207)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from tokendesk.errors import ProviderError
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
