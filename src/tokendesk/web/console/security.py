"""The console's defences: security headers, CSRF for forms and safe redirects after
sign-in (the sign-in limiter is tokendesk.services.sign_in).

CSRF: sign-in gives the browser two HttpOnly cookies, the session id and the session's CSRF
token (stored server-side only as a hash). Pages copy the token into a hidden field of every
form; a posted form is accepted only when its field matches the session's hash. Another site
can make the browser send the cookies but can neither read the token nor guess it. The sign-in
form itself, before any session exists, uses a double-submit cookie against login CSRF.
"""

from __future__ import annotations

import hmac
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# No inline script or style anywhere: scripts and styles come from /static only. form-action
# is left out on purpose: "Save changes and test connection" posts to Tokendesk, which
# answers with a redirect to the provider's consent page, and Chromium applies form-action
# to that redirect too.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'"
)
# The API's interactive documentation loads its own inline script; it is not a console page.
CSP_EXEMPT_PREFIXES = ("/api/v1/docs",)
CACHEABLE_PREFIXES = ("/static/",)



class SecurityHeaders:
    """ASGI middleware adding the security headers to every answer (never overriding one a
    route set itself): CSP without inline script and with frame-ancestors 'none' on HTML,
    no-referrer, nosniff, and Cache-Control no-store on everything but static files."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                _add_headers(MutableHeaders(scope=message), path)
            await send(message)

        await self.app(scope, receive, send_with_headers)


# RFC 6797: browsers that saw Tokendesk over https never try it over http for a year.
HSTS = "max-age=31536000"


class StrictTransport:
    """ASGI middleware adding ``Strict-Transport-Security`` to every answer; installed only
    when the public URL is https (on plain-http loopback it would mean nothing)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_hsts(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).setdefault("Strict-Transport-Security", HSTS)
            await send(message)

        await self.app(scope, receive, send_with_hsts)


def add_security_headers(
    headers: list[tuple[bytes, bytes]], path: str
) -> list[tuple[bytes, bytes]]:
    """``headers`` (raw ASGI pairs) with the security headers of ``path`` added."""
    _add_headers(MutableHeaders(raw=headers), path)
    return headers


def _add_headers(headers: MutableHeaders, path: str) -> None:
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if not path.startswith(CACHEABLE_PREFIXES):
        headers.setdefault("Cache-Control", "no-store")
    is_html = headers.get("content-type", "").startswith("text/html")
    if is_html and not path.startswith(CSP_EXEMPT_PREFIXES):
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)


def same_token(given: str, expected: str) -> bool:
    """Constant-time comparison of two tokens; an empty token never matches."""
    return bool(given) and bool(expected) and hmac.compare_digest(given, expected)


def safe_next(target: str | None, default: str = "/") -> str:
    """Where to go after sign-in: ``target`` only when it is a path of this site.

    Anything with a scheme or host, ``//host`` and ``/\\host`` (which browsers read as
    another host), control characters or a backslash falls back to ``default``: there is
    no open redirect.
    """
    if not target or len(target) > 2000 or not target.startswith("/"):
        return default
    if target.startswith(("//", "/\\")) or "\\" in target:
        return default
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target
