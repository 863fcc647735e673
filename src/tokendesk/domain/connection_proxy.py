"""How one connection reaches its provider: the global forward proxy, directly, or its own
proxy (on-premises providers are often reached through another proxy than the cloud ones)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

from tokendesk.domain.proxy import PROXY_SCHEMES, ForwardProxy, parse_bypass, validate_host
from tokendesk.errors import ValidationError

PROXY_URL_MAX = 2048


class ProxyMode(StrEnum):
    GLOBAL = "global"  # the forward proxy of the network settings (or none when it is off)
    NONE = "none"  # directly, even when a forward proxy is set
    OWN = "own"  # through the connection's own proxy


@dataclass(frozen=True, slots=True)
class ConnectionProxy:
    """A connection's proxy choice; the password stays encrypted in storage.

    ``url`` is ``scheme://host:port`` with no credentials in it (they would show wherever the
    URL does); ``bypass`` lists the hosts reached directly, as the global no-proxy list does.
    """

    mode: ProxyMode = ProxyMode.GLOBAL
    url: str | None = None
    username: str = ""
    has_password: bool = False
    bypass: tuple[str, ...] = ()

    def forward_proxy(self) -> ForwardProxy:
        """The own proxy as the outbound client takes any proxy (mode ``own`` only)."""
        if self.mode is not ProxyMode.OWN or self.url is None:
            raise ValueError("only a connection's own proxy has settings")
        parts = urlsplit(self.url)
        return ForwardProxy(
            enabled=True, scheme=parts.scheme, host=(parts.hostname or "").strip("[]"),
            port=parts.port, auth="basic" if self.username else "none",
            username=self.username, has_password=self.has_password, bypass=self.bypass,
            updated_at=None, updated_by="",
        )


GLOBAL_PROXY = ConnectionProxy()


def validate_proxy_url(value: str) -> str:
    """``scheme://host:port`` of a proxy, normalised; raises ValidationError naming
    ``proxy_url`` for anything else (credentials, a path, a missing port)."""
    raw = value.strip()
    if not raw or len(raw) > PROXY_URL_MAX:
        raise ValidationError("Enter the proxy URL, e.g. http://proxy.corp.example:3128.",
                              field="proxy_url")
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError:
        raise ValidationError(f"'{raw[:100]}' is not a valid proxy URL; write it as "
                              "http://host:port.", field="proxy_url") from None
    scheme = parts.scheme.lower()
    if scheme not in PROXY_SCHEMES:
        raise ValidationError("The proxy URL starts with http:// or https://.",
                              field="proxy_url")
    if parts.username is not None or parts.password is not None:
        # Fail closed: the URL is shown back; credentials go in their own, write-only fields.
        raise ValidationError("Put no user name or password in the proxy URL: give them as "
                              "proxy_username and proxy_password.", field="proxy_url")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValidationError("The proxy URL is only http://host:port, with no path.",
                              field="proxy_url")
    if port is None:
        raise ValidationError("Give the proxy's port in the URL, e.g. "
                              "http://proxy.corp.example:3128.", field="proxy_url")
    host = validate_host(parts.hostname or "", field="proxy_url")
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}:{port}"


def validate_proxy_username(value: str) -> str:
    """The proxy user name, trimmed; raises ValidationError naming ``proxy_username``."""
    username = value.strip()
    if ":" in username or any(ord(ch) < 32 for ch in username):
        raise ValidationError("The proxy username cannot contain ':' or control characters.",
                              field="proxy_username")
    return username


def proxy_bypass(value: str | Sequence[str] | None) -> tuple[str, ...]:
    """The connection's bypass list, validated as the global one, named ``proxy_bypass``."""
    if value is None:
        return ()
    try:
        return parse_bypass(value)
    except ValidationError as exc:
        raise ValidationError(exc.message, field="proxy_bypass") from None


def proxy_origin(url: str | None) -> str | None:
    """The part of a proxy URL a stored password belongs to (scheme, host and port)."""
    return url.lower() if url else None
