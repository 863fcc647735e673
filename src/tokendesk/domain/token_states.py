"""One vocabulary of token states, the same in the console, the API, the CLI and the SDK.

Each state has a label, a reason (what is so, in plain words) and one action (what to do
about it). :func:`describe` reads them from a token's stored facts, its connection and the
moment; no I/O. The stored ``TokenStatus`` says what the refresh path decided; the state
says what a person sees: a valid token that is backing off after a failed refresh reads
*Backing off until 14:05 UTC*, not *Valid*, nor *Expired, refreshed on its next use*.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from tokendesk.domain.connections import Connection, GrantType
from tokendesk.domain.tokens import StoredToken, TokenKind, TokenStatus, needs_refresh


class TokenState(StrEnum):
    """The states a token reads as, for people and programs (stable values for the API)."""

    VALID = "valid"
    REFRESHING_SOON = "refreshing_soon"
    BACKING_OFF = "backing_off"
    NEEDS_CONSENT = "needs_consent"
    MISCONFIGURED = "misconfigured"
    DAMAGED = "damaged"
    NOT_CONNECTED = "not_connected"


@dataclass(frozen=True, slots=True)
class StateWords:
    """A token's state in words: ``label`` (a badge), ``reason`` and one ``action``.
    ``until`` is when a back-off ends (else None)."""

    state: TokenState
    label: str
    reason: str
    action: str
    until: datetime | None = None


NOTHING_TO_DO = "Nothing to do."


def describe(token: StoredToken | None, connection: Connection, now: datetime) -> StateWords:
    """The state of ``token`` (None: there is none) of ``connection`` at ``now``."""
    code_flow = connection.grant_type is GrantType.AUTHORIZATION_CODE
    if token is None:
        return _not_connected(code_flow)
    if token.status is TokenStatus.CORRUPTED:
        return StateWords(
            TokenState.DAMAGED, "Damaged",
            "The stored token could not be decrypted (changed in the database, or the "
            "encryption key is not the one it was stored with).",
            _consent_action(token) if code_flow else
            "Disconnect it: the next request fetches a new token with the client credentials.",
        )
    if (token.status is TokenStatus.MISCONFIGURED or connection.misconfigured
            or (token.status is TokenStatus.NEEDS_REAUTHENTICATION and not code_flow)):
        return _misconfigured(token, connection)
    if token.status is TokenStatus.NEEDS_REAUTHENTICATION:
        return _needs_consent(token)
    backing_off = token.next_attempt_at is not None and now < token.next_attempt_at
    if backing_off and token.failure_count > 0:
        return _backing_off(token, now)
    expired = token.expires_at is not None and token.expires_at <= now
    if expired and code_flow and not token.has_refresh_token:
        return StateWords(
            TokenState.NEEDS_CONSENT, "Needs consent",
            f"It expired at {_clock(token.expires_at)} and the provider gave no refresh token.",
            _consent_action(token),
        )
    if needs_refresh(now, token.issued_at, token.expires_at)[0]:
        when = "expired at" if expired else "expires at"
        return StateWords(
            TokenState.REFRESHING_SOON, "Refreshing soon",
            f"It {when} {_clock(token.expires_at)}; Tokendesk refreshes it before its next "
            "use or in the background.",
            NOTHING_TO_DO,
        )
    until = f"until {_clock(token.expires_at)}" if token.expires_at else "(lifetime not known)"
    return StateWords(TokenState.VALID, "Valid", f"It is valid {until}.", NOTHING_TO_DO)


def _not_connected(code_flow: bool) -> StateWords:
    if code_flow:
        return StateWords(
            TokenState.NOT_CONNECTED, "Not connected", "Nobody has authenticated it yet.",
            "Authenticate it: Login (your own token) or Authenticate shared token.",
        )
    return StateWords(
        TokenState.NOT_CONNECTED, "Not connected", "No token has been fetched yet.",
        "Nothing to do: the first request fetches one with the client credentials.",
    )


def _misconfigured(token: StoredToken, connection: Connection) -> StateWords:
    error = token.last_error or connection.last_error or "invalid_client"
    reason = (token.diagnosis.reason if token.diagnosis else
              f"The provider refused the connection's client credentials: {error}")
    return StateWords(
        TokenState.MISCONFIGURED, "Misconfigured", _sentence(reason),
        token.diagnosis.action if token.diagnosis else
        "An administrator enters the connection's current client ID and secret (Edit "
        "connection), then tests the connection.",
    )


def _needs_consent(token: StoredToken) -> StateWords:
    if token.diagnosis is not None:
        return StateWords(TokenState.NEEDS_CONSENT, "Needs consent", token.diagnosis.reason,
                          _consent_action(token))
    reason = token.last_error or "The provider refused to refresh it."
    return StateWords(TokenState.NEEDS_CONSENT, "Needs consent", _sentence(reason),
                      _consent_action(token))


def _backing_off(token: StoredToken, now: datetime) -> StateWords:
    until = token.next_attempt_at
    assert until is not None
    usable = token.expires_at is None or now < token.expires_at
    served = (f"the current token is still served until {_clock(token.expires_at)}"
              if usable and token.expires_at else
              "the current token is still served" if usable else
              "until then bots get no token (it has expired)")
    error = (token.last_error or "the provider call failed").rstrip(".")
    return StateWords(
        TokenState.BACKING_OFF, f"Backing off until {_clock(until)}",
        f"The last refresh failed ({error}). Tokendesk tries again at {_clock(until)}; "
        f"{served}.",
        "Nothing to do if the provider recovers. If it keeps failing, check the provider's "
        "status and the network settings (proxy, egress allowlist).",
        until,
    )


def _consent_action(token: StoredToken) -> str:
    if token.kind is TokenKind.SHARED:
        return ("An administrator authenticates the shared token again (Re-authenticate on "
                "the connection's page).")
    return "Its user authenticates again (My settings, OAuth connections, Re-authenticate)."


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?", '"')) else text + "."


def _clock(moment: datetime | None) -> str:
    return "an unknown time" if moment is None else f"{moment:%H:%M} UTC"


def refresh_said(before: StoredToken, after: StoredToken, words: StateWords,
                 now: datetime, *, interval_s: float) -> tuple[bool, str]:
    """Whether *Refresh now* refreshed the token (``before`` it, ``after`` it), and what to
    tell the person who asked: never "refreshed" when nothing was sent or nothing changed.
    ``interval_s``: a forced refresh this soon after the last one is not sent."""
    if after.issued_at != before.issued_at and after.status is TokenStatus.VALID:
        until = f"; it is valid until {_clock(after.expires_at)}" if after.expires_at else ""
        return True, f"The token was refreshed{until}."
    if words.state is TokenState.BACKING_OFF:
        return False, (f"Not refreshed: nothing was sent to the provider, because Tokendesk is "
                       f"backing off after a failed refresh until {_clock(words.until)}. "
                       f"{words.reason}")
    just = (after.issued_at is not None
            and (now - after.issued_at).total_seconds() < interval_s)
    if just and words.state is TokenState.VALID:
        return False, (f"Not sent: the token was refreshed less than {interval_s:g} seconds "
                       f"ago. {words.reason}")
    return False, f"Not refreshed. {words.reason} {words.action}"
