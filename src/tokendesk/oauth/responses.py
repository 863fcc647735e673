"""Reading token endpoint answers (RFC 6749 §5.1 success, §5.2 error) strictly.

Nothing a provider sends reaches a person unscrubbed: an ``error_description`` that echoes
a secret we sent is masked before it becomes part of a message.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, NoReturn

from tokendesk.domain.secret import Secret
from tokendesk.domain.tokens import TokenSet, expiry_from
from tokendesk.errors import (
    InvalidClient,
    InvalidGrant,
    InvalidProviderResponse,
    InvalidScope,
    ProviderRejected,
    ProviderUnavailable,
    RedirectUriMismatch,
    UnauthorizedClient,
)
from tokendesk.logs import scrub_text
from tokendesk.oauth.outbound import Reply

KNOWN_TOKEN_TYPES = {"bearer": "Bearer"}
DESCRIPTION_MAX = 200
RETRY_AFTER_MAX_S = 3600.0

_REJECTIONS: dict[str, type[ProviderRejected]] = {
    "invalid_grant": InvalidGrant,
    "invalid_client": InvalidClient,
    "invalid_scope": InvalidScope,
    "unauthorized_client": UnauthorizedClient,
    "redirect_uri_mismatch": RedirectUriMismatch,
}
_PLAIN_WORDS = {
    "invalid_grant": "the grant (code or refresh token) is invalid, expired or revoked",
    "invalid_client": "the client ID or client secret was not accepted",
    "invalid_scope": "a requested scope is not allowed for this client",
    "unauthorized_client": "this client is not allowed to use this grant type",
    "redirect_uri_mismatch": "the callback URL is not registered for this client",
    "unsupported_grant_type": "the provider does not support this grant type for the client",
    "invalid_request": "the provider found the request malformed",
    "access_denied": "access was denied",
}


def parse_token_response(reply: Reply, *, now: datetime, default_lifetime_s: int | None,
                         keep_fields: Sequence[str], secrets: Sequence[str]) -> TokenSet:
    """A validated TokenSet from a 2xx answer; raises InvalidProviderResponse otherwise."""
    doc = _json_object(reply)
    if doc is None:
        raise InvalidProviderResponse("The token endpoint answered with something other than "
                                      "a JSON object.")
    if "error" in doc:
        raise_for_error_response(reply, secrets=secrets)
    access = doc.get("access_token")
    if not isinstance(access, str) or not access:
        raise InvalidProviderResponse("The token endpoint's answer has no access_token.")
    token_type = _token_type(doc.get("token_type"))
    try:
        expires_at = expiry_from(now, doc.get("expires_in"), access_token=access,
                                 default_lifetime_s=default_lifetime_s)
    except (ValueError, OverflowError):
        raise InvalidProviderResponse("The token endpoint's expires_in is not a number.") from None
    refresh = doc.get("refresh_token")
    scope = doc.get("scope")
    return TokenSet(
        access_token=Secret(access),
        token_type=token_type,
        expires_at=expires_at,
        refresh_token=Secret(refresh) if isinstance(refresh, str) and refresh else None,
        scope=" ".join(scope) if isinstance(scope, list) else str(scope or ""),
        extra={k: doc[k] for k in keep_fields if k in doc and _plain(doc[k])},
    )


def raise_for_error_response(reply: Reply, *, secrets: Sequence[str]) -> NoReturn:
    """Raise the ProviderError that a non-2xx (or error-bearing) answer means."""
    if reply.status == 429 or reply.status >= 500:
        retry = retry_after_s(reply.headers.get("retry-after"))
        what = "is rate limiting us" if reply.status == 429 else f"failed (HTTP {reply.status})"
        raise ProviderUnavailable(f"The authorization server {what}; Tokendesk will retry later.",
                                  retry_after_s=retry)
    doc = _json_object(reply)
    error = doc.get("error") if doc else None
    if not isinstance(error, str) or not error:
        raise InvalidProviderResponse(
            f"The authorization server answered HTTP {reply.status} without an OAuth error."
        )
    description = _description(doc, secrets) if doc else ""
    if error == "invalid_grant" and "redirect" in description.lower():
        error = "redirect_uri_mismatch"
    words = _PLAIN_WORDS.get(error, "the provider refused the request")
    message = f"{error}: {words}." + (f" The provider said: {description}" if description else "")
    raise _REJECTIONS.get(error, ProviderRejected)(message, oauth_error=error[:64])


def retry_after_s(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), bounded."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return max(0.0, min(seconds, RETRY_AFTER_MAX_S))


def _json_object(reply: Reply) -> dict[str, Any] | None:
    try:
        doc = json.loads(reply.body)
    except (ValueError, UnicodeDecodeError):
        return None
    return doc if isinstance(doc, dict) else None


def _token_type(value: Any) -> str:
    if value is None:
        return "Bearer"  # several providers omit it; RFC 6750 bearer is the only kind we handle
    if not isinstance(value, str) or value.lower() not in KNOWN_TOKEN_TYPES:
        shown = value[:20] if isinstance(value, str) else type(value).__name__
        raise InvalidProviderResponse(f"The token endpoint issued a token of unknown type "
                                      f"'{scrub_text(shown)}'; Tokendesk handles Bearer tokens.")
    return KNOWN_TOKEN_TYPES[value.lower()]


def _description(doc: dict[str, Any], secrets: Sequence[str]) -> str:
    raw = doc.get("error_description")
    if not isinstance(raw, str):
        return ""
    text = raw
    for secret in secrets:
        if secret:
            text = text.replace(secret, "********")
    text = " ".join(scrub_text(text).split())
    return text[:DESCRIPTION_MAX]


def _plain(value: Any) -> bool:
    return isinstance(value, str | int | float | bool) and len(str(value)) <= 2048
