"""Sending one call to a provider's API for the API proxy: through the guarded outbound
transport (the egress policy on the address connected to, the forward proxy), without
following redirects, without cookies, with deadlines; bodies streamed both ways.

The transport is used directly (``handle_async_request``), not through an
``httpx.AsyncClient``: a client would keep cookies and could follow redirects, and the proxy
wants neither. It is the asynchronous one, on the event loop: a call on a kept-alive
connection takes no worker thread (a new connection resolves its host name in one, and a
target behind a forward proxy is resolved in one for its check).
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import anyio.to_thread
import httpx

from tokendesk.domain.egress import EgressPolicy
from tokendesk.domain.forwarding import Header
from tokendesk.errors import EgressDenied, ProxyRefused
from tokendesk.oauth.egress import EgressRefused, allowed_addresses
from tokendesk.oauth.outbound import CONNECT_TIMEOUT_S, ProxyRoute, classify
from tokendesk.oauth.transport import AsyncGuardedTransport

Body = bytes | AsyncIterator[bytes]


@dataclass
class ApiSender:
    """Sends API calls; ``transport`` is injected in unit tests, else one guarded transport
    per forward proxy URL and egress policy (an allowlist change opens new connections)."""

    timeout_s: float
    verify: ssl.SSLContext | bool = True
    transport: httpx.AsyncBaseTransport | None = None
    _transports: dict[tuple[str | None, EgressPolicy | None], httpx.AsyncBaseTransport] = field(
        default_factory=dict, repr=False
    )

    async def send(
        self, method: str, url: str, headers: list[Header], body: Body, route: ProxyRoute
    ) -> httpx.Response:
        """Send one request and return the response with its body not yet read (stream it
        with ``aiter_raw``, then ``aclose`` it). Raises a ProviderError naming the cause (egress
        refused, DNS, TLS, unreachable, timeout, forward proxy), and whatever ``body`` raises
        (a size limit) as it is."""
        proxy_url = route.url_for(url)
        policy = route.egress
        if policy is not None and proxy_url is not None and self.transport is None:
            await anyio.to_thread.run_sync(_check_proxied_target, url, policy)
        timeout = httpx.Timeout(self.timeout_s, connect=min(CONNECT_TIMEOUT_S, self.timeout_s))
        try:
            request = httpx.Request(
                method, url, headers=headers, content=body,
                extensions={"timeout": timeout.as_dict()},
            )
            response = await self._transport(proxy_url, policy).handle_async_request(request)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise classify(exc, url, via_proxy=proxy_url is not None) from None
        if response.status_code == 407 and proxy_url is not None:
            await response.aclose()
            raise ProxyRefused(
                "The forward proxy refused its credentials (HTTP 407) for "
                f"{urlsplit(url).hostname}; check the proxy username and password."
            )
        return response

    async def aclose(self) -> None:
        """Close every pooled connection (the web application's shutdown)."""
        transports = list(self._transports.values())
        self._transports.clear()
        for transport in transports:
            await transport.aclose()

    def _transport(
        self, proxy_url: str | None, policy: EgressPolicy | None
    ) -> httpx.AsyncBaseTransport:
        # Only the event loop calls this (no await between the look-up and the insert), so
        # no lock is needed.
        if self.transport is not None:
            return self.transport
        found = self._transports.get((proxy_url, policy))
        if found is None:
            found = AsyncGuardedTransport(verify=self.verify, proxy_url=proxy_url, policy=policy)
            self._transports[(proxy_url, policy)] = found
        return found


def _check_proxied_target(url: str, policy: EgressPolicy) -> None:
    """Through a forward proxy the proxy connects; check what the target resolves to here."""
    parts = urlsplit(url)
    try:
        allowed_addresses(policy, parts.hostname or "", parts.port or 443)
    except EgressRefused as exc:
        raise EgressDenied(exc.sentence()) from None
    except Exception:  # not resolvable here: the proxy may know it, let it try
        return
