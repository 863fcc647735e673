"""Our network backend for httpcore: the egress policy on the address actually connected to,
and failures raised as typed exceptions that say what went wrong.

The guarded backend resolves the host itself, keeps only addresses the policy allows, and
connects to one of those exact addresses: there is no window between the check and the
connection in which DNS could answer differently (rebinding). TLS still verifies the
certificate against the host name.

It plugs into httpcore through its public ``network_backend`` argument (see
:mod:`tokendesk.oauth.transport`); the API proxy's aiohttp client applies the same check
through its resolver (:mod:`tokendesk.oauth.api_client`). Every exception here is an
``httpcore.ConnectError``, so httpcore's pool handles it as any failed connection;
:func:`tokendesk.oauth.outbound.classify` recognises it by its type, never by its text.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import httpcore

from tokendesk.domain.egress import (
    ALLOWLIST_WHERE,
    EgressPolicy,
    allowlistable,
    blocked_reason,
)

# socket.getaddrinfo's answer for (host, port); in production socket.getaddrinfo itself, in the
# tests of DNS failures and rebinding a stand-in (faults a test cannot cause for real offline).
Lookup = Callable[[str, int], Sequence[tuple[Any, ...]]]


def getaddrinfo(host: str, port: int) -> Sequence[tuple[Any, ...]]:
    """socket.getaddrinfo for TCP connections to ``host``."""
    return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)


class NameNotResolved(httpcore.ConnectError):
    """The host name could not be resolved (DNS)."""

    def __init__(self, host: str) -> None:
        super().__init__(f"the host name {host} could not be resolved")
        self.host = host


class TlsFailed(httpcore.ConnectError):
    """The TLS handshake failed: untrusted certificate, wrong host name, or not TLS at all."""

    def __init__(self, host: str | None) -> None:
        super().__init__(f"the TLS handshake with {host or 'the server'} failed")
        self.host = host


class EgressRefused(httpcore.ConnectError):
    """No address of ``host`` is allowed; ``address`` is the first one it resolved to and
    ``reason`` what kind of address that is (loopback, private, ...)."""

    def __init__(self, host: str, address: str | None, reason: str) -> None:
        super().__init__(self.sentence_for(host, reason, _allowlistable(address)))
        self.host, self.address, self.reason = host, address, reason

    @staticmethod
    def sentence_for(host: str, reason: str, allowlistable: bool = True) -> str:
        if not allowlistable:  # the allowlist refuses it: advising to add it would mislead
            return (
                f"{host} resolves to a {reason} address, which Tokendesk never calls and the "
                "egress allowlist cannot allow (on a cloud server it answers with the "
                "server's own credentials); use the provider's public address"
            )
        return (
            f"{host} resolves to a {reason} address; add it to {ALLOWLIST_WHERE} if "
            "Tokendesk should call it"
        )

    def sentence(self) -> str:
        """The refusal in words for an administrator, ending with a full stop."""
        text = self.sentence_for(self.host, self.reason, _allowlistable(self.address))
        return text[:1].upper() + text[1:] + "."


def _allowlistable(address: str | None) -> bool:
    try:
        return address is None or allowlistable(ipaddress.ip_address(address))
    except ValueError:
        return True


def resolve(host: str, port: int, lookup: Lookup = getaddrinfo) -> list[str]:
    """The addresses ``host`` resolves to, in the resolver's order; raises NameNotResolved."""
    try:
        infos = lookup(host, port)
    except socket.gaierror as exc:
        raise NameNotResolved(host) from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def allowed_addresses(
    policy: EgressPolicy | None, host: str, port: int, lookup: Lookup = getaddrinfo
) -> list[str]:
    """The resolved addresses of ``host`` the policy allows (all of them without a policy).

    Raises NameNotResolved when it does not resolve, EgressRefused when none is allowed.
    """
    addresses = resolve(host, port, lookup)
    if policy is None or policy.host_allowed(host):
        return addresses
    allowed = [a for a in addresses if policy.address_allowed(ipaddress.ip_address(a))]
    if not allowed:
        first = addresses[0] if addresses else None
        reason = blocked_reason(ipaddress.ip_address(first)) if first else "no"
        raise EgressRefused(host, first, reason or "refused")
    return allowed


class GuardedBackend(httpcore.NetworkBackend):
    """httpcore's socket backend, connecting only to addresses the policy allows (any address
    without a policy: the connection to a forward proxy an administrator configured)."""

    def __init__(self, policy: EgressPolicy | None, lookup: Lookup = getaddrinfo) -> None:
        self.policy = policy
        self.lookup = lookup
        self._sockets = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        """A stream to the first allowed address of ``host`` that accepts the connection."""
        last: httpcore.ConnectError | None = None
        for address in allowed_addresses(self.policy, host, port, self.lookup):
            try:
                stream = self._sockets.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except httpcore.ConnectError as exc:
                last = exc
                continue
            return TypedStream(stream)
        raise last or httpcore.ConnectError(f"could not connect to {host}")

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        # Fail closed: providers are reached over TCP only, never a local socket.
        raise httpcore.ConnectError("unix sockets are not used for providers")

    def sleep(self, seconds: float) -> None:
        self._sockets.sleep(seconds)


class TypedStream(httpcore.NetworkStream):
    """A network stream whose TLS handshake failures raise :class:`TlsFailed`."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, timeout)

    def close(self) -> None:
        self._inner.close()

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        """The TLS stream; raises TlsFailed when the handshake itself fails (timeouts and
        broken connections stay what they are)."""
        try:
            return TypedStream(self._inner.start_tls(ssl_context, server_hostname, timeout))
        except ssl.SSLError as exc:
            raise TlsFailed(server_hostname) from exc
        except httpcore.ConnectError as exc:
            if any(isinstance(cause, ssl.SSLError) for cause in causes(exc)):
                raise TlsFailed(server_hostname) from exc
            raise


def causes(exc: BaseException) -> Iterable[BaseException]:
    """``exc`` and the exceptions it was raised from (``__cause__``, else ``__context__``)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__
