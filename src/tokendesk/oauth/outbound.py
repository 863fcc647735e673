"""Outbound HTTP to providers: forward proxy, no redirects, deadline and size cap.

Every failure becomes a :class:`~tokendesk.errors.ProviderError` whose ``kind`` names the
cause in plain words (DNS, TLS, proxy, unreachable, timeout); never a stack trace.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from tokendesk.domain.egress import EgressPolicy
from tokendesk.domain.proxy import ForwardProxy, is_bypassed
from tokendesk.domain.secret import Secret
from tokendesk.errors import (
    EgressDenied,
    InvalidProviderResponse,
    ProviderDnsError,
    ProviderError,
    ProviderTimeout,
    ProviderTlsError,
    ProviderUnreachable,
    ProxyRefused,
)
from tokendesk.oauth.egress import (
    EgressRefused,
    NameNotResolved,
    TlsFailed,
    allowed_addresses,
    causes,
)
from tokendesk.oauth.transport import GuardedTransport

CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 10.0
# The whole exchange, slow-drip bodies included, ends by then; shorter than the refresh lease.
TOTAL_DEADLINE_S = 20.0
MAX_BODY_BYTES = 1_000_000
USER_AGENT = "Tokendesk/0.1 (+OAuth 2.0 connection desk)"


@dataclass(frozen=True, slots=True)
class ProxyRoute:
    """The forward proxy to use, with its password, and the egress policy in force, as the
    outbound client needs them; read from the database for each call. ``egress`` None: the
    policy :class:`Outbound` was built with."""

    settings: ForwardProxy
    password: Secret | None = None
    egress: EgressPolicy | None = None

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
        # An IPv6 address needs brackets in a URL; no port means the scheme's default.
        host = f"[{proxy.host}]" if ":" in proxy.host else proxy.host
        port = f":{proxy.port}" if proxy.port is not None else ""
        return f"{proxy.scheme}://{credentials}{host}{port}"


NO_PROXY = ProxyRoute(ForwardProxy(False, "http", "", None, "none", "", False, (), None, ""))


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    headers: httpx.Headers
    body: bytes


@dataclass
class Outbound:
    """Sends form posts to providers. ``transport`` is injected in unit tests.

    ``total_deadline_s`` bounds the whole exchange (connect, send, headers, body); it must stay
    shorter than the refresh lease, so a lease never expires under a live call.
    """

    transport: httpx.BaseTransport | None = None
    verify: ssl.SSLContext | bool = True
    total_deadline_s: float = TOTAL_DEADLINE_S
    max_body_bytes: int = MAX_BODY_BYTES
    policy: EgressPolicy | None = None
    # One client per proxy URL and egress policy: after an allowlist change no pooled
    # connection opened under the old policy is reused.
    _clients: dict[tuple[str | None, EgressPolicy | None], httpx.Client] = field(
        default_factory=dict, repr=False
    )
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def post_form(
        self,
        url: str,
        data: dict[str, str],
        *,
        route: ProxyRoute = NO_PROXY,
        basic_auth: tuple[str, str] | None = None,
    ) -> Reply:
        """POST ``data`` as a form to ``url``, without following redirects.

        Returns the status, headers and body (at most ``max_body_bytes``). Raises a
        ProviderError naming the cause: ProviderTimeout past ``total_deadline_s``,
        InvalidProviderResponse for an oversized body, and see :func:`classify`.
        """
        return self._send("POST", url, data, route=route, basic_auth=basic_auth)

    def get(
        self, url: str, *, route: ProxyRoute = NO_PROXY, bearer: Secret | None = None
    ) -> Reply:
        """GET ``url`` (metadata documents; with ``bearer``, a provider's API after consent),
        with the same policy, deadline and size cap."""
        return self._send("GET", url, None, route=route, basic_auth=None, bearer=bearer)

    def post_json(
        self, url: str, body: bytes, headers: dict[str, str], *, route: ProxyRoute = NO_PROXY
    ) -> Reply:
        """POST a JSON ``body`` with ``headers`` (a signed webhook delivery) to ``url``, with
        the same egress policy, forward proxy, deadline and size cap as a provider call."""
        return self._send(
            "POST", url, None, route=route, basic_auth=None, content=body, headers=headers
        )

    def _send(
        self,
        method: str,
        url: str,
        data: dict[str, str] | None,
        *,
        route: ProxyRoute,
        basic_auth: tuple[str, str] | None,
        bearer: Secret | None = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        proxy_url = route.url_for(url)
        policy = route.egress if route.egress is not None else self.policy
        if policy is not None and proxy_url is not None and self.transport is None:
            self._check_proxied_target(url, policy)
        deadline = _Deadline(self.total_deadline_s)
        auth = httpx.BasicAuth(*basic_auth) if basic_auth is not None else None
        try:
            client = self._client(proxy_url, policy)
            request = client.build_request(
                method,
                url,
                data=data,
                content=content,
                extensions={"trace": deadline.trace},
                # identity: a compressed body could expand far past the size cap in one chunk
                headers={
                    "Accept": "application/json", "Accept-Encoding": "identity", **(headers or {})
                },
            )
            if bearer is not None:  # RFC 6750 §2.1
                request.headers["Authorization"] = f"Bearer {bearer.reveal()}"
            with deadline:
                response = client.send(request, stream=True, auth=auth)
                try:
                    deadline.watch(response.extensions.get("network_stream"))
                    body = self._read_bounded(response, deadline)
                finally:
                    response.close()
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            if deadline.expired:
                raise _timed_out(url, self.total_deadline_s) from None
            raise classify(exc, url, via_proxy=proxy_url is not None) from None
        if response.status_code == 407 and proxy_url is not None:
            host = urlsplit(url).hostname or url
            raise ProxyRefused(
                f"The forward proxy refused its credentials (HTTP 407) for {host}; "
                "check the proxy username and password."
            )
        return Reply(response.status_code, response.headers, body)

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()

    def _client(self, proxy_url: str | None, policy: EgressPolicy | None) -> httpx.Client:
        with self._lock:
            client = self._clients.get((proxy_url, policy))
            if client is None:
                client = httpx.Client(
                    transport=self.transport
                    or GuardedTransport(verify=self.verify, proxy_url=proxy_url, policy=policy),
                    follow_redirects=False,
                    trust_env=False,
                    timeout=httpx.Timeout(
                        min(READ_TIMEOUT_S, self.total_deadline_s),
                        connect=min(CONNECT_TIMEOUT_S, self.total_deadline_s),
                    ),
                    headers={"User-Agent": USER_AGENT},
                )
                self._clients[(proxy_url, policy)] = client
            return client

    def _check_proxied_target(self, url: str, policy: EgressPolicy) -> None:
        """Through a proxy the proxy connects; check what the target resolves to here."""
        parts = urlsplit(url)
        try:
            allowed_addresses(policy, parts.hostname or "", parts.port or 443)
        except EgressRefused as exc:
            raise EgressDenied(exc.sentence()) from None
        except Exception:  # not resolvable here: the proxy may know it, let it try
            return

    def _read_bounded(self, response: httpx.Response, deadline: _Deadline) -> bytes:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            raise _OversizedBody(self.max_body_bytes)  # refused before reading a byte
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > self.max_body_bytes:
                raise _OversizedBody(self.max_body_bytes)
            if deadline.passed():
                raise httpx.ReadTimeout("total deadline exceeded")
            chunks.append(chunk)
        return b"".join(chunks)


class _Deadline:
    """Ends one exchange at its total deadline, which httpx alone cannot do: its timeouts
    bound each socket operation, so a server dripping a byte just inside the read timeout
    could hold a call for ever. A timer shuts the socket down at the deadline; the blocked
    read then fails at once and :meth:`Outbound.post_form` reports a timeout. One watcher
    thread serves every deadline (a timer thread per call costs milliseconds under load).

    The socket is learnt from httpcore's ``trace`` extension (after connect and after the
    TLS handshake) and from the response's ``network_stream`` (a reused connection).
    """

    def __init__(self, seconds: float) -> None:
        self.ends = time.monotonic() + seconds
        self.expired = False
        self._done = False
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()

    def __enter__(self) -> _Deadline:
        _WATCHER.watch(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        with self._lock:
            self._done = True
            self._sock = None

    def passed(self) -> bool:
        return time.monotonic() >= self.ends

    def trace(self, event: str, info: dict[str, Any]) -> None:
        """httpcore ``trace`` callback: remember the socket of a new connection."""
        if event.endswith((".connect_tcp.complete", ".start_tls.complete")):
            self.watch(info.get("return_value"))

    def watch(self, stream: Any) -> None:
        """Watch the socket under ``stream`` (an httpcore network stream, or None)."""
        get_extra_info = getattr(stream, "get_extra_info", None)
        sock = get_extra_info("socket") if get_extra_info is not None else None
        if not isinstance(sock, socket.socket):
            return
        with self._lock:
            self._sock = sock
            if self.expired and not self._done:
                _shutdown(sock)

    @property
    def done(self) -> bool:
        return self._done

    def expire(self) -> None:
        """The deadline passed: interrupt the exchange unless it ended already."""
        with self._lock:
            if self._done:
                return
            self.expired = True
            if self._sock is not None:
                _shutdown(self._sock)


class _DeadlineWatcher:
    """One daemon thread ending every exchange whose deadline passes, earliest first."""

    def __init__(self) -> None:
        self._due: list[tuple[float, int, _Deadline]] = []
        self._order = itertools.count()  # ties: never compare two deadlines
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def watch(self, deadline: _Deadline) -> None:
        with self._changed:
            heapq.heappush(self._due, (deadline.ends, next(self._order), deadline))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="outbound-deadlines",
                                                daemon=True)
                self._thread.start()
            self._changed.notify()

    def _run(self) -> None:
        with self._changed:
            while True:
                while self._due and self._due[0][2].done:  # ended in time: forget it
                    heapq.heappop(self._due)
                if not self._due:
                    self._changed.wait()
                    continue
                wait_s = self._due[0][0] - time.monotonic()
                if wait_s > 0:
                    self._changed.wait(wait_s)
                    continue
                heapq.heappop(self._due)[2].expire()


_WATCHER = _DeadlineWatcher()


def _shutdown(sock: socket.socket) -> None:
    # The plain socket's shutdown, even for an SSLSocket: it wakes a read blocked in another
    # thread without touching the TLS object that thread is using.
    with contextlib.suppress(OSError):  # already closed: nothing left to interrupt
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _OversizedBody(httpx.HTTPError):
    def __init__(self, limit: int) -> None:
        super().__init__("response body too large")
        self.limit = limit


def _timed_out(url: str, seconds: float) -> ProviderTimeout:
    host = urlsplit(url).hostname or url
    return ProviderTimeout(f"{host} did not finish answering within {seconds:g} seconds.")


def _size_in_words(size: int) -> str:
    for unit, scale in (("MB", 1_000_000), ("kB", 1000)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size} bytes"


def classify(
    exc: httpx.HTTPError | httpx.InvalidURL, url: str, *, via_proxy: bool
) -> ProviderError:
    """A ProviderError naming in plain words why ``url`` could not be used.

    The cause is recognised by the types of ``exc`` and of the exceptions it was raised from
    (our transport chains every failure to its typed cause), never by their text.
    """
    host = urlsplit(url).hostname or url
    chain = list(causes(exc))
    if isinstance(exc, _OversizedBody):
        return InvalidProviderResponse(
            f"{host} sent a response larger than {_size_in_words(exc.limit)}; it was not read."
        )
    if isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol):
        where = "forward proxy address" if via_proxy else f"address of {host}"
        return ProviderUnreachable(f"The {where} is not a valid http(s) URL.")
    refused = next((c for c in chain if isinstance(c, EgressRefused)), None)
    if refused is not None:
        return EgressDenied(refused.sentence())
    if isinstance(exc, httpx.ProxyError):
        return ProxyRefused(f"The forward proxy refused or failed the connection to {host}.")
    if isinstance(exc, httpx.TimeoutException):
        return ProviderTimeout(f"{host} did not answer in time.")
    if any(isinstance(c, TlsFailed) for c in chain):
        return ProviderTlsError(
            f"The TLS connection to {host} failed: its certificate is not trusted or does not "
            "match the host name."
        )
    if any(isinstance(c, NameNotResolved) for c in chain):
        if via_proxy:  # the name that did not resolve is the proxy's
            return ProxyRefused(f"The forward proxy could not be reached to connect to {host}.")
        return ProviderDnsError(f"The host name {host} could not be resolved (DNS).")
    if isinstance(exc, httpx.ConnectError):
        if via_proxy:
            return ProxyRefused(f"The forward proxy could not be reached to connect to {host}.")
        return ProviderUnreachable(f"{host} could not be reached (connection refused or no route).")
    return ProviderUnreachable(f"The connection to {host} broke off before an answer arrived.")
