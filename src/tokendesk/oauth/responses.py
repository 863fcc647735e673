"""Reading token endpoint answers (RFC 6749 §5.1 success, §5.2 error) strictly.

Nothing a provider sends reaches a person unscrubbed: an ``error_description`` that echoes
a secret we sent is masked before it becomes part of a message.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, NoReturn
from urllib.parse import quote, quote_plus, urlsplit

from tokendesk.domain.secret import MASK, Secret
from tokendesk.domain.tokens import (
    EXPIRES_IN_MAX_S,
    ExpiresInUnit,
    TokenSet,
    expires_in_s,
    expiry_from,
    expiry_source_of,
    has_control_characters,
    refresh_expiry_from,
)
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
from tokendesk.logs import is_secret_key, scrub_text
from tokendesk.oauth.outbound import Reply

log = logging.getLogger(__name__)

KNOWN_TOKEN_TYPES = {"bearer": "Bearer"}
DESCRIPTION_MAX = 200
ERROR_CODE_MAX = 64
RETRY_AFTER_MAX_S = 3600.0
# RFC 6749 §5.2: error = 1*( %x20-21 / %x23-5B / %x5D-7E ).
_ERROR_CODE_RE = re.compile(r"[\x20-\x21\x23-\x5B\x5D-\x7E]+")

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


def parse_token_response(
    reply: Reply,
    *,
    now: datetime,
    default_lifetime_s: int | None,
    keep_fields: Sequence[str],
    secrets: Sequence[str],
    expires_in_unit: ExpiresInUnit = "s",
) -> TokenSet:
    """A validated TokenSet from a 2xx answer (RFC 6749 §5.1); ``now`` is when the request
    was sent, from which ``expires_in`` (in ``expires_in_unit``) counts.

    Raises InvalidProviderResponse (transient) for a body that is not a JSON object, has no
    access_token, a token type other than Bearer or an expires_in that is not a number; and
    the ProviderRejected subclass of an ``error`` member (some providers answer 200 with one).
    Kept ``extra`` fields never include a token or other secret-named member.
    """
    doc = _json_object(reply)
    if doc is None:
        raise InvalidProviderResponse(
            "The token endpoint answered with something other than a JSON object."
        )
    if doc.get("error"):
        raise_for_error_response(reply, secrets=secrets, now=now)
    access = doc.get("access_token")
    if not isinstance(access, str) or not access:
        raise InvalidProviderResponse("The token endpoint's answer has no access_token.")
    token_type = _token_type(doc.get("token_type"))
    try:
        expires_at = expiry_from(now, doc.get("expires_in"), access_token=access,
                                 default_lifetime_s=default_lifetime_s, unit=expires_in_unit)
        source = expiry_source_of(doc.get("expires_in"), access_token=access,
                                  default_lifetime_s=default_lifetime_s, unit=expires_in_unit)
        _note_capped(expires_in_s(doc.get("expires_in"), expires_in_unit))
    except (ValueError, OverflowError):
        raise InvalidProviderResponse("The token endpoint's expires_in is not a number.") from None
    try:
        refresh_expires_at = refresh_expiry_from(now, doc, expires_in_unit)
    except (ValueError, OverflowError):
        raise InvalidProviderResponse(
            "The token endpoint's refresh token lifetime (refresh_token_expires_in) is not "
            "a number.") from None
    refresh = doc.get("refresh_token")
    if any(isinstance(t, str) and has_control_characters(t) for t in (access, refresh)):
        # Fail closed: CR/LF in a token would split the header a bot puts it in.
        raise InvalidProviderResponse(
            "The token endpoint issued a token containing control characters (such as a line "
            "break); Tokendesk does not store or hand out such a token.")
    return TokenSet(
        access_token=Secret(access),
        token_type=token_type,
        expires_at=expires_at,
        refresh_token=Secret(refresh) if isinstance(refresh, str) and refresh else None,
        scope=_scope(doc.get("scope")),
        # A token is never a "kept field": kept fields go out to bots with the access token.
        extra={
            k: doc[k] for k in keep_fields if k in doc and not is_secret_key(k) and _plain(doc[k])
        },
        expiry_source=source,
        refresh_expires_at=refresh_expires_at if isinstance(refresh, str) and refresh else None,
    )


def _note_capped(lifetime_s: int | None) -> None:
    if lifetime_s is not None and lifetime_s > EXPIRES_IN_MAX_S:
        log.warning(
            "The token endpoint's expires_in (%d s) is over a year; the token is taken to "
            "expire in a year. If this provider counts in milliseconds, its catalog entry "
            'should say expires_in_unit = "ms".', lifetime_s)


def raise_for_error_response(
    reply: Reply,
    *,
    secrets: Sequence[str],
    now: datetime | None = None,
    transient: Sequence[int] = (),
    verdicts: Mapping[int, str] | None = None,
) -> NoReturn:
    """Raise the ProviderError that a non-2xx (or error-bearing) answer means (RFC 6749 §5.2).

    429 and 5xx → ProviderUnavailable with ``retry_after_s`` from Retry-After (relative to
    ``now``, default the wall clock); a redirect or a body without an OAuth error →
    InvalidProviderResponse; an OAuth error → its ProviderRejected subclass, unless its
    ``error_codes`` member holds one of the provider's ``transient`` numbers (catalog data) →
    ProviderUnavailable. When ``error_codes`` holds a number of the provider's ``verdicts``
    (catalog data), that verdict, which names the fix, replaces the generic words of the
    error. ``secrets`` (the values sent) are masked out of the
    provider's words, and the message is bounded.
    """
    if reply.status == 429 or reply.status >= 500:
        retry = retry_after_s(reply.headers.get("retry-after"), now=now)
        what = "is rate limiting us" if reply.status == 429 else f"failed (HTTP {reply.status})"
        raise ProviderUnavailable(
            f"The authorization server {what}; Tokendesk will retry later.", retry_after_s=retry
        )
    doc = _json_object(reply)
    error = _error_code(doc.get("error") if doc else None, secrets)
    if error is None or doc is None:
        raise InvalidProviderResponse(_no_oauth_error(reply))
    description = _description(doc, secrets)
    if error == "invalid_grant" and "redirect" in description.lower():
        error = "redirect_uri_mismatch"
    verdict = _verdict(doc, verdicts or {})
    said = f" The provider said: {description}" if description else ""
    if _is_transient(doc, transient):
        what = f": {verdict}" if verdict else ""
        raise ProviderUnavailable(
            f"The authorization server reported a temporary condition ({error}{what}); "
            "Tokendesk will retry later." + said
        )
    words = verdict or _PLAIN_WORDS.get(error, "the provider refused the request")
    message = f"{error}: {words}." + said
    raise _REJECTIONS.get(error, ProviderRejected)(
        message, oauth_error=error, description=description, verdict=verdict or ""
    )


def _is_transient(doc: dict[str, Any], transient: Sequence[int]) -> bool:
    """True when the answer's ``error_codes`` holds one of the ``transient`` numbers."""
    codes = doc.get("error_codes")
    if not transient or not isinstance(codes, list):
        return False
    return any(isinstance(c, int) and not isinstance(c, bool) and c in transient for c in codes)


def _verdict(doc: dict[str, Any], verdicts: Mapping[int, str]) -> str | None:
    """The provider's plain verdict for the first number of ``error_codes`` it has one for."""
    codes = doc.get("error_codes")
    if not verdicts or not isinstance(codes, list):
        return None
    return next((verdicts[c] for c in codes
                 if isinstance(c, int) and not isinstance(c, bool) and c in verdicts), None)


def retry_after_s(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (RFC 9110 §10.2.3: delay-seconds or an
    HTTP-date, counted from ``now``), bounded to 0..RETRY_AFTER_MAX_S; None when absent or
    unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, min(seconds, RETRY_AFTER_MAX_S))


def _json_object(reply: Reply) -> dict[str, Any] | None:
    try:
        doc = json.loads(reply.body)
    except (ValueError, RecursionError):  # RecursionError: a deeply nested body
        return None
    return doc if isinstance(doc, dict) else None


def _no_oauth_error(reply: Reply) -> str:
    if 300 <= reply.status < 400:
        target = urlsplit(reply.headers.get("location", "")).hostname
        where = f" to {target}" if target else ""
        return (
            f"The authorization server answered with a redirect (HTTP {reply.status}){where}; "
            "Tokendesk does not follow redirects from it. Check the endpoint URL."
        )
    return f"The authorization server answered HTTP {reply.status} without an OAuth error."


def _error_code(value: Any, secrets: Sequence[str]) -> str | None:
    """The provider's error code if it is one (RFC 6749 §5.2 characters), masked and bounded."""
    if not isinstance(value, str) or not _ERROR_CODE_RE.fullmatch(value.strip()):
        return None
    return _mask(value.strip(), secrets)[:ERROR_CODE_MAX]


def _scope(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return " ".join(value)
    raise InvalidProviderResponse(
        "The token endpoint's scope is neither text nor a list of scopes."
    )


def _token_type(value: Any) -> str:
    if value is None:
        return "Bearer"  # several providers omit it; RFC 6750 bearer is the only kind we handle
    if not isinstance(value, str) or value.lower() not in KNOWN_TOKEN_TYPES:
        shown = value[:20] if isinstance(value, str) else type(value).__name__
        raise InvalidProviderResponse(
            f"The token endpoint issued a token of unknown type "
            f"'{scrub_text(shown)}'; Tokendesk handles Bearer tokens."
        )
    return KNOWN_TOKEN_TYPES[value.lower()]


def _description(doc: dict[str, Any], secrets: Sequence[str]) -> str:
    raw = doc.get("error_description")
    if not isinstance(raw, str):
        return ""
    text = " ".join(scrub_text(_mask(raw, secrets)).split())
    return text[:DESCRIPTION_MAX]


def _mask(text: str, secrets: Sequence[str]) -> str:
    """``text`` without the secrets we sent, as typed or as they went on the wire: plain,
    URL-encoded and form-encoded (percent escapes in either case); the caller adds encoded
    credentials such as HTTP Basic ones to ``secrets``."""
    variants = {
        variant
        for secret in filter(None, secrets)
        for variant in (secret, quote_plus(secret), quote(secret, safe=""))
    }
    for variant in sorted(variants, key=len, reverse=True):
        text = re.sub(re.escape(variant), MASK, text, flags=_case_of(variant))
    return text


def _case_of(variant: str) -> re.RegexFlag:
    """Percent escapes match in either case (``%2F`` and ``%2f``); anything else exactly."""
    return re.IGNORECASE if "%" in variant else re.NOFLAG


def _plain(value: Any) -> bool:
    return isinstance(value, str | int | float | bool) and len(str(value)) <= 2048
