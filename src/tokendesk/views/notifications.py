"""What the API, the console and the CLI show of notifications: webhooks (the signing
secret only in the answer to a creation), their deliveries, and the SMTP settings (the
password only as whether one is stored)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from tokendesk.domain.mail import SmtpSettings
from tokendesk.storage.webhooks import AttemptRecord, DeliveryRecord, WebhookRecord


class SmtpOut(BaseModel):
    """The SMTP settings of e-mail notifications; the password only as whether one is set."""

    enabled: bool
    host: str
    port: int | None
    starttls: bool
    username: str
    password_stored: bool
    from_address: str
    updated_at: datetime | None
    updated_by: str

    @classmethod
    def of(cls, s: SmtpSettings) -> SmtpOut:
        return cls(enabled=s.enabled, host=s.host, port=s.port, starttls=s.starttls,
                   username=s.username, password_stored=s.has_password,
                   from_address=s.from_address, updated_at=s.updated_at,
                   updated_by=s.updated_by)


class WebhookOut(BaseModel):
    id: str
    url: str
    events: list[str]
    description: str
    enabled: bool
    created_by: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, webhook: WebhookRecord) -> WebhookOut:
        return cls(
            id=webhook.id,
            url=webhook.url,
            events=list(webhook.events),
            description=webhook.description,
            enabled=webhook.enabled,
            created_by=webhook.created_by,
            created_at=webhook.created_at,
            updated_at=webhook.updated_at,
        )


class NewWebhookOut(WebhookOut):
    secret: str  # whsec_...: verify signatures with it; shown this once


class AttemptOut(BaseModel):
    at: datetime
    status_code: int | None
    duration_ms: int
    outcome: str
    error: str | None


class DeliveryOut(BaseModel):
    id: str
    event_id: str
    event_type: str
    state: str
    attempts: int
    next_attempt_at: datetime | None
    last_status: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    attempt_log: list[AttemptOut]

    @classmethod
    def of(cls, d: DeliveryRecord, attempts: list[AttemptRecord]) -> DeliveryOut:
        return cls(
            id=d.id,
            event_id=d.event_id,
            event_type=d.kind,
            state=d.state,
            attempts=d.attempts,
            next_attempt_at=d.next_attempt_at if d.state == "pending" else None,
            last_status=d.last_status,
            last_error=d.last_error,
            created_at=d.created_at,
            delivered_at=d.delivered_at,
            attempt_log=[
                AttemptOut(at=a.at, status_code=a.status_code, duration_ms=a.duration_ms,
                           outcome=a.outcome, error=a.error)
                for a in attempts
            ],
        )
