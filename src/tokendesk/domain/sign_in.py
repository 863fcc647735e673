"""When a console sign-in may be tried, and from which client address it comes. No I/O.

Failed sign-ins are counted under three keys, each in a window of ``LOGIN_WINDOW_S`` that
starts at its first failure:

* the user *from one address*: ``FAILURES_PER_USER_AND_ADDRESS`` lock that pair for the rest
  of the window -- a guesser is stopped, the real user at his own address is not;
* the address, whatever the user: ``FAILURES_PER_ADDRESS`` lock the address;
* the user from *every* address: past ``FAILURES_PER_USER``, a back-off that doubles with each
  further failure, from one second up to ``USER_BACKOFF_MAX_S`` -- slow enough that guessing
  spread over many addresses gets nowhere, short enough that nobody can lock an administrator
  out for long by failing on purpose.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from tokendesk.errors import ValidationError

LOGIN_WINDOW_S = 15 * 60
FAILURES_PER_USER_AND_ADDRESS = 5
FAILURES_PER_ADDRESS = 20
FAILURES_PER_USER = 50
USER_BACKOFF_MAX_S = 5 * 60
_NAME_MAX = 200
_ADDRESS_MAX = 64  # an IPv6 address with a zone fits; the key column holds 300
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class Scope(StrEnum):
    PAIR = "pair"
    ADDRESS = "address"
    USER = "user"


@dataclass(frozen=True, slots=True)
class Failures:
    """What is stored under one key: how many failures since ``first_at``, the last at."""

    count: int
    first_at: datetime
    last_at: datetime


def keys(username: str, address: str) -> dict[Scope, str]:
    """The keys one attempt is counted under."""
    user = username.strip().casefold()[:_NAME_MAX]
    address = address[:_ADDRESS_MAX]
    return {Scope.PAIR: f"pair:{user}\n{address}", Scope.ADDRESS: f"address:{address}",
            Scope.USER: f"user:{user}"}


def window_open(failures: Failures, now: datetime) -> bool:
    """True while the failures still count (their window has not run out)."""
    return now < failures.first_at + timedelta(seconds=LOGIN_WINDOW_S)


def wait_s(scope: Scope, failures: Failures | None, now: datetime) -> int:
    """Seconds to wait before the next attempt under one key (0: may try now)."""
    if failures is None or not window_open(failures, now):
        return 0
    if scope is Scope.USER:
        if failures.count < FAILURES_PER_USER:
            return 0
        backoff = min(2 ** min(failures.count - FAILURES_PER_USER, 20), USER_BACKOFF_MAX_S)
        until = failures.last_at + timedelta(seconds=backoff)
    else:
        limit = FAILURES_PER_USER_AND_ADDRESS if scope is Scope.PAIR else FAILURES_PER_ADDRESS
        if failures.count < limit:
            return 0
        until = failures.first_at + timedelta(seconds=LOGIN_WINDOW_S)
    left = (until - now).total_seconds()
    return max(1, int(left) + 1) if left > 0 else 0


def parse_trusted_proxies(value: str) -> tuple[Network, ...]:
    """The addresses and CIDR ranges of ``TOKENDESK_TRUSTED_PROXIES`` (comma-separated).

    Raises ValidationError naming the first value that is neither.
    """
    networks = []
    for item in (i.strip() for i in value.split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item.strip("[]"), strict=False))
        except ValueError:
            raise ValidationError(
                f"'{item[:80]}' is neither an IP address nor a CIDR range.",
                field="trusted_proxies") from None
    return tuple(networks)


def client_address(peer: str, forwarded_for: Sequence[str],
                   trusted: Sequence[Network]) -> str:
    """The address a request comes from: the peer, unless the peer is a trusted proxy, in
    which case the right-most ``X-Forwarded-For`` entry that is not itself a trusted proxy
    (entries further left are whatever the client claimed, and are never believed)."""
    if not _trusted(peer, trusted):
        return peer
    hops = [hop.strip() for header in forwarded_for for hop in header.split(",")]
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop.strip("[]"))
        except ValueError:
            return peer  # a malformed chain: believe only the proxy we know
        if not _trusted(hop, trusted):
            return hop.strip("[]")
    return hops[0].strip("[]") if hops else peer


def _trusted(address: str, trusted: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return False
    return any(ip in net for net in trusted if net.version == ip.version)
