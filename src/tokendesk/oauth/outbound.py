"""Outbound HTTP to providers: forward proxy, no redirects, deadline and size cap.

Every failure becomes a :class:`~tokendesk.errors.ProviderError` whose ``kind`` names the
cause in plain words (DNS, TLS, proxy, unreachable, timeout); never a stack trace.
"""

from __future__ import annotations

import ssl
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

import httpx

from tokendesk.domain.proxy import ForwardProxy, is_bypassed
from tokendesk.domain.secret import Secret
from tokendesk.errors import (
    InvalidProviderResponse,
    ProviderDnsError,
    ProviderError,
    ProviderTimeout,
    ProviderTlsError,
    ProviderUnreachable,
    ProxyRefused,
)

CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 10.0
# The whole exchange, slow-drip bodies included, ends by then; shorter than the refresh lease.
TOTAL_DEADLINE_S = 20.0
MAX_BODY_BYTES = 1_000_000
USER_AGENT = "Tokendesk/0.1 (+OAuth 2.0 connection desk)"


@dataclass(frozen=True, slots=True)
class ProxyRoute:
    """The forward proxy to use, with its password, as the outbound client needs it."""

    settings: ForwardProxy
    password: Secret | None = None

    def url_for(self, target: str) -> str | None:
        """The proxy URL (credentials included) for ``target``, or None to go direct."""
        proxy = self.settings
        host = urlsplit(target).hostname or ""
        if not proxy.enabled or is_bypassed(host, proxy.bypass):
            return None
        credentials = ""
        if proxy.auth == "basic":
            secret = self.password.reveal() if self.password else ""
            credentials = f"{quote(proxy.username, safe='')}:{quote(secret, safe='')}@"
        return f"{proxy.scheme}://{credentials}{proxy.host}:{proxy.port}"


NO_PROXY = ProxyRoute(ForwardProxy(False, "http", "", None, "none", "", False, (), None, ""))


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    headers: httpx.Headers
    body: bytes


@dataclass
class Outbound:
    """Sends form posts to providers. ``transport`` is injected in unit tests."""

    transport: httpx.BaseTransport | None = None
    verify: ssl.SSLContext | str | bool = True
    total_deadline_s: float = TOTAL_DEADLINE_S
    max_body_bytes: int = MAX_BODY_BYTES
    _clients: dict[str | None, httpx.Client] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def post_form(self, url: str, data: dict[str, str], *, route: ProxyRoute = NO_PROXY,
                  basic_auth: tuple[str, str] | None = None) -> Reply:
        """POST ``data`` as a form to ``url``; raises ProviderError naming the cause."""
        proxy_url = route.url_for(url)
        client = self._client(proxy_url)
        started = time.monotonic()
        request = client.build_request("POST", url, data=data,
                                       headers={"Accept": "application/json"})
        auth = httpx.BasicAuth(*basic_auth) if basic_auth is not None else None
        try:
            response = client.send(request, stream=True, auth=auth)
            try:
                body = self._read_bounded(response, started)
            finally:
                response.close()
        except httpx.HTTPError as exc:
            raise classify(exc, url, via_proxy=proxy_url is not None) from None
        return Reply(response.status_code, response.headers, body)

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()

    def _client(self, proxy_url: str | None) -> httpx.Client:
        with self._lock:
            client = self._clients.get(proxy_url)
            if client is None:
                client = httpx.Client(
                    transport=self.transport,
                    proxy=proxy_url if self.transport is None else None,
                    verify=self.verify,
                    follow_redirects=False,
                    trust_env=False,
                    timeout=httpx.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S),
                    headers={"User-Agent": USER_AGENT},
                )
                self._clients[proxy_url] = client
            return client

    def _read_bounded(self, response: httpx.Response, started: float) -> bytes:
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > self.max_body_bytes:
                raise _OversizedBody()
            if time.monotonic() - started > self.total_deadline_s:
                raise httpx.ReadTimeout("total deadline exceeded")
            chunks.append(chunk)
        return b"".join(chunks)


class _OversizedBody(httpx.HTTPError):
    def __init__(self) -> None:
        super().__init__("response body too large")


def classify(exc: httpx.HTTPError, url: str, *, via_proxy: bool) -> ProviderError:
    """A ProviderError naming in plain words why ``url`` could not be used."""
    host = urlsplit(url).hostname or url
    text = str(exc).lower()
    if isinstance(exc, _OversizedBody):
        return InvalidProviderResponse(f"{host} sent a response larger than "
                                       f"{MAX_BODY_BYTES // 1000} kB; it was not read.")
    if isinstance(exc, httpx.ProxyError) or (via_proxy and "proxy" in text):
        return ProxyRefused(f"The forward proxy refused or failed the connection to {host}.")
    if isinstance(exc, httpx.TimeoutException):
        return ProviderTimeout(f"{host} did not answer in time.")
    if "certificate" in text or "ssl" in text or "tls" in text:
        return ProviderTlsError(
            f"The TLS connection to {host} failed: its certificate is not trusted or does not "
            "match the host name."
        )
    if any(s in text for s in ("name or service not known", "nodename", "getaddrinfo",
                               "name resolution", "no address associated")):
        return ProviderDnsError(f"The host name {host} could not be resolved (DNS).")
    if isinstance(exc, httpx.ConnectError):
        if via_proxy:
            return ProxyRefused(f"The forward proxy could not be reached to connect to {host}.")
        return ProviderUnreachable(f"{host} could not be reached (connection refused or no route).")
    return ProviderUnreachable(f"The connection to {host} broke off before an answer arrived.")
