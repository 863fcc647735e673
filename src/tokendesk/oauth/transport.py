"""The httpx transport of outbound calls, built on public extension points only.

httpx's own ``HTTPTransport`` offers no way to choose the network backend, so this is a small
``httpx.BaseTransport`` over ``httpcore.ConnectionPool`` (public API) given our
:class:`~tokendesk.oauth.egress.GuardedBackend`, the TLS context (CA bundle) and the forward
proxy (with its credentials). (The API proxy's calls on the event loop go through
:mod:`tokendesk.oauth.api_client` instead.) httpcore's exceptions become httpx's, each raised
*from* the original, so the typed causes of :mod:`tokendesk.oauth.egress` stay reachable for
:func:`tokendesk.oauth.outbound.classify`.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Iterator
from typing import Any

import httpcore
import httpx

from tokendesk.domain.egress import EgressPolicy
from tokendesk.oauth.egress import GuardedBackend, Lookup, getaddrinfo

# httpx's own defaults (httpcore's pool alone would allow 10 connections, kept alive for ever).
MAX_CONNECTIONS = 100
MAX_KEEPALIVE_CONNECTIONS = 20
KEEPALIVE_EXPIRY_S = 5.0

# Most specific first: the first match names the httpx exception.
_EXCEPTIONS: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


@contextlib.contextmanager
def _as_httpx_errors() -> Iterator[None]:
    """Re-raise an httpcore exception as the matching httpx one, chained to it."""
    try:
        yield
    except Exception as exc:
        for source, target in _EXCEPTIONS:
            if isinstance(exc, source):
                raise target(str(exc)) from exc
        raise


class GuardedTransport(httpx.BaseTransport):
    """Sends requests through an ``httpcore.ConnectionPool`` over a :class:`GuardedBackend`.

    ``policy`` applies to every connection this transport opens: to the provider directly, or
    to the forward proxy of ``proxy_url`` (credentials in the URL), whose target is checked
    before the call.
    ``lookup`` resolves host names (socket.getaddrinfo; injected in tests of DNS faults).
    """

    def __init__(
        self,
        *,
        verify: ssl.SSLContext | bool = True,
        proxy_url: str | None = None,
        policy: EgressPolicy | None = None,
        lookup: Lookup = getaddrinfo,
    ) -> None:
        self._pool = httpcore.ConnectionPool(
            # Direct: the provider's address is checked; through a proxy: the proxy's, so a
            # proxy named by a host that resolves to a metadata address is refused too.
            network_backend=GuardedBackend(policy, lookup),
            **_pool_options(verify, proxy_url),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request``; raises httpx transport errors chained to their typed causes."""
        assert isinstance(request.stream, httpx.SyncByteStream)
        core_request = _core_request(request, request.stream)
        with _as_httpx_errors():
            answer = self._pool.handle_request(core_request)
        return httpx.Response(
            status_code=answer.status,
            headers=answer.headers,
            stream=_Body(answer),
            extensions=answer.extensions,
        )

    def close(self) -> None:
        with _as_httpx_errors():
            self._pool.close()


class _Body(httpx.SyncByteStream):
    """The response body, read from httpcore with its errors mapped."""

    def __init__(self, answer: httpcore.Response) -> None:
        self._answer = answer

    def __iter__(self) -> Iterator[bytes]:
        with _as_httpx_errors():
            yield from self._answer.iter_stream()

    def close(self) -> None:
        with _as_httpx_errors():
            self._answer.close()


def _pool_options(verify: ssl.SSLContext | bool, proxy_url: str | None) -> dict[str, Any]:
    """What the pool is given besides its network backend: the TLS context, the
    forward proxy (credentials from its URL) and httpx's own pool limits."""
    proxy = None
    if proxy_url is not None:
        parsed = httpx.Proxy(proxy_url)
        proxy = httpcore.Proxy(
            url=httpcore.URL(
                scheme=parsed.url.raw_scheme,
                host=parsed.url.raw_host,
                port=parsed.url.port,
                target=parsed.url.raw_path,
            ),
            auth=parsed.raw_auth,
        )
    return {
        "ssl_context": httpx.create_ssl_context(verify=verify, trust_env=False),
        "proxy": proxy,
        "max_connections": MAX_CONNECTIONS,
        "max_keepalive_connections": MAX_KEEPALIVE_CONNECTIONS,
        "keepalive_expiry": KEEPALIVE_EXPIRY_S,
    }


def _core_request(
    request: httpx.Request, content: httpx.SyncByteStream
) -> httpcore.Request:
    return httpcore.Request(
        method=request.method,
        url=httpcore.URL(
            scheme=request.url.raw_scheme,
            host=request.url.raw_host,
            port=request.url.port,
            target=request.url.raw_path,
        ),
        headers=request.headers.raw,
        content=content,
        extensions=request.extensions,
    )
