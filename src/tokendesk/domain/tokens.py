"""Token sets and the rules for when to refresh them (RFC 6749 §5.1, §6). No I/O."""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from tokendesk.domain.diagnosis import Diagnosis
from tokendesk.domain.secret import Secret

# Refresh this long before expiry, but never earlier than this fraction of the lifetime
# before it: a 60-second token must not be refreshed the moment it arrives.
REFRESH_MARGIN_S = 300
REFRESH_MARGIN_MAX_FRACTION = 0.5
# A token whose lifetime is unknown is trusted this long before it is refreshed anyway.
UNKNOWN_LIFETIME_S = 3600
# The background refresher goes up to this long ahead of a token's refresh moment (at most
# this fraction of its lifetime), so bots rarely wait for a provider during a handout.
BACKGROUND_LEAD_S = 10.0
BACKGROUND_LEAD_MAX_FRACTION = 0.1
# No token is trusted to live longer than a year: a larger expires_in is a provider counting in
# milliseconds (say so with ``expires_in_unit = "ms"`` in its catalog entry) or a mistake, and
# taken at face value would keep a dead token "valid" for years. Capped, and logged.
EXPIRES_IN_MAX_S = 365 * 24 * 3600
# The unit a provider's expires_in is counted in: RFC 6749 §5.1 says seconds.
ExpiresInUnit = Literal["s", "ms"]
_UNIT_DIVISOR = {"s": 1, "ms": 1000}
_LONGEST_S = int(timedelta.max.total_seconds())


class TokenKind(StrEnum):
    SHARED = "shared"
    USER = "user"


class TokenStatus(StrEnum):
    VALID = "valid"
    # The provider refused the refresh token for good (invalid_grant): a person must consent again.
    NEEDS_REAUTHENTICATION = "needs_reauthentication"
    # A stored ciphertext could not be decrypted: tampered with or moved.
    CORRUPTED = "corrupted"
    # The connection's client credentials were refused (invalid_client).
    MISCONFIGURED = "misconfigured"


class ExpirySource(StrEnum):
    """Where a token's expiry came from, shown with its state."""

    EXPIRES_IN = "expires_in"
    INTROSPECTION = "introspection"
    CATALOG_DEFAULT = "catalog_default"
    # The catalog default, because the provider's introspection endpoint gave no answer.
    INTROSPECTION_FAILED = "introspection_failed"
    JWT_EXP = "jwt_exp"
    UNKNOWN = "unknown"


EXPIRY_SOURCE_WORDS = {
    ExpirySource.EXPIRES_IN: "the token response's expires_in",
    ExpirySource.INTROSPECTION: "the provider's introspection said",
    ExpirySource.CATALOG_DEFAULT: "catalog default",
    ExpirySource.INTROSPECTION_FAILED: (
        "catalog default (the provider's introspection endpoint did not answer)"
    ),
    ExpirySource.JWT_EXP: "the access token's exp claim",
    ExpirySource.UNKNOWN: "not known",
}


@dataclass(frozen=True, slots=True)
class TokenSet:
    """What a token endpoint handed out, validated. Secrets mask themselves in ``repr``."""

    access_token: Secret
    token_type: str
    expires_at: datetime | None
    refresh_token: Secret | None = None
    scope: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    expiry_source: ExpirySource | None = None
    # When the refresh token expires, as the provider said (refresh_token_expires_in and
    # kin); None when it did not say.
    refresh_expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Handout:
    """An access token handed to a caller (never a refresh token)."""

    connection: str
    kind: TokenKind
    access_token: Secret
    token_type: str
    expires_at: datetime | None
    scope: str
    extra: dict[str, Any]
    connection_id: str
    issued_at: datetime | None


@dataclass(frozen=True, slots=True)
class StoredToken:
    """A token row as the services see it (secrets decrypted only when handed out)."""

    id: str
    connection_id: str
    kind: TokenKind
    user_id: str | None
    status: TokenStatus
    token_type: str
    scope: str
    issued_at: datetime | None
    expires_at: datetime | None
    last_refresh_at: datetime | None
    last_error: str | None
    has_refresh_token: bool
    failure_count: int
    next_attempt_at: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime
    expiry_source: ExpirySource | None = None
    # When a person last consented (the refresh token's grant began); None before 0011.
    consented_at: datetime | None = None
    # When the refresh token expires as the provider said; None when it did not say.
    refresh_expires_at: datetime | None = None
    # Why the provider last refused it (invalid_grant, invalid_client), and what to do.
    diagnosis: Diagnosis | None = None


# The members of a token answer in which providers say how long the refresh token lives,
# in seconds (or the provider's expires_in unit): Microsoft identity platform and Google
# ``refresh_token_expires_in``, Keycloak ``refresh_expires_in``, Intuit
# ``x_refresh_token_expires_in``. The first one present wins.
REFRESH_LIFETIME_FIELDS = (
    "refresh_token_expires_in", "refresh_expires_in", "x_refresh_token_expires_in",
)


def refresh_expiry_from(
    now: datetime, answer: dict[str, Any], unit: ExpiresInUnit = "s"
) -> datetime | None:
    """When the refresh token of a token answer expires, as the provider said; ``now`` is
    when the request was sent. None when no member says so, or says 0 (Keycloak: an offline
    token without a limit). Never more than ten years ahead. Raises ValueError (or
    OverflowError) for a member that is not a finite number."""
    for name in REFRESH_LIFETIME_FIELDS:
        if name in answer:
            seconds = expires_in_s(answer[name], unit)
            if seconds is None:
                return None
            return now + timedelta(seconds=min(seconds, REFRESH_LIFETIME_MAX_S))
    return None


REFRESH_LIFETIME_MAX_S = 10 * 365 * 24 * 3600


def expires_in_s(expires_in: Any, unit: ExpiresInUnit = "s") -> int | None:
    """The lifetime in whole seconds that ``expires_in`` says, in the provider's ``unit``.

    Returns None for missing, empty, zero or negative (RFC 6749 §5.1 makes it RECOMMENDED
    only; providers that send 0 or less mean "not said": taking it literally would make the
    token unusable and refresh it on every handout). Not capped here: see
    ``EXPIRES_IN_MAX_S``. Raises ValueError (or OverflowError) for a value that is not a
    finite number.
    """
    if expires_in is None or expires_in == "":
        return None
    if isinstance(expires_in, bool) or not isinstance(expires_in, int | float | str):
        raise ValueError("expires_in is not a number")
    seconds = int(float(expires_in) / _UNIT_DIVISOR[unit])  # ValueError "abc"/"nan", Overflow "inf"
    if seconds > _LONGEST_S:  # not a lifetime at all (beyond any date): refused, not capped
        raise OverflowError("expires_in is out of range")
    return seconds if seconds > 0 else None


def expiry_from(
    now: datetime,
    expires_in: Any,
    *,
    access_token: str,
    default_lifetime_s: int | None,
    unit: ExpiresInUnit = "s",
) -> datetime | None:
    """When a freshly issued token expires, ``now`` being when its request was sent
    (RFC 6749 §5.1: the lifetime counts from the response's issuance, and the request's
    departure is the earliest that can be).

    ``expires_in`` (see :func:`expires_in_s`) when given and positive; else the provider's
    default lifetime, else the JWT ``exp`` claim, else None (unknown). Whatever the source,
    never more than ``EXPIRES_IN_MAX_S`` after ``now``. Raises ValueError (or OverflowError)
    for an ``expires_in`` that is not a finite number.
    """
    latest = now + timedelta(seconds=EXPIRES_IN_MAX_S)
    seconds = expires_in_s(expires_in, unit)
    if seconds is not None:
        return min(now + timedelta(seconds=min(seconds, EXPIRES_IN_MAX_S)), latest)
    if default_lifetime_s is not None:
        return min(now + timedelta(seconds=default_lifetime_s), latest)
    exp = jwt_expiry(access_token)
    return min(exp, latest) if exp is not None else None


def expiry_source_of(
    expires_in: Any, *, access_token: str, default_lifetime_s: int | None,
    unit: ExpiresInUnit = "s",
) -> ExpirySource:
    """Which source :func:`expiry_from` takes the expiry from, for the same arguments
    (an ``expires_in`` it accepts)."""
    if expires_in_s(expires_in, unit) is not None:
        return ExpirySource.EXPIRES_IN
    if default_lifetime_s is not None:
        return ExpirySource.CATALOG_DEFAULT
    return ExpirySource.JWT_EXP if jwt_expiry(access_token) else ExpirySource.UNKNOWN


def with_fields_kept(tokens: TokenSet, stored: dict[str, Any]) -> TokenSet:
    """``tokens`` with the provider fields stored before that its answer lacks (a refresh
    answer does not repeat what consent learned, such as Atlassian's cloud id)."""
    return replace(tokens, extra={**stored, **tokens.extra})


def rotated(sent: Secret | None, received: Secret | None) -> bool:
    """True when a refresh answer brought a new refresh token: present, and not the one sent
    (the OAuth client keeps the old one when none comes back, RFC 6749 §6)."""
    if received is None:
        return False
    return sent is None or not hmac.compare_digest(received.reveal().encode(),
                                                   sent.reveal().encode())


def has_control_characters(token: str) -> bool:
    """True for a token carrying CR, LF or another control character (C0, DEL, C1, Unicode
    line separators): pasted into a header it could split it, so it is never handed out."""
    return any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F or ch in "\u2028\u2029"
               for ch in token)


def jwt_expiry(token: str) -> datetime | None:
    """The ``exp`` claim of a JWT access token, read without verification, else None."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        exp = payload.get("exp") if isinstance(payload, dict) else None
        if isinstance(exp, int | float) and not isinstance(exp, bool):
            return datetime.fromtimestamp(exp, UTC)
    except (ValueError, binascii.Error, UnicodeDecodeError, OverflowError, OSError):
        return None
    return None


def refresh_due_at(issued_at: datetime | None, expires_at: datetime | None) -> datetime | None:
    """The moment a token should be refreshed: a margin before expiry, clamped to a
    fraction of its lifetime. None when nothing is known about its expiry."""
    if expires_at is None:
        return None
    margin = timedelta(seconds=REFRESH_MARGIN_S)
    if issued_at is not None and expires_at > issued_at:
        margin = min(margin, (expires_at - issued_at) * REFRESH_MARGIN_MAX_FRACTION)
    return expires_at - margin


def background_lead_s(issued_at: datetime | None, expires_at: datetime | None) -> float:
    """How many seconds before :func:`refresh_due_at` the background refresher may refresh:
    ``BACKGROUND_LEAD_S``, clamped to a fraction of the lifetime (0 when expiry is unknown)."""
    if expires_at is None:
        return 0.0
    if issued_at is not None and expires_at > issued_at:
        lifetime_s = (expires_at - issued_at).total_seconds()
        return min(BACKGROUND_LEAD_S, lifetime_s * BACKGROUND_LEAD_MAX_FRACTION)
    return BACKGROUND_LEAD_S


def needs_refresh(
    now: datetime, issued_at: datetime | None, expires_at: datetime | None
) -> tuple[bool, str]:
    """Whether to refresh now, and why (for logs and the audit trail)."""
    if expires_at is None:
        if issued_at is not None and now - issued_at > timedelta(seconds=UNKNOWN_LIFETIME_S):
            return True, "lifetime unknown and token older than an hour"
        return False, "lifetime unknown"
    if now >= expires_at:
        return True, "expired"
    due = refresh_due_at(issued_at, expires_at)
    if due is not None and now >= due:
        return True, "within the refresh margin"
    return False, "still fresh"


def is_usable(now: datetime, expires_at: datetime | None) -> bool:
    """True while a token may still be handed out (not past its expiry)."""
    return expires_at is None or now < expires_at
