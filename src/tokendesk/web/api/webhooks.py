"""``/api/v1/webhooks``: signed notifications of token and connection events.

Administrators only (*Network settings*). The signing secret is in the answer to the
creation, and never again.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel

from tokendesk.services.inputs import WebhookCreate, WebhookUpdate
from tokendesk.services.webhooks import DeliveryLog, WebhookRecord
from tokendesk.web.api.responses import error_responses
from tokendesk.web.deps import App, Caller

router = APIRouter(tags=["webhooks"], responses=error_responses())


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
    def of(cls, log: DeliveryLog) -> DeliveryOut:
        d = log.delivery
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
                for a in log.attempts
            ],
        )


@router.get("/webhooks")
def list_webhooks(td: App, caller: Caller) -> list[WebhookOut]:
    with td.transaction(read_only=True) as tx:
        return [WebhookOut.of(w) for w in td.webhooks.all(tx, caller)]


@router.post("/webhooks", status_code=201)
def create_webhook(td: App, caller: Caller, body: WebhookCreate) -> NewWebhookOut:
    with td.transaction() as tx:
        created = td.webhooks.create(tx, caller, body)
    shown = WebhookOut.of(created.webhook)
    return NewWebhookOut(secret=created.secret.reveal(), **shown.model_dump())


@router.get("/webhooks/{webhook_id}")
def get_webhook(td: App, caller: Caller, webhook_id: str) -> WebhookOut:
    with td.transaction(read_only=True) as tx:
        return WebhookOut.of(td.webhooks.get(tx, caller, webhook_id))


@router.patch("/webhooks/{webhook_id}")
def edit_webhook(td: App, caller: Caller, webhook_id: str, body: WebhookUpdate) -> WebhookOut:
    with td.transaction() as tx:
        return WebhookOut.of(td.webhooks.update(tx, caller, webhook_id, body))


@router.delete("/webhooks/{webhook_id}", status_code=204)
def delete_webhook(td: App, caller: Caller, webhook_id: str) -> Response:
    with td.transaction() as tx:
        td.webhooks.delete(tx, caller, webhook_id)
    return Response(status_code=204)


@router.post("/webhooks/{webhook_id}/test")
def test_webhook(td: App, caller: Caller, webhook_id: str) -> DeliveryOut:
    """Send a signed ``webhook.test`` event to this webhook now; returns the delivery with
    its attempt (retried later like any delivery when the receiver did not take it)."""
    with td.transaction() as tx:
        delivery_id = td.webhooks.queue_test(tx, caller, webhook_id)
    td.deliverer.send(delivery_id)
    with td.transaction(read_only=True) as tx:
        return DeliveryOut.of(td.webhooks.delivery(tx, caller, webhook_id, delivery_id))


@router.get("/webhooks/{webhook_id}/deliveries")
def list_deliveries(
    td: App, caller: Caller, webhook_id: str, limit: int = Query(default=50, ge=1, le=200)
) -> list[DeliveryOut]:
    """The newest deliveries first, each with every attempt (status, duration, error)."""
    with td.transaction(read_only=True) as tx:
        return [DeliveryOut.of(d) for d in td.webhooks.deliveries(tx, caller, webhook_id, limit)]
