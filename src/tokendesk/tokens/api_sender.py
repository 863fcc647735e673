"""Sending one call to a provider's API for the API proxy: through the guarded API client
(:mod:`tokendesk.oauth.api_client`: the egress policy on the address connected to, the
forward proxy), without following redirects, without cookies, with deadlines; bodies
streamed both ways.

It runs on the event loop: a call on a kept-alive connection takes no worker thread (a new
connection resolves its host name in one, and a target behind a forward proxy is resolved in
one for its check).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import anyio.to_thread

from tokendesk.domain.egress import EgressPolicy
from tokendesk.domain.forwarding import Header
from tokendesk.errors import EgressDenied, ProxyRefused
from tokendesk.oauth.api_client import ApiClient, ApiResponse, Body, timeout_for
from tokendesk.oauth.egress import EgressRefused, Lookup, allowed_addresses, getaddrinfo
from tokendesk.oauth.outbound import CONNECT_TIMEOUT_S, ProxyRoute

__all__ = ["ApiResponse", "ApiSender", "Body"]


@dataclass
class ApiSender:
    """Sends API calls; ``lookup`` resolves host names (socket.getaddrinfo; a stand-in in
    tests of DNS rebinding)."""

    timeout_s: float
    verify: ssl.SSLContext | bool = True
    lookup: Lookup = getaddrinfo
    _client: ApiClient | None = field(default=None, repr=False)

    async def send(
        self, method: str, url: str, headers: list[Header], body: Body, route: ProxyRoute
    ) -> ApiResponse:
        """Send one request and return the response with its body not yet read (stream it
        with ``aiter_raw``, then ``aclose`` it). Raises a ProviderError naming the cause (egress
        refused, DNS, TLS, unreachable, timeout, forward proxy), and whatever ``body`` raises
        (a size limit) as it is."""
        proxy_url = route.url_for(url)
        policy = route.egress
        if policy is not None and proxy_url is not None:
            await anyio.to_thread.run_sync(_check_proxied_target, url, policy, self.lookup)
        response = await self.client.send(
            method, url, headers, body, proxy_url=proxy_url, policy=policy,
            timeout=timeout_for(self.timeout_s, min(CONNECT_TIMEOUT_S, self.timeout_s)),
        )
        if response.status_code == 407 and proxy_url is not None:
            await response.aclose()
            raise ProxyRefused(
                "The forward proxy refused its credentials (HTTP 407) for "
                f"{urlsplit(url).hostname}; check the proxy username and password."
            )
        return response

    @property
    def client(self) -> ApiClient:
        if self._client is None:
            self._client = ApiClient(verify=self.verify, lookup=self.lookup)
        return self._client

    async def aclose(self) -> None:
        """Close every pooled connection (the web application's shutdown)."""
        if self._client is not None:
            await self._client.aclose()


def _check_proxied_target(url: str, policy: EgressPolicy, lookup: Lookup) -> None:
    """Through a forward proxy the proxy connects; check what the target resolves to here."""
    parts = urlsplit(url)
    try:
        allowed_addresses(policy, parts.hostname or "", parts.port or 443, lookup)
    except EgressRefused as exc:
        raise EgressDenied(exc.sentence()) from None
    except Exception:  # not resolvable here: the proxy may know it, let it try
        return
