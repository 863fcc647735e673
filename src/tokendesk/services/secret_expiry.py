"""The client secret's expiry date an administrator enters: checked, and what an edit writes.
Takes no transaction; raises ValidationError naming ``client_secret_expires_on``."""

from __future__ import annotations

from datetime import date
from typing import Any

from tokendesk.errors import ValidationError
from tokendesk.services.client_keys import uses_key

FIELD = "client_secret_expires_on"
# Far enough for any provider's longest secret (Microsoft Entra: up to two years by default,
# longer by policy), near enough to catch a mistyped year.
EARLIEST = date(2000, 1, 1)
LATEST = date(2199, 12, 31)


def checked_expiry(day: date | None, *, method: str) -> date | None:
    """``day`` if it may be stored for a connection authenticating with ``method``.

    Raises ValidationError for a connection that signs with a key (it has no secret whose
    expiry could be entered) and for a day outside EARLIEST..LATEST.
    """
    if day is None:
        return None
    if uses_key(method):
        raise ValidationError(
            "This connection signs with a client key (private_key_jwt); it has no client "
            "secret whose expiry could be entered. The certificate's expiry is read from "
            "the certificate.",
            field=FIELD,
        )
    if not EARLIEST <= day <= LATEST:
        raise ValidationError(
            f"The client secret's expiry date must be a day between {EARLIEST.isoformat()} "
            f"and {LATEST.isoformat()}, such as 2027-06-30.",
            field=FIELD,
        )
    return day


def expiry_changes(
    stored: date | None, given: date | None, *, given_set: bool, secret_typed: bool,
    method: str,
) -> dict[str, Any]:
    """The ``client_secret_expires_on`` value an edit writes: the given day (``null``
    clears it); else, when a new secret was typed, none (the stored day was the old
    secret's); else nothing (the stored day stays)."""
    if given_set:
        day = checked_expiry(given, method=method)
    elif secret_typed or (stored is not None and uses_key(method)):
        day = None
    else:
        return {}
    return {} if day == stored else {FIELD: day}


def audit_details(stored: date | None, values: dict[str, Any]) -> dict[str, Any]:
    """``{"client_secret_expires_on": {"old": ..., "new": ...}}`` (ISO days) when it changes."""
    if FIELD not in values:
        return {}
    new = values[FIELD]
    return {FIELD: {"old": stored.isoformat() if stored else None,
                    "new": new.isoformat() if new else None}}
