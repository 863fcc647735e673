"""Egress policy: which addresses Tokendesk may call (server-side request forgery defence).

By default only public unicast addresses are allowed: loopback, private, link-local, cloud
metadata (169.254.169.254, fd00:ec2::254), carrier-grade NAT, multicast and reserved ranges
are refused, in whatever encoding (IPv4-mapped IPv6 included), unless an administrator
allowlists them with ``TOKENDESK_EGRESS_ALLOWLIST`` (host names and CIDR ranges).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from tokendesk.errors import ValidationError

ALLOWLIST_SETTING = "TOKENDESK_EGRESS_ALLOWLIST"
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_METADATA = (ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fd00:ec2::254/128"))
_CGNAT = ipaddress.ip_network("100.64.0.0/10")


@dataclass(frozen=True, slots=True)
class EgressPolicy:
    """Allowlisted host names and networks on top of "public addresses only"."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    @classmethod
    def parse(cls, allowlist: str | Iterable[str]) -> EgressPolicy:
        """From ``"idp.corp.example, 10.0.0.0/8, 127.0.0.1"``; raises ValidationError."""
        items = allowlist.split(",") if isinstance(allowlist, str) else list(allowlist)
        hosts: set[str] = set()
        networks = []
        for item in (i.strip().lower() for i in items):
            if not item:
                continue
            try:
                networks.append(ipaddress.ip_network(item.strip("[]"), strict=False))
            except ValueError:
                if not item.replace(".", "").replace("-", "").isalnum():
                    raise ValidationError(
                        f"'{item[:80]}' in {ALLOWLIST_SETTING} is neither a "
                        "host name nor a CIDR range.",
                        field="egress_allowlist",
                    ) from None
                hosts.add(item.rstrip("."))
        return cls(frozenset(hosts), tuple(networks))

    def host_allowed(self, host: str) -> bool:
        return host.lower().rstrip(".") in self.hosts

    def address_allowed(self, address: IPAddress) -> bool:
        """True for public unicast addresses and allowlisted ones."""
        address = _unmapped(address)
        if any(address in net for net in self.networks if net.version == address.version):
            return True
        return not blocked_reason(address)

    def check_literal(self, host: str, *, field: str) -> None:
        """Refuse, at save time, a URL whose host is an IP literal the policy blocks."""
        try:
            address = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            return  # a name: checked when it is resolved and connected to
        if not self.address_allowed(address):
            raise ValidationError(
                f"{host} is a {blocked_reason(_unmapped(address))} address; Tokendesk does not "
                f"call such addresses unless an administrator adds it to {ALLOWLIST_SETTING}.",
                field=field,
            )


def blocked_reason(address: IPAddress) -> str:
    """Why ``address`` is refused by default ('' for a public unicast address)."""
    address = _unmapped(address)
    checks = (
        (
            any(address in n for n in _METADATA if n.version == address.version),
            "link-local or cloud metadata",
        ),
        (address.is_loopback, "loopback"),
        (address.is_unspecified, "unspecified"),
        (address.is_multicast, "multicast"),
        (address.version == 4 and address in _CGNAT, "shared (carrier-grade NAT)"),
        (address.is_private, "private"),
        (address.is_reserved, "reserved"),
        (not address.is_global, "non-public"),
    )
    return next((reason for hit, reason in checks if hit), "")


def _unmapped(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address
