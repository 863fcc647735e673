"""Enforcing the egress policy on the address actually connected to.

The guarded network backend resolves the host itself, keeps only addresses the policy
allows, and connects to one of those exact addresses: there is no window between the check
and the connection in which DNS could answer differently (rebinding). TLS still verifies the
certificate against the host name.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import Any

import httpcore

from tokendesk.domain.egress import ALLOWLIST_WHERE, EgressPolicy, blocked_reason

EGRESS_MARK = "egress policy"


class EgressRefused(httpcore.ConnectError):
    """No address of the host is allowed; httpx reports it as a ConnectError."""


def allowed_addresses(policy: EgressPolicy, host: str, port: int) -> list[str]:
    """The resolved addresses of ``host`` the policy allows; raises EgressRefused if none."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise httpcore.ConnectError(f"name resolution failed: {exc}") from exc
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if policy.host_allowed(host):
        return addresses
    allowed = [a for a in addresses if policy.address_allowed(ipaddress.ip_address(a))]
    if not allowed:
        reason = blocked_reason(ipaddress.ip_address(addresses[0])) if addresses else "no"
        raise EgressRefused(
            f"{EGRESS_MARK}: {host} resolves to a {reason} address; add it to "
            f"{ALLOWLIST_WHERE} if Tokendesk should call it"
        )
    return allowed


class GuardedBackend(httpcore.SyncBackend):
    """httpcore's socket backend, connecting only to addresses the policy allows."""

    def __init__(self, policy: EgressPolicy) -> None:
        self.policy = policy

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        last: Exception | None = None
        for address in allowed_addresses(self.policy, host, port):
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                last = exc
        raise last or httpcore.ConnectError(f"could not connect to {host}")
