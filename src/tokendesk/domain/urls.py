"""Rules for the provider URLs an administrator types: absolute, https, nothing hidden in them.

Pure functions, standard library only. Every refusal is a ``ValidationError`` whose ``field``
names the form field and whose message tells a person what to change.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from urllib.parse import SplitResult, parse_qsl, urlsplit

from tokendesk.errors import ValidationError

MAX_URL_LENGTH = 2048
MAX_HOST_LENGTH = 253
ALLOW_HTTP_LOOPBACK_SETTING = "TOKENDESK_ALLOW_HTTP_LOOPBACK"

# Tokendesk builds these parameters of the authorization request itself (RFC 6749 §4.1.1,
# RFC 7636 §4.3); a copy typed into the URL would be sent twice or silently win.
RESERVED_AUTHORIZATION_PARAMS = frozenset(
    {
        "client_id",
        "redirect_uri",
        "state",
        "code_challenge",
        "code_challenge_method",
        "response_type",
        "scope",
    }
)

# `<yourinstance>`, `<tenant-id>`: a template value nobody filled in.
PLACEHOLDER_RE = re.compile(r"<([^<>\s]{1,100})>")

# Characters RFC 3986 never allows unencoded. Backslash matters most: parsers disagree on it
# (`https://evil.example\@good.example`), so a URL carrying one means different hosts to
# different readers.
_UNSAFE_CHARS = '"<>\\^`{|}[]'
_BAD_PERCENT_RE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_DNS_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_HOST_NAME_RE = re.compile(rf"{_DNS_LABEL}(?:\.{_DNS_LABEL})*\.?")
_NUMERIC_LABEL_RE = re.compile(r"[0-9]+|0[xX][0-9A-Fa-f]*")
# host (a name, an IPv4 address or a bracketed IPv6 address), then an optional port.
_AUTHORITY_RE = re.compile(r"(?P<host>\[[^\[\]]*\]|[^\[\]:]*)(?::(?P<port>[^:]*))?")
_LOOPBACK_NAMES = frozenset({"localhost", "localhost."})
_EXAMPLE_URL = "https://login.example.com/oauth2/token"


def field_label(field: str) -> str:
    """Return a form field's name as a person reads it: ``token_url`` → ``token URL``."""
    words = field.replace("_", " ").replace("-", " ").replace(".", " ").split()
    spelled = {"url": "URL", "id": "ID", "uri": "URI"}
    return " ".join(spelled.get(word.lower(), word) for word in words) or "value"


def find_placeholders(text: str) -> tuple[str, ...]:
    """Return the names of the ``<placeholder>`` marks left in ``text``, first seen first."""
    return tuple(dict.fromkeys(PLACEHOLDER_RE.findall(text)))


def format_placeholders(names: tuple[str, ...]) -> str:
    """Return ``<a>``, ``<a> and <b>``, ``<a>, <b> and <c>`` for use in a message."""
    marks = [f"<{name}>" for name in names]
    if len(marks) < 2:
        return "".join(marks)
    return ", ".join(marks[:-1]) + " and " + marks[-1]


def validate_endpoint_url(
    url: str,
    *,
    field: str,
    allow_http_loopback: bool = False,
    max_length: int = MAX_URL_LENGTH,
) -> str:
    """Check a provider endpoint URL (authorization, token, revocation) typed by a person.

    Returns the URL with surrounding whitespace removed, otherwise unchanged.
    Raises ValidationError (``field`` set) when it is empty, too long, not an absolute https
    URL (plain http only on a loopback host and only with ``allow_http_loopback``), carries
    whitespace, control characters, a fragment, a user name or password, or an unfilled
    ``<placeholder>``, or has no valid host or port.
    """
    label = field_label(field)
    text = _checked_text(url, label=label, field=field, max_length=max_length)
    parts = _split(text, label=label, field=field)
    host = _checked_host(parts, label=label, field=field)
    _check_scheme(parts.scheme, host, label=label, field=field, allow=allow_http_loopback)
    return text


def validate_authorization_url(
    url: str, *, field: str = "authorization_url", allow_http_loopback: bool = False
) -> str:
    """Check an authorization endpoint URL (RFC 6749 §3.1) typed by a person.

    Its query must not set a parameter that Tokendesk sends itself. Returns the URL with
    surrounding whitespace removed; other query parameters (``prompt``, ``access_type``) are
    kept as typed.
    Raises ValidationError as :func:`validate_endpoint_url` does, and when the query sets
    ``client_id``, ``redirect_uri``, ``state``, ``scope``, ``response_type``,
    ``code_challenge`` or ``code_challenge_method``.
    """
    text = validate_endpoint_url(url, field=field, allow_http_loopback=allow_http_loopback)
    query = urlsplit(text).query
    names = {name.lower() for name, _ in parse_qsl(query, keep_blank_values=True)}
    reserved = sorted(names & RESERVED_AUTHORIZATION_PARAMS)
    if reserved:
        hint = " Enter scopes in the Scopes field." if "scope" in reserved else ""
        raise ValidationError(
            f"Remove {', '.join(reserved)} from the {field_label(field)}: Tokendesk sets "
            f"these itself.{hint}",
            field=field,
        )
    return text


def is_loopback_host(host: str) -> bool:
    """Return True for ``localhost`` and loopback IP addresses (127.0.0.0/8, ::1)."""
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _checked_text(url: object, *, label: str, field: str, max_length: int) -> str:
    """Return the stripped URL text; raise ValidationError for what no URL may contain."""
    text = url.strip() if isinstance(url, str) else ""
    if not text:
        raise ValidationError(f"Enter the {label}, for example {_EXAMPLE_URL}.", field=field)
    if len(text) > max_length:
        raise ValidationError(
            f"The {label} is {len(text)} characters long; the limit is {max_length}.",
            field=field,
        )
    if any(char.isspace() or unicodedata.category(char)[0] == "C" for char in text):
        raise ValidationError(
            f"The {label} contains a space, line break or control character; "
            "paste the URL again without them.",
            field=field,
        )
    placeholders = find_placeholders(text)
    if placeholders:
        raise ValidationError(
            f"Replace {format_placeholders(placeholders)} in the {label} with your own value.",
            field=field,
        )
    _check_characters(text, label=label, field=field)
    return text


def _check_characters(text: str, *, label: str, field: str) -> None:
    """Raise ValidationError for non-ASCII, unencoded unsafe characters, bad escapes, ``#``."""
    if not text.isascii():
        raise ValidationError(
            f"The {label} contains a non-ASCII character; write the host in its xn-- form "
            "and percent-encode the rest.",
            field=field,
        )
    allowed = "[]" if _brackets_only_in_host(text) else ""
    unsafe = next((c for c in text if c in _UNSAFE_CHARS and c not in allowed), None)
    if unsafe is not None:
        hint = " (replace any <placeholder> with your value)" if unsafe in "<>" else ""
        raise ValidationError(
            f"The {label} contains {unsafe!r}, which a URL cannot carry unencoded{hint}.",
            field=field,
        )
    if _BAD_PERCENT_RE.search(text):
        raise ValidationError(
            f"The {label} has a '%' that is not followed by two hex digits.", field=field
        )
    if "#" in text:
        raise ValidationError(
            f"The {label} must not contain a fragment ('#...'); remove it.", field=field
        )


def _brackets_only_in_host(text: str) -> bool:
    """Return True when ``[`` and ``]`` appear only around an IPv6 host."""
    _, sep, rest = text.partition("://")
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    return bool(sep) and "[" not in rest[len(authority) :] and "]" not in rest[len(authority) :]


def _split(text: str, *, label: str, field: str) -> SplitResult:
    """Return the URL's parts; raise ValidationError unless it is absolute with a host."""
    try:
        parts = urlsplit(text)
    except ValueError:
        raise ValidationError(
            f"The {label} is not a valid URL; check the brackets around an IPv6 address.",
            field=field,
        ) from None
    if not parts.scheme or not text[len(parts.scheme) + 1 :].startswith("//"):
        raise ValidationError(
            f"Enter the full {label}, starting with https://, for example {_EXAMPLE_URL}.",
            field=field,
        )
    if "@" in parts.netloc:
        raise ValidationError(
            f"The {label} must not contain a user name or password ('user:password@'); "
            "enter the client ID and client secret in their own fields.",
            field=field,
        )
    return parts


def _checked_host(parts: SplitResult, *, label: str, field: str) -> str:
    """Return the URL's host; raise ValidationError for a missing or malformed host or port."""
    authority = _AUTHORITY_RE.fullmatch(parts.netloc)
    if authority is None:
        raise ValidationError(
            f"The {label} has an invalid host or port {parts.netloc!r}.", field=field
        )
    host = authority.group("host")
    if not host or host == "[]":
        raise ValidationError(f"The {label} has no host name after '//'.", field=field)
    if host.startswith("["):
        host = host[1:-1].lower()
        _check_ipv6_host(host, label=label, field=field)
    elif _NUMERIC_LABEL_RE.fullmatch(host.rstrip(".").rsplit(".", 1)[-1]):
        _check_ipv4_host(host, label=label, field=field)
    elif len(host) > MAX_HOST_LENGTH or not _HOST_NAME_RE.fullmatch(host):
        raise ValidationError(f"The {label} has an invalid host name {host!r}.", field=field)
    port = authority.group("port")
    if port is not None and not (port.isdigit() and 0 < int(port) <= 65535):
        raise ValidationError(
            f"The port in the {label} must be a number from 1 to 65535.", field=field
        )
    return host.lower()


def _check_ipv4_host(host: str, *, label: str, field: str) -> None:
    """Raise ValidationError unless ``host`` is a plain dotted-quad IPv4 address.

    Fail closed: forms like ``127.1`` or ``0x7f.0.0.1`` mean different hosts to different
    resolvers, so only the canonical form is accepted.
    """
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        raise ValidationError(
            f"The {label} has {host!r} as host, which is not a valid IPv4 address "
            "such as 192.0.2.10.",
            field=field,
        ) from None


def _check_ipv6_host(host: str, *, label: str, field: str) -> None:
    """Raise ValidationError unless ``host`` is an IPv6 address without a zone."""
    try:
        valid = ipaddress.IPv6Address(host).scope_id is None
    except ValueError:
        valid = False
    if not valid:
        raise ValidationError(
            f"The {label} has [{host}] as host, which is not a valid IPv6 address.",
            field=field,
        )


def _check_scheme(scheme: str, host: str, *, label: str, field: str, allow: bool) -> None:
    """Raise ValidationError unless the scheme is https, or http on loopback when allowed."""
    if scheme == "https":
        return
    if scheme != "http":
        raise ValidationError(f"The {label} must start with https://.", field=field)
    if not allow:
        raise ValidationError(
            f"The {label} must use https. Plain http is refused; for local development "
            f"against a loopback address, set {ALLOW_HTTP_LOOPBACK_SETTING}=true.",
            field=field,
        )
    if not is_loopback_host(host):
        raise ValidationError(
            f"The {label} must use https. {ALLOW_HTTP_LOOPBACK_SETTING} allows plain http "
            "only for loopback addresses (localhost, 127.0.0.0/8, ::1).",
            field=field,
        )
