"""The rules of the API proxy's forwarding, as pure functions: which headers cross in each
direction, which paths are acceptable, what the audit log may show of a call, and the
per-connection rate limit. No I/O.

Hop-by-hop headers (RFC 9110 §7.6.1) belong to one connection and never cross a proxy;
beyond that only the headers listed here cross, so a caller's credentials (Authorization,
Cookie, Proxy-Authorization, its own API key) and an API's cookies never do.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote

from tokendesk.errors import ValidationError

# RFC 9110 §7.6.1, plus the obsolete Proxy-Connection and Keep-Alive still sent by clients.
HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
    "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
})
# What a caller may tell the API: content negotiation, conditions, ranges, idempotency.
REQUEST_HEADERS = frozenset({
    "accept", "accept-encoding", "accept-language", "cache-control", "content-encoding",
    "content-language", "content-type", "idempotency-key", "if-match", "if-modified-since",
    "if-none-match", "if-range", "if-unmodified-since", "prefer", "range", "user-agent",
    "x-request-id", "x-correlation-id",
})
# What the API may tell the caller: the body's description, caching, paging, redirects,
# its own authentication challenge and rate limits. Never Set-Cookie: no cookies are kept.
RESPONSE_HEADERS = frozenset({
    "accept-ranges", "age", "cache-control", "content-disposition", "content-encoding",
    "content-language", "content-length", "content-range", "content-type", "date", "etag",
    "expires", "last-modified", "link", "location", "retry-after", "vary",
    "www-authenticate", "x-request-id", "x-correlation-id",
})
RESPONSE_HEADER_PREFIXES = ("x-ratelimit-", "ratelimit")
# RFC 9110 §9.2.2: a request repeated with the same effect; safe to send again after a 401.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
METHODS = ("GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE")

Header = tuple[bytes, bytes]


def _named_by_connection(headers: Iterable[Header]) -> frozenset[str]:
    """The headers a Connection header declares hop-by-hop (RFC 9110 §7.6.1)."""
    names: set[str] = set()
    for name, value in headers:
        if name.lower() == b"connection":
            names.update(p.strip().lower() for p in value.decode("latin-1").split(","))
    return frozenset(names)


def request_headers(headers: Iterable[Header]) -> list[Header]:
    """The caller's headers that go on to the API: the allowlist, minus hop-by-hop ones."""
    given = list(headers)
    hop = HOP_BY_HOP | _named_by_connection(given)
    return [
        (name, value)
        for name, value in given
        if (key := name.decode("latin-1").lower()) in REQUEST_HEADERS and key not in hop
    ]


def response_headers(headers: Iterable[Header]) -> list[Header]:
    """The API's headers that go back to the caller: the allowlist, minus hop-by-hop ones."""
    given = list(headers)
    hop = HOP_BY_HOP | _named_by_connection(given)
    kept = []
    for name, value in given:
        key = name.decode("latin-1").lower()
        if key in hop:
            continue
        if key in RESPONSE_HEADERS or key.startswith(RESPONSE_HEADER_PREFIXES):
            kept.append((name, value))
    return kept


def checked_path(path: str) -> str:
    """The path below the API base URL, as given (still percent-encoded).

    Raises ValidationError for a '.' or '..' segment (encoded or not), which would climb
    out of the API base URL (another Atlassian site, another API), and for a backslash.
    """
    for segment in path.split("/"):
        if unquote(segment) in (".", "..") or "\\" in unquote(segment):
            raise ValidationError(
                "The path may not hold '.' or '..' segments or backslashes: it must stay "
                "below the connection's API base URL.",
                field="path",
            )
    return path


def audited_path(path: str, query: str) -> str:
    """The path with the query's names but not its values (``/items?limit=&page=``): values
    may carry personal data or secrets, and the audit log keeps neither."""
    shown = "/" + path.lstrip("/")
    if not query:
        return shown[:500]
    names = dict.fromkeys(name for name, _ in parse_qsl(query, keep_blank_values=True))
    return (shown + "?" + "&".join(f"{name}=" for name in names))[:500]


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """A token bucket per key: ``per_minute`` calls a minute, up to ``per_minute`` at once
    (a burst of a minute's calls), refilled continuously. Times are seconds on any clock."""

    def __init__(self, per_minute: int) -> None:
        self.capacity = float(per_minute)
        self.rate_per_s = per_minute / 60.0
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, key: str, now_s: float) -> float:
        """Take one call for ``key`` at ``now_s``. Returns 0 when it may go, else the seconds
        until one may (a whole number, at least 1, as Retry-After says it)."""
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(self.capacity, now_s)
            elapsed = max(0.0, now_s - bucket.at)
            bucket.tokens = min(self.capacity, bucket.tokens + elapsed * self.rate_per_s)
            bucket.at = now_s
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return float(max(1, math.ceil((1.0 - bucket.tokens) / self.rate_per_s)))
