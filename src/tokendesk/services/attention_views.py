"""Output shapes of the attention list and the forecasts, shared by the REST API and the CLI's
--json output (as services/inputs.py shares the input shapes). None carries a secret."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from tokendesk.domain.attention import AttentionItem
from tokendesk.domain.forecast import Forecast
from tokendesk.services.attention import AttentionList


class ForecastOut(BaseModel):
    """A date by which something stops working, and where the date comes from."""

    kind: str  # consent_needed, secret_expires, certificate_expires
    due_at: datetime
    source: str  # provider_said, documented_inactivity, documented_absolute, administrator, ...
    source_words: str  # "Atlassian documents 90 days unused"
    source_url: str | None  # the documentation page, for a documented figure
    words: str  # "Consent needed by 2027-03-01 (the provider said)."

    @classmethod
    def of(cls, f: Forecast) -> ForecastOut:
        return cls(kind=f.kind.value, due_at=f.due_at, source=f.source.value,
                   source_words=f.source_words, source_url=f.source_url, words=f.words)


class AttentionItemOut(BaseModel):
    state: str  # misconfigured, needs_consent, damaged, backing_off, *_expiring, consent_due
    label: str
    subject: str  # connection, shared_token, user_token
    connection: str
    user: str | None  # the owner of a user-specific token
    reason: str
    fixer: str  # administrator, user
    who_can_fix: str
    fix_url: str  # the console page where it is fixed
    due_at: datetime | None
    forecast: ForecastOut | None

    @classmethod
    def of(cls, item: AttentionItem, public_url: str) -> AttentionItemOut:
        return cls(state=item.state.value, label=item.label, subject=item.subject.value,
                   connection=item.connection, user=item.user, reason=item.reason,
                   fixer=item.fixer.value, who_can_fix=item.who_can_fix,
                   fix_url=public_url + item.fix_path, due_at=item.due_at,
                   forecast=ForecastOut.of(item.forecast) if item.forecast else None)


class AttentionOut(BaseModel):
    as_of: datetime
    horizon_days: int
    counts: dict[str, int]
    items: list[AttentionItemOut]


class TokenForecastsOut(BaseModel):
    kind: str
    user_id: str | None
    forecasts: list[ForecastOut]


class ForecastsOut(BaseModel):
    connection: list[ForecastOut]  # the client secret's or certificate's expiry
    tokens: list[TokenForecastsOut]  # when each token the caller may see needs consent


def attention_out(found: AttentionList, public_url: str) -> AttentionOut:
    """The attention list as the API and the CLI show it; ``fix_url`` under ``public_url``."""
    return AttentionOut(
        as_of=found.as_of, horizon_days=found.horizon_days,
        counts={state.value: n for state, n in found.counts.items()},
        items=[AttentionItemOut.of(i, public_url) for i in found.items],
    )
