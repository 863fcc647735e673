"""aiohttp's failures (and our resolver's) as the ProviderErrors the outbound client gives.

Each aiohttp exception is first named by the httpx exception of the same meaning, raised from
it (with our typed cause, :class:`~tokendesk.oauth.egress.TlsFailed` or
:class:`~tokendesk.oauth.egress.NameNotResolved`, where aiohttp has one), and
:func:`tokendesk.oauth.outbound.classify` words it: one place for the sentences, so a call
through the API proxy fails with the same kind and message as any other outbound call.
Recognised by type, never by text.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import TypeVar
from urllib.parse import urlsplit

import aiohttp
import httpcore
import httpx

from tokendesk.errors import ProviderError, TokendeskError
from tokendesk.oauth.egress import NameNotResolved, TlsFailed, causes
from tokendesk.oauth.outbound import classify

_E = TypeVar("_E", bound=BaseException)

# Most specific first: the first match names the httpx exception. A TLS failure and a name
# that did not resolve get our typed cause in between (see as_httpx).
_KINDS: tuple[tuple[type[BaseException], type[httpx.TransportError]], ...] = (
    (aiohttp.ClientHttpProxyError, httpx.ProxyError),  # the proxy answered CONNECT with an error
    (aiohttp.ClientSSLError, httpx.ConnectError),
    (aiohttp.ClientConnectorDNSError, httpx.ConnectError),
    (aiohttp.ClientConnectorError, httpx.ConnectError),  # incl. the proxy not reachable
    (asyncio.TimeoutError, httpx.TimeoutException),  # incl. ServerTimeoutError (connect, read)
    (aiohttp.InvalidURL, httpx.UnsupportedProtocol),
    (aiohttp.NonHttpUrlClientError, httpx.UnsupportedProtocol),
    (httpcore.ConnectError, httpx.ConnectError),  # ours: EgressRefused, NameNotResolved
    (aiohttp.ClientError, httpx.ReadError),  # broke off: disconnected, payload cut short
    (OSError, httpx.ReadError),
)


def as_httpx(exc: BaseException, url: str) -> httpx.TransportError | None:
    """The httpx exception meaning what ``exc`` means, raised from it; None for one that is
    not a network failure."""
    for source, target in _KINDS:
        if isinstance(exc, source):
            cause: BaseException = exc
            if isinstance(exc, aiohttp.ClientSSLError):
                cause = _chained(TlsFailed(urlsplit(url).hostname), exc)
            elif isinstance(exc, aiohttp.ClientConnectorDNSError):
                cause = _chained(NameNotResolved(exc.host), exc)
            return _chained(target(type(exc).__name__), cause)
    return None


def _chained(exc: _E, cause: BaseException) -> _E:
    exc.__cause__ = cause
    return exc


def classify_api_error(exc: BaseException, url: str, *, via_proxy: bool) -> ProviderError | None:
    """The ProviderError for ``exc`` (see :func:`tokendesk.oauth.outbound.classify`)."""
    named = as_httpx(exc, url)
    return None if named is None else classify(named, url, via_proxy=via_proxy)


@contextlib.contextmanager
def mapped(url: str, via_proxy: bool) -> Iterator[None]:
    """Raise network failures inside as ProviderErrors; a TokendeskError raised by the request
    body (a size limit), even wrapped by aiohttp, is raised as it is."""
    try:
        yield
    except (aiohttp.ClientError, httpcore.ConnectError, TimeoutError, OSError) as exc:
        ours = next((c for c in causes(exc) if isinstance(c, TokendeskError)), None)
        if ours is not None:
            raise ours from None
        error = classify_api_error(exc, url, via_proxy=via_proxy)
        if error is None:
            raise
        raise error from None
