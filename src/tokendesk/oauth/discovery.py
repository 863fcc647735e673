"""Authorization server metadata (RFC 8414, OpenID Connect Discovery): what a server says
about itself -- here, its issuer and whether it identifies itself in authorization
responses (RFC 9207)."""

from __future__ import annotations

import json
import threading
import time
from typing import Any
from urllib.parse import urlsplit

from tokendesk.errors import ProviderError
from tokendesk.oauth.outbound import NO_PROXY, Outbound, ProxyRoute

METADATA_PATHS = ("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration")
METADATA_TTL_S = 3600.0


class MetadataCache:
    """Metadata per authorization server origin, fetched on first need and kept an hour."""

    def __init__(self, outbound: Outbound) -> None:
        self.outbound = outbound
        self._found: dict[str, tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def for_url(self, url: str, *, route: ProxyRoute = NO_PROXY) -> dict[str, Any]:
        """The metadata of the server at ``url``'s origin; ``{}`` when it publishes none or
        cannot be reached (nothing is then known about it)."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        with self._lock:
            cached = self._found.get(origin)
        if cached is not None and time.monotonic() - cached[0] < METADATA_TTL_S:
            return cached[1]
        metadata = self._fetch(origin, route)
        with self._lock:
            self._found[origin] = (time.monotonic(), metadata)
        return metadata

    def _fetch(self, origin: str, route: ProxyRoute) -> dict[str, Any]:
        for path in METADATA_PATHS:
            try:
                reply = self.outbound.get(origin + path, route=route)
            except ProviderError:
                return {}
            if reply.status == 200:
                try:
                    doc = json.loads(reply.body)
                except (ValueError, UnicodeDecodeError):
                    continue
                if isinstance(doc, dict):
                    return doc
        return {}
