"""Egress policy: which addresses Tokendesk may call (server-side request forgery defence).

By default only public unicast addresses are allowed: loopback, private, link-local, cloud
metadata (169.254.169.254, fd00:ec2::254), carrier-grade NAT, multicast and reserved ranges
are refused, in whatever encoding (IPv4-mapped IPv6, 6to4 and NAT64 with an embedded IPv4
address judged as that address; the local-use NAT64 prefix and deprecated site-local
fec0::/10 refused outright), unless an administrator
allowlists them: in ``TOKENDESK_EGRESS_ALLOWLIST`` (host names and CIDR ranges, read at
startup) and in the console's network settings (stored, read on every call); the allowlist in
force is the union of both.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from tokendesk.domain.proxy import validate_host
from tokendesk.errors import ValidationError

ALLOWLIST_SETTING = "TOKENDESK_EGRESS_ALLOWLIST"
# Where an administrator changes the allowlist, for messages that tell them to.
ALLOWLIST_WHERE = (
    f"the egress allowlist (Administration > Network settings, or {ALLOWLIST_SETTING})"
)
ALLOWLIST_MAX = 200
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_METADATA = (ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fd00:ec2::254/128"))
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
# IPv6 prefixes that carry an IPv4 address: 6to4 (RFC 3056, bits 16-47) and the well-known
# NAT64 prefix (RFC 6052, the last 32 bits). Judged by the address they carry, whatever the
# Python version's own classification says.
_SIX_TO_FOUR = ipaddress.ip_network("2002::/16")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# Refused outright: local-use NAT64 (RFC 8215; the IPv4 part may sit at several offsets) and
# site-local (RFC 3879, deprecated but still routed inside some networks).
_LOCAL_NAT64 = ipaddress.ip_network("64:ff9b:1::/48")
_SITE_LOCAL = ipaddress.ip_network("fec0::/10")
# 169.254.0.0/16 as 6to4 and NAT64 carry it: never allowlistable either.
_METADATA_EMBEDDED = (ipaddress.ip_network("2002:a9fe::/32"),
                      ipaddress.ip_network("64:ff9b::a9fe:0/112"), _LOCAL_NAT64)


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

    def union(self, other: EgressPolicy) -> EgressPolicy:
        """The policy allowing what either allows (environment and stored allowlists)."""
        return EgressPolicy(
            self.hosts | other.hosts, tuple(dict.fromkeys(self.networks + other.networks))
        )

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
            raise ValidationError(refusal_sentence(host, address), field=field)


@dataclass(frozen=True, slots=True)
class EgressAllowlist:
    """The allowlist as administrators see it: the environment's part (read-only) and the
    part stored through the console, API or CLI."""

    environment: tuple[str, ...]
    stored: tuple[str, ...]
    updated_at: datetime | None
    updated_by: str


def environment_entries(allowlist: str) -> tuple[str, ...]:
    """The entries of ``TOKENDESK_EGRESS_ALLOWLIST`` as :meth:`EgressPolicy.parse` reads them."""
    return tuple(dict.fromkeys(i.strip().lower() for i in allowlist.split(",") if i.strip()))


def allowlist_entries(value: str | Sequence[str], *, field: str) -> tuple[str, ...]:
    """Strictly check an allowlist typed by an administrator: host names, IP addresses and
    CIDR ranges, separated by commas (in one string or in list items).

    Returns the entries normalised, without duplicates. Raises ValidationError naming the
    first bad value; an address or range covering cloud metadata is refused.
    """
    pieces = [value] if isinstance(value, str) else list(value)
    items = [item.strip() for piece in pieces for item in piece.split(",") if item.strip()]
    # Counted before validating, so a huge list is refused without working through it.
    if len(items) > ALLOWLIST_MAX:
        raise ValidationError(
            f"The egress allowlist is limited to {ALLOWLIST_MAX} entries.", field=field
        )
    return tuple(dict.fromkeys(_allowlist_entry(item, field) for item in items))


def _allowlist_entry(raw: str, field: str) -> str:
    shown = raw[:100]
    if "://" in raw:
        raise ValidationError(
            f"'{shown}' is a URL; enter only its host name (or IP address).", field=field)
    if "/" in raw:
        network = _network(raw, field)
    elif raw.startswith(("*", ".")):
        raise ValidationError(
            f"'{shown}': the egress allowlist takes exact host names, not wildcards; list each "
            "host, or the CIDR range of its addresses.", field=field)
    else:
        try:
            address = ipaddress.ip_address(raw.strip("[]"))
        except ValueError:
            try:
                return validate_host(raw.rstrip("."), field=field)
            except ValidationError:
                raise ValidationError(
                    f"'{shown}' is neither a host name, an IP address nor a CIDR range.",
                    field=field) from None
        network = ipaddress.ip_network(address)
    if isinstance(network, ipaddress.IPv6Network) and network.network_address.ipv4_mapped:
        raise ValidationError(
            f"'{shown}' is an IPv4-mapped IPv6 address; allowlist the IPv4 address "
            f"{network.network_address.ipv4_mapped} instead.", field=field)
    if any(m.version == network.version and network.overlaps(m)
           for m in _METADATA + _METADATA_EMBEDDED):
        # Fail closed: no console or API session may open the cloud metadata endpoint.
        raise ValidationError(
            f"'{shown}' includes link-local or cloud metadata addresses "
            "(169.254.0.0/16, fd00:ec2::254, or 169.254.0.0/16 inside 6to4 or NAT64), which "
            "cannot be allowlisted here.", field=field)
    return str(network.network_address) if network.num_addresses == 1 else str(network)


def _network(raw: str, field: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(raw, strict=True)
    except ValueError:
        pass
    try:
        loose = ipaddress.ip_network(raw, strict=False)
    except ValueError:
        raise ValidationError(f"'{raw[:100]}' is not a valid CIDR range.", field=field) from None
    raise ValidationError(
        f"'{raw[:100]}' has bits set after the prefix; did you mean {loose}?", field=field)


def allowlistable(address: IPAddress) -> bool:
    """False for the addresses no allowlist can open: link-local and cloud metadata, in any
    encoding (see :func:`allowlist_entries`)."""
    address = _unmapped(address)
    return not any(address in net for net in _METADATA + _METADATA_EMBEDDED
                   if net.version == address.version)


def refusal_sentence(host: str, address: IPAddress) -> str:
    """Why ``host`` (at ``address``) is not called, and what an administrator can do.

    An address the allowlist may hold gets the advice to add it there; a cloud metadata
    address gets none, since the allowlist refuses it: it says why instead.
    """
    reason = blocked_reason(_unmapped(address)) or "refused"
    if allowlistable(address):
        return (f"{host} is a {reason} address; Tokendesk does not call such addresses unless "
                f"an administrator adds it to {ALLOWLIST_WHERE}.")
    return (f"{host} is a {reason} address; Tokendesk never calls such addresses and the "
            "egress allowlist cannot allow them: on a cloud server they answer with the "
            "server's own credentials. Use the provider's public address.")


def blocked_reason(address: IPAddress) -> str:
    """Why ``address`` is refused by default ('' for a public unicast address)."""
    address = _unmapped(address)
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        reason = blocked_reason(embedded)
        return f"{reason} (embedded IPv4 {embedded})" if reason else ""
    checks = (
        (
            any(address in n for n in _METADATA if n.version == address.version),
            "link-local or cloud metadata",
        ),
        (address.is_loopback, "loopback"),
        (address.is_unspecified, "unspecified"),
        (address.is_multicast, "multicast"),
        (address.version == 4 and address in _CGNAT, "shared (carrier-grade NAT)"),
        (address.version == 6 and address in _LOCAL_NAT64, "local-use NAT64"),
        (address.version == 6 and address in _SITE_LOCAL, "site-local"),
        (address.is_private, "private"),
        (address.is_reserved, "reserved"),
        (not address.is_global, "non-public"),
    )
    return next((reason for hit, reason in checks if hit), "")


def _unmapped(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address a 6to4 or well-known NAT64 address carries, else None."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address in _SIX_TO_FOUR:
        return ipaddress.IPv4Address((int(address) >> 80) & 0xFFFFFFFF)
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None
