"""The forward proxy every outbound call to a provider goes through, unless bypassed."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from tokendesk.errors import ValidationError

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?"
_HOST = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*$")
PROXY_SCHEMES = ("http", "https")
PROXY_AUTH = ("none", "basic")
BYPASS_MAX = 200


@dataclass(frozen=True, slots=True)
class ForwardProxy:
    """The global forward proxy settings; the password stays encrypted in storage."""

    enabled: bool
    scheme: str
    host: str
    port: int | None
    auth: str
    username: str
    has_password: bool
    bypass: tuple[str, ...]
    updated_at: datetime | None
    updated_by: str


DISABLED = ForwardProxy(False, "http", "", None, "none", "", False, (), None, "")


def validate_host(value: str, *, field: str) -> str:
    """A DNS name or IP address; returns it trimmed and lower-cased."""
    host = value.strip().lower()
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        pass
    # A name whose last label is all digits ("10.0.0.256") is a mistyped address, not a host.
    if not _HOST.match(host) or ("." in host and host.rsplit(".", 1)[-1].isdigit()):
        raise ValidationError(
            f"'{value.strip()[:100]}' is not a host name or IP address.", field=field
        )
    return host


def parse_bypass(value: str | Sequence[str]) -> tuple[str, ...]:
    """The no-proxy list: host names, ``*.domain`` / ``.domain`` suffixes, IPs and CIDR ranges.

    Entries are separated by commas (in one string or in list items). Returns them
    normalised, without duplicates; raises ValidationError naming ``bypass``.
    """
    pieces = [value] if isinstance(value, str) else list(value)
    items = [item.strip() for piece in pieces for item in piece.split(",") if item.strip()]
    # Counted before validating, so a huge list is refused without working through it.
    if len(items) > BYPASS_MAX:
        raise ValidationError(
            f"The bypass list is limited to {BYPASS_MAX} entries.", field="bypass"
        )
    return tuple(dict.fromkeys(_bypass_entry(item) for item in items))


def _bypass_entry(raw: str) -> str:
    if "/" in raw:
        try:
            return str(ipaddress.ip_network(raw, strict=False))
        except ValueError:
            raise ValidationError(
                f"'{raw[:100]}' is not a valid CIDR range.", field="bypass"
            ) from None
    if raw.startswith("*."):
        return "*." + validate_host(raw[2:], field="bypass")
    if raw.startswith("."):
        return "*." + validate_host(raw[1:], field="bypass")
    return validate_host(raw, field="bypass")


def is_bypassed(host: str, bypass: Sequence[str]) -> bool:
    """True when ``host`` matches an entry of the no-proxy list."""
    host = host.lower().strip("[]")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for entry in bypass:
        if "/" in entry:
            if address is not None and address in ipaddress.ip_network(entry):
                return True
        elif entry.startswith("*."):
            if host == entry[2:] or host.endswith(entry[1:]):
                return True
        elif host == entry:
            return True
    return False
