"""``/api/v1/webhooks``: signed notifications of token and connection events.

Administrators only (*Network settings*). The signing secret is in the answer to the
creation, and never again.
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Response

from tokendesk.services.inputs import WebhookCreate, WebhookUpdate
from tokendesk.services.webhooks import DeliveryLog
from tokendesk.views.notifications import DeliveryOut, NewWebhookOut, WebhookOut
from tokendesk.web.api.responses import error_responses
from tokendesk.web.deps import App, Caller

router = APIRouter(tags=["webhooks"], responses=error_responses())


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
        return shown(td.webhooks.delivery(tx, caller, webhook_id, delivery_id))


@router.get("/webhooks/{webhook_id}/deliveries")
def list_deliveries(
    td: App, caller: Caller, webhook_id: str, limit: int = Query(default=50, ge=1, le=200)
) -> list[DeliveryOut]:
    """The newest deliveries first, each with every attempt (status, duration, error)."""
    with td.transaction(read_only=True) as tx:
        return [shown(d) for d in td.webhooks.deliveries(tx, caller, webhook_id, limit)]


def shown(log: DeliveryLog) -> DeliveryOut:
    return DeliveryOut.of(log.delivery, log.attempts)
