"""Calls to providers' APIs on the event loop (the API proxy's), over aiohttp.

The egress policy applies to the address actually connected to: :class:`GuardedResolver`, the
connector's resolver, resolves the host itself and answers only the addresses the policy
allows, and aiohttp connects to exactly those (no DNS cache, so every new connection is
checked, and nothing answers differently between the check and the connection). aiohttp never
asks the resolver about an IP address, so :meth:`ApiClient.send` checks one itself first.

Nothing is added or changed on the way: no redirects followed, no cookies kept, no automatic
headers (but Host, and Content-Length for a buffered body), bodies passed raw (no
decompression). Responses are read with aiohttp's flow control: it stops reading the socket
while more than twice ``READ_BUFFER_BYTES`` wait to be consumed, so a large body passes
through in bounded memory. Failures become ProviderErrors (:mod:`tokendesk.oauth.api_errors`).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from base64 import b64encode
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import anyio.to_thread
import httpx
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from tokendesk.domain.egress import EgressPolicy
from tokendesk.oauth.api_errors import mapped
from tokendesk.oauth.egress import Lookup, allowed_addresses, getaddrinfo

Header = tuple[bytes, bytes]
Body = bytes | AsyncIterator[bytes]

# httpx's own pool defaults, as the synchronous outbound client has them.
MAX_CONNECTIONS = 100
KEEPALIVE_EXPIRY_S = 5.0
READ_BUFFER_BYTES = 64 * 1024  # aiohttp pauses the socket beyond twice this
# A body larger than this is written in pieces of this size, each within the write deadline.
WRITE_CHUNK_BYTES = 64 * 1024
# Headers aiohttp would otherwise add; the caller's own (allowlisted) ones go through.
_NO_AUTO_HEADERS = ("User-Agent", "Accept", "Accept-Encoding", "Content-Type")


class GuardedResolver(AbstractResolver):
    """Resolves a host name to the addresses ``policy`` allows (all without a policy);
    raises NameNotResolved or EgressRefused (:mod:`tokendesk.oauth.egress`)."""

    def __init__(self, policy: EgressPolicy | None, lookup: Lookup = getaddrinfo) -> None:
        self.policy = policy
        self.lookup = lookup

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        # getaddrinfo blocks: a worker thread, only for a new connection.
        addresses = await anyio.to_thread.run_sync(
            allowed_addresses, self.policy, host, port, self.lookup
        )
        return [_result(host, address, port) for address in addresses]

    async def close(self) -> None:
        return None


def _result(host: str, address: str, port: int) -> ResolveResult:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    return ResolveResult(hostname=host, host=address, port=port, family=family, proto=0,
                         flags=socket.AI_NUMERICHOST)


class ApiResponse:
    """An API's answer with its body not yet read: ``status_code``, ``raw_headers`` as they
    came; stream the body with :meth:`aiter_raw`, then :meth:`aclose`."""

    def __init__(self, response: aiohttp.ClientResponse, url: str, via_proxy: bool) -> None:
        self._response = response
        self._url, self._via_proxy = url, via_proxy
        self.status_code = response.status
        self.raw_headers: list[Header] = list(response.raw_headers)

    def declared_length(self) -> int | None:
        """The Content-Length the API declared, if any (and a number)."""
        return self._response.content_length

    async def aiter_raw(self) -> AsyncIterator[bytes]:
        """The body as it arrives, undecoded; raises a ProviderError if the API breaks off."""
        with mapped(self._url, self._via_proxy):
            async for chunk in self._response.content.iter_any():
                yield chunk

    async def aclose(self) -> None:
        """Give the connection back when the body was read to its end, else close it."""
        if self._response.content.at_eof():
            self._response.release()
        else:
            self._response.close()


class ApiClient:
    """One aiohttp session per forward proxy URL and egress policy (an allowlist change opens
    new connections), created on the running loop when first needed; ``lookup`` resolves
    host names (socket.getaddrinfo; injected in tests of DNS rebinding)."""

    def __init__(
        self, *, verify: ssl.SSLContext | bool = True, lookup: Lookup = getaddrinfo
    ) -> None:
        self.lookup = lookup
        self._ssl = httpx.create_ssl_context(verify=verify, trust_env=False)
        self._sessions: dict[tuple[str | None, EgressPolicy | None], aiohttp.ClientSession] = {}

    async def send(
        self,
        method: str,
        url: str,
        headers: list[Header],
        body: Body,
        *,
        proxy_url: str | None,
        policy: EgressPolicy | None,
        timeout: aiohttp.ClientTimeout,
    ) -> ApiResponse:
        """Send one request (through ``proxy_url``, credentials in it, when given).

        Returns the answer, body unread. Raises a ProviderError naming the cause, and what
        ``body`` raises (a TokendeskError) as it is.
        """
        via_proxy = proxy_url is not None
        with mapped(url, via_proxy):
            target = URL(url, encoded=True)  # the path and query exactly as the caller sent them
            proxy, proxy_headers = _proxy(proxy_url)
            first_hop = proxy or target
            if policy is not None and _is_address(first_hop.host):
                # aiohttp does not resolve an address, so our resolver would not see it.
                _check_address(policy, first_hop.host or "", first_hop.port or 0)
            plain_http = target.scheme == "http"
            sent, body = _outgoing(headers, body, proxy_headers if plain_http else None)
            async with asyncio.timeout(None) as write_deadline:
                if not isinstance(body, bytes):
                    body = _paced(body, write_deadline, timeout.sock_read)
                response = await self._session(proxy_url, policy).request(
                    method, target, headers=sent,
                    data=body or None, proxy=proxy, proxy_headers=proxy_headers,
                    timeout=timeout, allow_redirects=False, skip_auto_headers=_NO_AUTO_HEADERS,
                )
        return ApiResponse(response, url, via_proxy)

    async def aclose(self) -> None:
        """Close every session and its pooled connections (the application's shutdown)."""
        sessions = list(self._sessions.values())
        self._sessions.clear()
        for session in sessions:
            await session.close()

    def _session(
        self, proxy_url: str | None, policy: EgressPolicy | None
    ) -> aiohttp.ClientSession:
        # Only the event loop calls this (no await between the look-up and the insert).
        found = self._sessions.get((proxy_url, policy))
        if found is None:
            connector = aiohttp.TCPConnector(
                # Through a proxy, the proxy's address is the one checked.
                resolver=GuardedResolver(policy, self.lookup), use_dns_cache=False,
                ssl=self._ssl, limit=MAX_CONNECTIONS, keepalive_timeout=KEEPALIVE_EXPIRY_S,
            )
            found = aiohttp.ClientSession(
                connector=connector, cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False, trust_env=False, read_bufsize=READ_BUFFER_BYTES,
            )
            self._sessions[(proxy_url, policy)] = found
        return found


def _outgoing(
    headers: list[Header], body: Body, proxy_headers: dict[str, str] | None
) -> tuple[list[tuple[str, str]], Body]:
    """The headers as aiohttp takes them and the body; a large buffered body in pieces (each
    written within the deadline) with its Content-Length."""
    sent = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in headers]
    if proxy_headers:  # no CONNECT: the proxy reads its credentials from the request itself
        sent += proxy_headers.items()
    if isinstance(body, bytes) and len(body) > WRITE_CHUNK_BYTES:
        sent.append(("Content-Length", str(len(body))))
        body = _pieces(body)
    return sent, body


async def _pieces(body: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(body), WRITE_CHUNK_BYTES):
        yield body[start:start + WRITE_CHUNK_BYTES]


async def _paced(
    chunks: AsyncIterator[bytes], deadline: asyncio.Timeout, write_s: float | None
) -> AsyncIterator[bytes]:
    """``chunks``, each to be written within ``write_s`` (aiohttp has no write timeout: an
    API that stops reading would hold the call for ever). aiohttp asks for the next chunk once
    the last one is written; waiting for the caller's next chunk is not counted."""
    loop = asyncio.get_running_loop()
    async for chunk in chunks:
        deadline.reschedule(None if write_s is None else loop.time() + write_s)
        yield chunk
        deadline.reschedule(None)


def _proxy(proxy_url: str | None) -> tuple[URL | None, dict[str, str] | None]:
    """The proxy's URL without credentials, and the Proxy-Authorization they make."""
    if proxy_url is None:
        return None, None
    proxy = URL(proxy_url, encoded=True)
    if proxy.user is None:
        return proxy, None
    # RFC 7617 Basic, as httpx builds it from a proxy URL's credentials.
    pair = f"{proxy.user}:{proxy.password or ''}".encode()
    return proxy.with_user(None), {"Proxy-Authorization": "Basic " + b64encode(pair).decode()}


def _check_address(policy: EgressPolicy, address: str, port: int) -> None:
    """Raises EgressRefused when ``policy`` does not allow the IP ``address``."""

    def itself(host: str, port: int) -> list[tuple[Any, ...]]:
        return [(0, socket.SOCK_STREAM, 6, "", (host, port))]

    allowed_addresses(policy, address, port, itself)


def _is_address(host: str | None) -> bool:
    try:
        ipaddress.ip_address((host or "").strip("[]"))
    except ValueError:
        return False
    return True


def timeout_for(total_s: float, connect_s: float) -> aiohttp.ClientTimeout:
    """Deadlines per step, as httpx's: ``connect_s`` to connect, ``total_s`` to wait for a
    pooled connection and for each read; no bound on the whole (a body may stream long)."""
    return aiohttp.ClientTimeout(total=None, connect=total_s, sock_connect=connect_s,
                                 sock_read=total_s)

