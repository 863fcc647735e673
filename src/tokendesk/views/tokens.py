"""A token's state as the API and the CLI show it (never the token), a connection test's
verdict, and a one-time consent link."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from tokendesk.domain.connections import Verdict
from tokendesk.domain.diagnosis import Diagnosis
from tokendesk.domain.token_states import StateWords, TokenState
from tokendesk.domain.tokens import EXPIRY_SOURCE_WORDS, StoredToken, TokenStatus

_REFUSED_STATES = frozenset({TokenState.NEEDS_CONSENT, TokenState.MISCONFIGURED})


class DiagnosisOut(BaseModel):
    """Why the provider refused the token's refresh, and what to do."""

    cause: str
    reason: str
    action: str

    @classmethod
    def of(cls, d: Diagnosis | None) -> DiagnosisOut | None:
        return None if d is None else cls(cause=d.cause.value, reason=d.reason, action=d.action)


class TokenStatusOut(BaseModel):
    """A token's state (never the token). ``status`` is what the refresh path decided
    (valid, needs_reauthentication, corrupted, misconfigured); ``state``, ``state_label``,
    ``reason`` and ``action`` are the one vocabulary the console, CLI and SDK use too."""

    kind: str
    user_id: str | None
    status: str
    valid_until: datetime | None
    last_refresh_at: datetime | None
    last_error: str | None
    # Whether Tokendesk can refresh it (a refresh token the provider has not refused).
    refreshable: bool
    needs_reauthentication: bool
    # Where valid_until comes from, in words ("the provider's introspection said"); None
    # when not recorded.
    valid_until_source: str | None = None
    state: str | None = None
    state_label: str | None = None
    reason: str | None = None
    action: str | None = None
    # When a back-off ends and the next refresh is tried.
    retry_at: datetime | None = None
    # Whether a refresh token is stored (kept after a refusal, for the record).
    refresh_token_kept: bool = False
    diagnosis: DiagnosisOut | None = None
    # Refresh now: whether a new token set was stored, and what happened in words.
    refreshed: bool | None = None
    message: str | None = None

    @classmethod
    def of(cls, t: StoredToken, words: StateWords | None = None) -> TokenStatusOut:
        return cls(
            kind=t.kind.value,
            user_id=t.user_id,
            status=t.status.value,
            valid_until=t.expires_at,
            last_refresh_at=t.last_refresh_at,
            last_error=t.last_error,
            refreshable=t.has_refresh_token and t.status is TokenStatus.VALID,
            # A refused client secret (misconfigured) needs an administrator, not a consent.
            needs_reauthentication=t.status
            in (TokenStatus.NEEDS_REAUTHENTICATION, TokenStatus.CORRUPTED),
            valid_until_source=EXPIRY_SOURCE_WORDS[t.expiry_source] if t.expiry_source else None,
            state=words.state.value if words else None,
            state_label=words.label if words else None,
            reason=words.reason if words else None,
            action=words.action if words else None,
            retry_at=words.until if words else None,
            refresh_token_kept=t.has_refresh_token,
            # A diagnosis explains a refusal that still stands (a later refresh clears it).
            diagnosis=DiagnosisOut.of(t.diagnosis) if words is None
            or words.state in _REFUSED_STATES else None,
        )


class VerdictOut(BaseModel):
    ok: bool | None
    message: str
    cause: str | None
    authorize_url: str | None

    @classmethod
    def of(cls, verdict: Verdict) -> VerdictOut:
        return cls(
            ok=verdict.ok,
            message=verdict.message,
            cause=verdict.cause,
            authorize_url=verdict.authorize_url,
        )


class FlowLinkOut(BaseModel):
    """A one-time link that starts a consent in the browser that opens it."""

    url: str
    expires_at: datetime
