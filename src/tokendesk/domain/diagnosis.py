"""Why a provider refused a refresh (invalid_grant, invalid_client), and what to do (no I/O).

:func:`diagnose` weighs what can be known: the provider's own words, matched against the
phrases its catalog entry documents, and Tokendesk's facts about the token (how old its
refresh token is against the provider's documented lifetimes, how long since it was last
used, whether the provider rotates it and whether the one sent had been sent before without
its answer being stored, whether the client changed since the consent). It is a pure
function: the refresh path stores its answer on the token, and anything else (the attention
list, notifications) may call it or read the stored one with :meth:`Diagnosis.from_json`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

DIAGNOSIS_MAX_CHARS = 2000


class RefusalCause(StrEnum):
    """Why a provider refused, as far as it can be known (stable codes for the API)."""

    # invalid_grant
    REUSED = "refresh_token_reused"
    TESTING_APP = "testing_app_expiry"
    TOO_OLD = "refresh_token_too_old"
    UNUSED = "refresh_token_unused_too_long"
    CLIENT_CHANGED = "client_changed_since_consent"
    EXPIRED_OR_REVOKED = "expired_or_revoked"
    UNKNOWN_TOKEN = "unknown_token"
    USER_INACTIVE = "user_inactive"
    REVOKED = "revoked"
    # invalid_client
    SECRET_CHANGED_HERE = "client_secret_changed_here"
    SECRET_REFUSED = "client_secret_refused"
    # either: the provider's own error number, whose meaning the catalog records
    PROVIDER_VERDICT = "provider_verdict"


@dataclass(frozen=True, slots=True)
class RefusalPhrase:
    """A phrase a provider documents in its refusals, and the cause it means (catalog data)."""

    phrase: str
    cause: RefusalCause


@dataclass(frozen=True, slots=True)
class Lifetimes:
    """A provider's documented refresh-token lifetimes in days (None: not documented)."""

    absolute_days: int | None = None
    inactivity_days: int | None = None
    testing_app_days: int | None = None


@dataclass(frozen=True, slots=True)
class RefusalFacts:
    """What is known when a provider refuses: its answer, and Tokendesk's own records."""

    error: str  # the OAuth error code: invalid_grant or invalid_client
    provider_words: str  # the provider's error_description, masked ("" when none)
    provider: str  # the provider's name, for people
    now: datetime
    consented_at: datetime | None = None
    refresh_issued_at: datetime | None = None  # consent, or the last rotation
    last_used_at: datetime | None = None  # the last successful refresh (or the consent)
    rotations: int = 0  # refresh tokens the provider rotated since the consent
    # The refresh token sent had been sent before in a request whose answer never arrived.
    resent: bool = False
    client_changed_at: datetime | None = None  # client ID, secret/key or token URL changed
    lifetimes: Lifetimes = Lifetimes()
    phrases: Sequence[RefusalPhrase] = ()
    # The catalog's verdict for the provider's error number (Microsoft's AADSTS codes), which
    # names the cause and the fix better than any guess: "" when there is none.
    verdict: str = ""


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """Why a refresh was refused (``reason``, with the facts it rests on) and what to do."""

    cause: RefusalCause
    reason: str
    action: str

    def to_json(self) -> str:
        """The diagnosis as stored on the token (bounded)."""
        doc = {"cause": self.cause.value, "reason": self.reason, "action": self.action}
        text = json.dumps(doc)
        if len(text) > DIAGNOSIS_MAX_CHARS:
            doc["reason"] = self.reason[: DIAGNOSIS_MAX_CHARS // 2] + "..."
            text = json.dumps(doc)
        return text

    @classmethod
    def from_json(cls, text: str | None) -> Diagnosis | None:
        """The stored diagnosis; None when there is none or it cannot be read."""
        if not text:
            return None
        try:
            doc = json.loads(text)
            return cls(RefusalCause(doc["cause"]), str(doc["reason"]), str(doc["action"]))
        except (ValueError, KeyError, TypeError):
            return None


CONSENT_AGAIN = "A person must consent again: authenticate the token again."


def diagnose(facts: RefusalFacts) -> Diagnosis:
    """Why the provider refused (``facts.error``), from its words and Tokendesk's facts.

    Returns the most specific diagnosis the facts support: for invalid_client, whether the
    secret was changed here since the consent; for invalid_grant, a reuse of a refresh token
    whose first answer was lost, a documented lifetime run out, a client changed since the
    consent, a phrase the provider documents, else a revocation at the provider.
    """
    if facts.verdict:
        return Diagnosis(
            RefusalCause.PROVIDER_VERDICT,
            f"{facts.provider} refused it ({facts.error}): {facts.verdict}."
            + _provider_said(facts),
            f"Do what {facts.provider}'s answer calls for: {facts.verdict}.",
        )
    if facts.error == "invalid_client":
        return _client_refused(facts)
    said = _provider_said(facts)
    found = (
        _reused(facts) or _testing_app(facts) or _too_old(facts) or _unused(facts)
        or _client_changed(facts) or _phrase(facts)
    )
    if found is not None:
        return Diagnosis(found.cause, found.reason + said, found.action)
    return Diagnosis(
        RefusalCause.REVOKED,
        f"{facts.provider} refused the refresh token (invalid_grant), and nothing Tokendesk "
        f"knows explains it: {_age_words(facts)}. Most likely the consent was revoked at "
        f"{facts.provider} (by the user, an administrator, or a password change)." + said,
        CONSENT_AGAIN,
    )


def _client_refused(facts: RefusalFacts) -> Diagnosis:
    said = _provider_said(facts)
    changed = facts.client_changed_at
    if changed is not None and (facts.consented_at is None or changed > facts.consented_at):
        return Diagnosis(
            RefusalCause.SECRET_CHANGED_HERE,
            f"{facts.provider} refused the client credentials (invalid_client); they were "
            f"changed in Tokendesk on {_day(changed)}, after the last consent." + said,
            "An administrator checks the client ID and secret just entered (Edit connection) "
            "against the provider's application, then tests the connection.",
        )
    since = f" since {_day(changed)}" if changed else ""
    return Diagnosis(
        RefusalCause.SECRET_REFUSED,
        f"{facts.provider} no longer accepts the stored client credentials (invalid_client), "
        f"which were not changed in Tokendesk{since}: the secret was most likely rotated, "
        f"deleted or expired at {facts.provider}." + said,
        "An administrator creates or copies the current client secret at the provider, "
        "enters it (Edit connection) and tests the connection; tokens need no new consent.",
    )


def _reused(facts: RefusalFacts) -> Diagnosis | None:
    if not facts.resent:
        return None
    rotates = (
        f"{facts.provider} rotates refresh tokens (rotated {facts.rotations} times since "
        "the consent)" if facts.rotations else f"{facts.provider} may rotate refresh tokens"
    )
    return Diagnosis(
        RefusalCause.REUSED,
        "The refresh token was sent a second time: its first request got no answer "
        f"Tokendesk could store (a timeout or a broken connection). {rotates}, so the "
        "provider most likely used it then, and took "
        "the second use as a reuse and revoked the consent.",
        CONSENT_AGAIN + " If it happens often, look at the network between Tokendesk and "
        "the provider (timeouts, a proxy cutting answers).",
    )


def _testing_app(facts: RefusalFacts) -> Diagnosis | None:
    days = facts.lifetimes.testing_app_days
    age = _days(facts.now, facts.refresh_issued_at or facts.consented_at)
    if days is None or age is None or not days <= age < 2 * days:
        return None  # refused long after: something else ended it
    return Diagnosis(
        RefusalCause.TESTING_APP,
        f"The refresh token is {_n(age)} old, and {facts.provider} documents that refresh "
        f"tokens of an app still in Testing expire after {days} days: the app is most likely "
        "in Testing.",
        f"Publish the app at {facts.provider} (OAuth consent screen: In production), then "
        "authenticate the token again.",
    )


def _too_old(facts: RefusalFacts) -> Diagnosis | None:
    days = facts.lifetimes.absolute_days
    age = _days(facts.now, facts.consented_at or facts.refresh_issued_at)
    if days is None or age is None or age < days:
        return None
    return Diagnosis(
        RefusalCause.TOO_OLD,
        f"The consent is {_n(age)} old, and {facts.provider} documents that refresh tokens "
        f"expire {days} days after consent, whatever their use.",
        CONSENT_AGAIN + f" Plan a new consent every {days} days.",
    )


def _unused(facts: RefusalFacts) -> Diagnosis | None:
    days = facts.lifetimes.inactivity_days
    idle = _days(facts.now, facts.last_used_at)
    if days is None or idle is None or idle < days:
        return None
    return Diagnosis(
        RefusalCause.UNUSED,
        f"The refresh token was last used {_n(idle)} ago, and {facts.provider} documents "
        f"that a refresh token unused for {days} days expires.",
        CONSENT_AGAIN + " A token used at least once in that time stays alive.",
    )


def _client_changed(facts: RefusalFacts) -> Diagnosis | None:
    changed, consented = facts.client_changed_at, facts.consented_at
    if changed is None or consented is None or changed <= consented:
        return None
    return Diagnosis(
        RefusalCause.CLIENT_CHANGED,
        f"The connection's client ID, secret or token URL was changed on {_day(changed)}, "
        f"after the consent of {_day(consented)}: a refresh token belongs to the client "
        "application that it was issued to.",
        "If the client was changed on purpose, authenticate the token again; if not, put "
        "the former client back (Edit connection).",
    )


def _phrase(facts: RefusalFacts) -> Diagnosis | None:
    words = facts.provider_words.casefold()
    match = next((p for p in facts.phrases if p.phrase.casefold() in words), None)
    if not words or match is None:
        return None
    return Diagnosis(match.cause, f"{_PHRASE_MEANS[match.cause]} ({_age_words(facts)}).",
                     CONSENT_AGAIN)


_PHRASE_MEANS = {
    RefusalCause.EXPIRED_OR_REVOKED: (
        "The provider says the refresh token expired or was revoked; within its documented "
        "lifetimes, that means the consent was revoked (by the user, an administrator, or a "
        "password change)"
    ),
    RefusalCause.UNKNOWN_TOKEN: (
        "The provider does not know the refresh token any more: it expired, was revoked, or "
        "was replaced by a newer one"
    ),
    RefusalCause.USER_INACTIVE: "The provider says the user who consented is inactive",
    RefusalCause.REVOKED: "The provider says the consent was revoked",
}


def _provider_said(facts: RefusalFacts) -> str:
    return f' {facts.provider} said: "{facts.provider_words}"' if facts.provider_words else ""


def _age_words(facts: RefusalFacts) -> str:
    parts = []
    age = _days(facts.now, facts.refresh_issued_at or facts.consented_at)
    if age is not None:
        parts.append(f"refresh token {_n(age)} old")
    idle = _days(facts.now, facts.last_used_at)
    if idle is not None:
        parts.append(f"last used {_n(idle)} ago")
    parts.append("client unchanged since the consent" if facts.client_changed_at is None
                 or (facts.consented_at and facts.client_changed_at <= facts.consented_at)
                 else "client changed since the consent")
    return ", ".join(parts)


def _days(now: datetime, since: datetime | None) -> int | None:
    return None if since is None else max(0, (now - since) // timedelta(days=1))


def _day(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d}"


def _n(days: int) -> str:
    return "1 day" if days == 1 else f"{days} days"
